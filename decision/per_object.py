"""A value worked out once per knowledge or vocabulary object and kept beside it.

The field catalogue, the red-flag fields and the fields' names are read from the knowledge in use,
which a reload (or a folder under review) replaces. So a value is kept with the very object it was
worked out from (an id may be reused once its object is freed: the object itself is compared), and
the store is bounded: an app that reloads its knowledge many times keeps only the last few.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

Owner = TypeVar("Owner")
Value = TypeVar("Value")


class PerObject(Generic[Owner, Value]):
    """`build(owner)` once per owner object; at most `keep` owners remembered at a time."""

    def __init__(self, build: Callable[[Owner], Value], keep: int = 8) -> None:
        self._build = build
        self._keep = keep
        self._kept: dict[int, tuple[Owner, Value]] = {}

    def __call__(self, owner: Owner) -> Value:
        kept = self._kept.get(id(owner))
        if kept is None or kept[0] is not owner:
            if len(self._kept) >= self._keep:  # reloads replace the owner: keep the store bounded
                self._kept.clear()
            kept = self._kept[id(owner)] = (owner, self._build(owner))
        return kept[1]
