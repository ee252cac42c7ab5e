"""Knowledge edits picked up without a restart, and a broken edit never taking a service down.

A running app or service keeps answering with the last knowledge that loaded and compiled; when
the files change it builds a new evaluator beside the old one and swaps it in only if it works
(durable-rules cannot unregister rulesets, so each build has its own host and ruleset names).
A broken edit is reported (`status().error`) until it is fixed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from decision.engine import EngineClosed
from decision.evaluator import CaseEvaluator
from decision.report import Report
from knowledge.loader import KNOWLEDGE_DIR, KnowledgeError, content_hash, load_knowledge


@dataclass(frozen=True)
class KnowledgeStatus:
    version: str
    content_hash: str
    error: list[str] | None
    """The problems of the newest edit, when it could not be used; None when the files in use are current."""


class ReloadingEvaluator:
    """The last good knowledge, rebuilt beside the running one when its files change.

    The rebuild (load and compile, about a second) runs outside the lock, so evaluations carry on
    with the current knowledge meanwhile; one caller builds, the others do not wait for it. The
    replaced evaluator's rulesets are freed once it is swapped out, so reloads do not grow memory.
    """

    def __init__(self, root: Path | None = None, check_every_seconds: float = 2.0) -> None:
        self.root = (root or KNOWLEDGE_DIR).resolve()
        self.check_every_seconds = check_every_seconds
        self._lock = threading.Lock()
        self._current = CaseEvaluator(load_knowledge(self.root))
        self._seen_hash = self._current.knowledge.content_hash
        self._error: list[str] | None = None
        self._checked_at = time.monotonic()
        self._building = False
        self.replaced = 0
        """How many evaluators were swapped out (and freed)."""

    def _claim_rebuild(self) -> str | None:
        """Under the lock: the content hash to build, when the files changed and nobody builds."""
        now = time.monotonic()
        if self._building or now - self._checked_at < self.check_every_seconds:
            return None
        self._checked_at = now
        on_disk = content_hash(self.root)
        if on_disk == self._seen_hash:
            return None
        self._seen_hash = on_disk
        self._building = True
        return on_disk

    def _refresh(self) -> None:
        with self._lock:
            claimed = self._claim_rebuild()
        if claimed is None:
            return
        fresh: CaseEvaluator | None = None
        error: list[str] | None = None
        try:
            fresh = CaseEvaluator(load_knowledge(self.root))
        except KnowledgeError as exc:
            error = exc.problems
        finally:
            with self._lock:
                self._building = False
                old = None
                if fresh is not None:
                    old, self._current = self._current, fresh
                self._error = error
        if old is not None:
            old.close()
            self.replaced += 1

    def evaluator(self) -> CaseEvaluator:
        self._refresh()
        with self._lock:
            return self._current

    def evaluate(self, case: Any, policy: str | None = None) -> Report:
        try:
            return self.evaluator().evaluate(case, policy)
        except EngineClosed:  # swapped out between fetching it and firing: the new one answers
            with self._lock:
                current = self._current
            return current.evaluate(case, policy)

    def status(self) -> KnowledgeStatus:
        self._refresh()
        with self._lock:
            knowledge = self._current.knowledge
            return KnowledgeStatus(knowledge.version, knowledge.content_hash, self._error)


_shared: ReloadingEvaluator | None = None
_shared_lock = threading.Lock()


def shared_reloader() -> ReloadingEvaluator:
    """The process's reloading evaluator of the shipped knowledge: the app and the service share
    it, so both pick up a release the same way and both say when an edit could not be used."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ReloadingEvaluator()
        return _shared
