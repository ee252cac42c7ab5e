"""The append-only audit trail: each entry carries the hash of the one before, so an entry
edited after it was written no longer matches its hash and a removed one breaks the chain."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.engine import Connection, Engine

from decision.store.records import AuditEntry, as_utc, now
from decision.store.tables import audit_table

GENESIS = "0" * 64
"""The hash the first entry follows."""


def entry_hash(
    prev_hash: str,
    case_id: str,
    at: dt.datetime,
    who: str,
    action: str,
    details: dict[str, Any],
    knowledge_version: str,
) -> str:
    payload = json.dumps(
        [prev_hash, case_id, as_utc(at).isoformat(), who, action, details, knowledge_version],
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def append_entry(
    conn: Connection, case_id: str, who: str, action: str, details: dict[str, Any], knowledge_version: str
) -> None:
    """Extend the chain inside the caller's transaction, so the entry commits with what it records."""
    if conn.dialect.name == "postgresql":  # one writer extends the chain at a time
        conn.execute(text("LOCK TABLE audit IN SHARE ROW EXCLUSIVE MODE"))
    last = conn.execute(select(audit_table.c.hash).order_by(audit_table.c.seq.desc()).limit(1)).first()
    prev = last[0] if last else GENESIS
    at = now()
    digest = entry_hash(prev, case_id, at, who, action, details, knowledge_version)
    conn.execute(
        insert(audit_table).values(
            case_id=case_id,
            at=at,
            who=who,
            action=action,
            details=details,
            knowledge_version=knowledge_version,
            prev_hash=prev,
            hash=digest,
        )
    )


def read_trail(engine: Engine, case_id: str | None = None) -> list[AuditEntry]:
    query = select(audit_table).order_by(audit_table.c.seq)
    if case_id:
        query = query.where(audit_table.c.case_id == case_id)
    with engine.connect() as conn:
        return [
            AuditEntry(
                seq=r.seq,
                case_id=r.case_id,
                at=as_utc(r.at),
                who=r.who,
                action=r.action,
                details=r.details,
                knowledge_version=r.knowledge_version,
                prev_hash=r.prev_hash,
                hash=r.hash,
            )
            for r in conn.execute(query)
        ]


def chain_breaks(entries: list[AuditEntry]) -> list[str]:
    """Every break in the chain: an edited entry no longer matches its hash, a deleted one breaks the link."""
    problems: list[str] = []
    prev = GENESIS
    for entry in entries:
        if entry.prev_hash != prev:
            problems.append(f"entry {entry.seq}: does not follow the previous entry (one was removed or reordered)")
        expected = entry_hash(
            entry.prev_hash,
            entry.case_id,
            entry.at,
            entry.who,
            entry.action,
            entry.details,
            entry.knowledge_version,
        )
        if expected != entry.hash:
            problems.append(f"entry {entry.seq}: its content was changed after it was written")
        prev = entry.hash
    return problems
