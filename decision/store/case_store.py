"""The one store the app, the service and the command line open: cases, decisions, issued cards
and the audit trail over one database.

Nothing here judges a case: the report stored with it comes from `decision/`.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Engine

from decision.settings import load_settings
from decision.store.audit import chain_breaks, read_trail
from decision.store.cards import IssuedCards
from decision.store.decisions import DecisionRecords
from decision.store.records import AuditEntry
from decision.store.tables import open_database


class CaseStore(DecisionRecords, IssuedCards):
    """On `url`, else the settings' database URL (SPINE_CDS_DATABASE_URL, else the SQLite file)."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or load_settings().database_url
        self.engine: Engine = open_database(self.url)

    def audit_trail(self, case_id: str | None = None) -> list[AuditEntry]:
        return read_trail(self.engine, case_id)

    def verify_audit(self) -> list[str]:
        """Every break in the chain: an edited entry no longer matches its hash, a deleted one breaks the link."""
        return chain_breaks(self.audit_trail())

    def ping(self) -> bool:
        """Whether the store answers (for a health check)."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False
