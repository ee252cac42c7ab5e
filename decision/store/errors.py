"""The store's refusals: `ProblemError`s, so the command line, the service and the UI report them
the way they report every other input they refuse."""

from __future__ import annotations

from knowledge.problems import ProblemError


class StoreError(ProblemError):
    """A request the store refuses; each problem says what to change (a name, a reason, a card)."""

    title = "the store refused the request"


class StoreUnavailable(StoreError):
    """The store cannot write now (busy beyond the retry bound, unreachable, or without its audit key):
    nothing was stored, and the request may be sent again once the cause is fixed."""

    title = "the case store cannot write now"


class AuditKeyError(StoreUnavailable):
    """No usable audit key: each problem says where the key was looked for and how to provide it."""

    title = "no usable audit key"
