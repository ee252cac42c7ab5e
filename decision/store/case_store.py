"""The one store the app, the service and the command line open: cases, decisions, issued cards
and the audit trail over one database, signed with the audit key from the settings.

Nothing here judges a case: the report stored with it comes from `decision/`.
"""

from __future__ import annotations

import threading

from sqlalchemy import text
from sqlalchemy.engine import Engine

from decision.settings import Settings, load_settings
from decision.store.audit import (
    WRITTEN_BEFORE_KEYED,
    chain_breaks,
    content_breaks,
    ensure_head,
    head_breaks,
    is_keyed,
    read_trail,
    trail_key_id,
)
from decision.store.audit_key import AuditKey, resolve_audit_key
from decision.store.cards import IssuedCards
from decision.store.checkpoints import Checkpoint, checkpoint_breaks, checkpoint_count, write_checkpoint
from decision.store.decisions import DecisionRecords
from decision.store.errors import StoreError
from decision.store.records import AuditEntry
from decision.store.tables import open_database
from decision.store.writes import write


class CaseStore(DecisionRecords, IssuedCards):
    """On `url`, else the settings' database URL (SPINE_CDS_DATABASE_URL, else the SQLite file).

    The audit key is `audit_key` when given, else the settings' (SPINE_CDS_AUDIT_KEY or its key
    file), looked up on the first write or verify: a store only read needs no key.
    """

    def __init__(
        self, url: str | None = None, *, settings: Settings | None = None, audit_key: AuditKey | None = None
    ) -> None:
        self.settings = settings or load_settings()
        self.url = url or self.settings.database_url
        self.engine: Engine = open_database(self.url)
        self.keyed = is_keyed(self.engine)
        if self.keyed:
            ensure_head(self.engine)
        self._audit_key = audit_key
        self._key_lock = threading.Lock()

    def signing_key(self) -> AuditKey:
        if not self.keyed:
            raise StoreError([f"audit trail: {WRITTEN_BEFORE_KEYED}"])
        return self._key(may_create=True)

    def _key(self, may_create: bool) -> AuditKey:
        with self._key_lock:
            if self._audit_key is None:
                self._audit_key = resolve_audit_key(
                    self.settings, self.url, trail_key_id(self.engine), may_create=may_create
                )
            return self._audit_key

    def audit_trail(self, case_id: str | None = None) -> list[AuditEntry]:
        return read_trail(self.engine, case_id)

    def verify_audit(self) -> list[str]:
        """Every break: an edited entry or recorded row no longer matches its hash, a removed entry
        breaks the link after it, a cut end no longer matches the signed head or a checkpoint."""
        entries = self.audit_trail()
        if not self.keyed:
            return [f"the audit trail ({len(entries)} entries) was {WRITTEN_BEFORE_KEYED}"]
        recorded = content_breaks(self.engine, entries)
        if not entries and trail_key_id(self.engine) is None and not checkpoint_count(self.engine):
            return recorded  # nothing signed yet: no key needed to say so
        key = self._key(may_create=False)
        return (
            chain_breaks(entries, key)
            + recorded
            + head_breaks(self.engine, entries, key)
            + checkpoint_breaks(self.engine, entries, key)
        )

    def checkpoint(self, who: str) -> Checkpoint:
        """A signed count and head of the trail as it is now; verify finds a trail cut below it."""
        key = self.signing_key()
        return write(self.engine, lambda conn: write_checkpoint(conn, key, who))

    def ping(self) -> bool:
        """Whether the store answers (for a health check)."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False
