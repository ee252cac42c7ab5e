"""The store's schema (SQLAlchemy Core) and how a database is opened for it.

SQLite by default (WAL, so readers do not block the writer); any SQLAlchemy URL (PostgreSQL for a
shared MDT) works, and the tables are created on first use.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Connection, Engine

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
case_versions_table = Table(
    "case_versions",
    metadata,
    Column("id", String(60), primary_key=True),
    Column("case_id", String(40), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("saved_at", DateTime(timezone=True), nullable=False),
    Column("title", String(300), nullable=False),
    Column("case_json", JSON, nullable=False),
    Column("report_json", JSON, nullable=False),
    Column("best_status", String(40), nullable=False),
    Column("conditions", String(300), nullable=False),
    Column("knowledge_version", String(40), nullable=False),
    UniqueConstraint("case_id", "version", name="uq_case_version"),
)
"""Later versions of a stored case (2, 3, ...): saving a case again adds a row here and leaves the
`cases` row (version 1) as it was written, so every version stays readable and each matches the
digest its audit entry keeps. The store hands back the latest."""
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
    Column("records", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False, unique=True),
    Column("hash", String(64), nullable=False, unique=True),
    Column("key_id", String(16), nullable=False),
)
"""The trail. `records` names the rows an entry records (table, key, SHA-256 of the row), so an edit
of a case, report or decision is found; a unique `prev_hash` makes a fork impossible: two entries
can never follow the same one."""
audit_head_table = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("entries", Integer, nullable=False),
    Column("head_hash", String(64), nullable=False),
    Column("key_id", String(16), nullable=True),
    Column("signature", String(64), nullable=True),
)
"""One row (id 1): the count and last hash of the trail, signed. Every append locks it first (FOR
UPDATE on PostgreSQL; on SQLite the write transaction itself is the lock), so the head an entry
follows is always the latest."""
audit_checkpoints_table = Table(
    "audit_checkpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("who", String(200), nullable=False),
    Column("entries", Integer, nullable=False),
    Column("head_hash", String(64), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("signature", String(64), nullable=False),
)
"""Signed (count, head) pairs written by `spine-cds audit checkpoint`: a trail that shrinks below one
was cut."""


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


SQLITE_BUSY_TIMEOUT_SECONDS = 2.0
"""How long one SQLite transaction waits for another writer before it counts as busy (then the
store retries, within `decision.store.writes.WRITE_ATTEMPTS`)."""
WRITE_OPTION = "spine_cds_write"
"""Execution option of a connection that will write: on SQLite it begins with `BEGIN IMMEDIATE`."""


def open_database(url: str) -> Engine:
    """An engine on `url` with the store's tables created (SQLite: WAL, full sync, and transactions
    begun by the store, so a write takes the write lock before it reads the audit head).

    `hide_parameters`: a database error names its statement but never the values it carried (a
    case's JSON, a title), so no log line nor error page repeats a record."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, future=True, hide_parameters=True, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        engine = create_engine(url, future=True, hide_parameters=True)
    metadata.create_all(engine)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    connection.isolation_level = None  # the driver begins nothing itself; _sqlite_begin does
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    """A deferred transaction for reading; `BEGIN IMMEDIATE` for writing, which waits for (or fails
    on) the write lock at once instead of after the audit head was read."""
    writing = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")
