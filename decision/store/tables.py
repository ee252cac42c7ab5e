"""The store's schema (SQLAlchemy Core) and how a database is opened for it.

SQLite by default (WAL, so readers do not block the writer); any SQLAlchemy URL (PostgreSQL for a
shared MDT) works, and the tables are created on first use.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table, Text, create_engine, event
from sqlalchemy.engine import Engine

metadata = MetaData()
cases_table = Table(
    "cases",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("title", String(300), nullable=False),
    Column("source", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("case_json", JSON, nullable=False),
    Column("report_json", JSON, nullable=False),
    Column("best_status", String(40), nullable=False),
    Column("conditions", String(300), nullable=False),
    Column("knowledge_version", String(40), nullable=False),
)
decisions_table = Table(
    "decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(40), nullable=False, index=True),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("decided_by", String(200), nullable=False),
    Column("procedure", String(200), nullable=False),
    Column("engine_status", String(40), nullable=False),
    Column("override_reason", Text, nullable=True),
    Column("knowledge_version", String(40), nullable=False),
)
audit_table = Table(
    "audit",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(40), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("who", String(200), nullable=False),
    Column("action", String(60), nullable=False),
    Column("details", JSON, nullable=False),
    Column("knowledge_version", String(40), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)


cds_cards_table = Table(
    "cds_cards",
    metadata,
    Column("card_uuid", String(64), primary_key=True),
    Column("case_id", String(40), nullable=False, index=True),
    Column("service_id", String(100), nullable=False),
    Column("hook_instance", String(64), nullable=False),
    Column("candidate", String(300), nullable=False),
    Column("indicator", String(20), nullable=False),
    Column("suggestions", JSON, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("knowledge_version", String(40), nullable=False),
)
"""Cards issued by the CDS Hooks service, so that feedback on a card reaches the case it was about."""


def open_database(url: str) -> Engine:
    """An engine on `url` with the store's tables created (SQLite: WAL and full sync)."""
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    metadata.create_all(engine)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()
