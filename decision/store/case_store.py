"""The one store the app, the service and the command line open: cases, decisions, issued cards
and the audit trail over one database.

Nothing here judges a case: the report stored with it comes from `decision/`.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

from decision.store.audit import chain_breaks, read_trail
from decision.store.cards import IssuedCards
from decision.store.decisions import DecisionRecords
from decision.store.records import AuditEntry
from decision.store.tables import open_database

DEFAULT_PATH = Path(__file__).resolve().parent.parent.parent / "spine-cds.sqlite"
"""`spine-cds.sqlite` in the project folder, as the README says."""


def database_url() -> str:
    return os.environ.get("SPINE_CDS_DATABASE_URL") or f"sqlite:///{DEFAULT_PATH}"


class CaseStore(DecisionRecords, IssuedCards):
    """SQLite file by default; any SQLAlchemy URL (PostgreSQL for a shared MDT)."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or database_url()
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
