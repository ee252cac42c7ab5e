"""The store's refusal: a `ProblemError`, so the command line, the service and the UI report it
the way they report every other input they refuse."""

from __future__ import annotations

from knowledge.problems import ProblemError


class StoreError(ProblemError):
    """A request the store refuses; each problem says what to change (a name, a reason, a card)."""

    title = "the store refused the request"
