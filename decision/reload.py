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

from decision.evaluate import CaseEvaluator
from decision.report import Report
from knowledge.loader import KNOWLEDGE_DIR, KnowledgeError, content_hash, load_knowledge


@dataclass(frozen=True)
class KnowledgeStatus:
    version: str
    content_hash: str
    error: list[str] | None
    """The problems of the newest edit, when it could not be used; None when the files in use are current."""


class ReloadingEvaluator:
    def __init__(self, root: Path | None = None, check_every_seconds: float = 2.0) -> None:
        self.root = (root or KNOWLEDGE_DIR).resolve()
        self.check_every_seconds = check_every_seconds
        self._lock = threading.Lock()
        self._current = CaseEvaluator(load_knowledge(self.root))
        self._seen_hash = self._current.knowledge.content_hash
        self._error: list[str] | None = None
        self._checked_at = time.monotonic()

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._checked_at < self.check_every_seconds:
            return
        self._checked_at = now
        on_disk = content_hash(self.root)
        if on_disk == self._seen_hash:
            return
        self._seen_hash = on_disk
        try:
            fresh = CaseEvaluator(load_knowledge(self.root))
        except KnowledgeError as exc:
            self._error = exc.problems
            return
        self._current = fresh
        self._error = None

    def evaluator(self) -> CaseEvaluator:
        with self._lock:
            self._refresh()
            return self._current

    def evaluate(self, case: Any, policy: str | None = None) -> Report:
        return self.evaluator().evaluate(case, policy)

    def status(self) -> KnowledgeStatus:
        with self._lock:
            self._refresh()
            knowledge = self._current.knowledge
            return KnowledgeStatus(knowledge.version, knowledge.content_hash, self._error)
