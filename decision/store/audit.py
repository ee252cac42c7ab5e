"""The append-only audit trail, signed with a key kept outside the database.

Each entry carries the HMAC of its content, the previous entry's hash and the SHA-256 of each row
it records (the case with its report, the decision, the cards issued; feedback is recorded in the
entry itself). So an edited entry or row no longer matches, a removed entry breaks the link after
it, and without the key none of it can be recomputed. The head (count and last hash) is one
signed row that every append locks first: two writers can never extend the same head, and the
unique previous hash refuses a fork even if they tried. A trail cut at its end no longer matches
the signed head, nor the count of a checkpoint (`spine-cds audit checkpoint`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, insert, inspect, select, update
from sqlalchemy.engine import Connection, Engine

from decision.store.audit_key import AuditKey
from decision.store.errors import AuditKeyError, StoreError
from decision.store.records import AuditEntry, as_utc, now
from decision.store.tables import (
    audit_head_table,
    audit_table,
    case_versions_table,
    cases_table,
    cds_cards_table,
    decisions_table,
)
from decision.store.writes import write

GENESIS = "0" * 64
"""The hash the first entry follows."""
HEAD_ID = 1
RECORDED_TABLES: dict[str, Table] = {
    "cases": cases_table,
    "case_versions": case_versions_table,
    "decisions": decisions_table,
    "cds_cards": cds_cards_table,
}
"""The tables whose rows an entry records by their SHA-256, and verify checks against the row."""
WRITTEN_BEFORE_KEYED = (
    "written before keyed entries: this trail's hashes are unkeyed SHA-256, which anyone with the file "
    "can recompute, so it cannot show it was not rewritten; keep the file as the record and start a new "
    "database (SPINE_CDS_DATABASE_URL) for new entries"
)


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_plain).encode()


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return as_utc(value).isoformat()
    raise TypeError(f"{type(value).__name__} is not stored in the audit trail")


def entry_hash(
    key: AuditKey,
    prev_hash: str,
    case_id: str,
    at: dt.datetime,
    who: str,
    action: str,
    details: dict[str, Any],
    knowledge_version: str,
    records: Sequence[dict[str, str]] = (),
) -> str:
    """HMAC-SHA256 (the audit key) of the entry, the hash it follows and the rows it records."""
    payload = [prev_hash, case_id, as_utc(at).isoformat(), who, action, details, knowledge_version, list(records)]
    return hmac.new(key.secret, _canonical(payload), hashlib.sha256).hexdigest()


def head_signature(key: AuditKey, entries: int, head_hash: str) -> str:
    return hmac.new(key.secret, _canonical(["head", entries, head_hash]), hashlib.sha256).hexdigest()


def row_digest(table: Table, row: Any) -> str:
    """SHA-256 of every column of a stored row (datetimes as UTC), as the database gives it back."""
    values = {column.name: getattr(row, column.name) for column in table.columns}
    return hashlib.sha256(_canonical(values)).hexdigest()


def recorded_row(conn: Connection, table_name: str, key: Any) -> dict[str, str]:
    """The reference an entry keeps to a row it records: which table, which row, its digest now."""
    table = RECORDED_TABLES[table_name]
    (primary,) = table.primary_key.columns
    row = conn.execute(select(table).where(primary == key)).one()
    return {"table": table_name, "key": str(key), "sha256": row_digest(table, row)}


def is_keyed(engine: Engine) -> bool:
    """Whether the trail has the keyed format (a trail written before it has no `key_id` column)."""
    columns = {column["name"] for column in inspect(engine).get_columns("audit")}
    return "key_id" in columns


def trail_key_id(engine: Engine) -> str | None:
    """The id of the key the trail is signed with; None while it has no entry."""
    with engine.connect() as conn:
        return conn.execute(select(audit_head_table.c.key_id).where(audit_head_table.c.id == HEAD_ID)).scalar()


def ensure_head(engine: Engine) -> None:
    """The head row, created once (a second process creating it at the same time is no error)."""

    def create(conn: Connection) -> None:
        if conn.execute(select(audit_head_table.c.id)).first() is None:
            conn.execute(insert(audit_head_table).values(id=HEAD_ID, entries=0, head_hash=GENESIS))

    write(engine, create)


def append_entry(
    conn: Connection,
    key: AuditKey,
    case_id: str,
    who: str,
    action: str,
    details: dict[str, Any],
    knowledge_version: str,
    records: Sequence[dict[str, str]] = (),
) -> None:
    """Extend the chain inside the caller's write transaction, so the entry commits with what it
    records. The head row is read locked (FOR UPDATE; on SQLite the transaction began IMMEDIATE)."""
    head = conn.execute(
        select(audit_head_table).where(audit_head_table.c.id == HEAD_ID).with_for_update()
    ).one_or_none()
    if head is None:
        raise StoreError(["audit trail: its head row is missing; run `spine-cds audit verify`"])
    if head.key_id is not None and head.key_id != key.key_id:
        raise AuditKeyError(
            [
                f"audit key: the trail is signed with key {head.key_id}, this process has key {key.key_id} "
                f"({key.origin}); configure the key the other writers use"
            ]
        )
    at = now()
    digest = entry_hash(key, head.head_hash, case_id, at, who, action, details, knowledge_version, records)
    conn.execute(
        insert(audit_table).values(
            case_id=case_id,
            at=at,
            who=who,
            action=action,
            details=details,
            knowledge_version=knowledge_version,
            records=list(records),
            prev_hash=head.head_hash,
            hash=digest,
            key_id=key.key_id,
        )
    )
    entries = head.entries + 1
    conn.execute(
        update(audit_head_table)
        .where(audit_head_table.c.id == HEAD_ID)
        .values(entries=entries, head_hash=digest, key_id=key.key_id, signature=head_signature(key, entries, digest))
    )


def read_trail(engine: Engine, case_id: str | None = None) -> list[AuditEntry]:
    keyed = is_keyed(engine)
    columns = [c for c in audit_table.columns if keyed or c.name not in ("records", "key_id")]
    query = select(*columns).order_by(audit_table.c.seq)
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
                records=tuple(r.records) if keyed else (),
                key_id=r.key_id if keyed else "",
            )
            for r in conn.execute(query)
        ]


def chain_breaks(entries: list[AuditEntry], key: AuditKey) -> list[str]:
    """Every break in the chain: an edited entry no longer matches its hash, a deleted one breaks the link."""
    problems: list[str] = []
    prev = GENESIS
    for entry in entries:
        if entry.prev_hash != prev:
            problems.append(f"entry {entry.seq}: does not follow the previous entry (one was removed or reordered)")
        if entry.key_id != key.key_id:
            problems.append(f"entry {entry.seq}: signed with key {entry.key_id}, not with this key ({key.key_id})")
        else:
            expected = entry_hash(
                key,
                entry.prev_hash,
                entry.case_id,
                entry.at,
                entry.who,
                entry.action,
                entry.details,
                entry.knowledge_version,
                entry.records,
            )
            if not hmac.compare_digest(expected, entry.hash):
                problems.append(f"entry {entry.seq}: its content was changed after it was written")
        prev = entry.hash
    return problems


def head_breaks(engine: Engine, entries: list[AuditEntry], key: AuditKey) -> list[str]:
    """The signed head against the trail: a cut or extended end no longer matches it."""
    with engine.connect() as conn:
        head = conn.execute(select(audit_head_table).where(audit_head_table.c.id == HEAD_ID)).one_or_none()
    last = entries[-1].hash if entries else GENESIS
    if head is None:
        return ["audit head: missing (removed after it was written)"] if entries else []
    if head.entries == 0 and head.signature is None:
        return [] if not entries else [f"audit head: says the trail is empty, it has {len(entries)} entries"]
    problems = []
    if head.signature is None or not hmac.compare_digest(
        head_signature(key, head.entries, head.head_hash), head.signature
    ):
        problems.append("audit head: its signature does not match (edited, or signed with another key)")
    if head.entries != len(entries) or head.head_hash != last:
        problems.append(
            f"audit head: signed for {head.entries} entries ending {head.head_hash[:12]}, the trail has "
            f"{len(entries)} ending {last[:12]} (entries removed or added outside spine-cds)"
        )
    return problems


def content_breaks(engine: Engine, entries: list[AuditEntry]) -> list[str]:
    """Each recorded row against the digest its entry keeps; a row no entry records was added outside."""
    problems: list[str] = []
    recorded: dict[str, set[str]] = {name: set() for name in RECORDED_TABLES}
    with engine.connect() as conn:
        rows = {
            name: {
                str(getattr(row, next(iter(table.primary_key.columns)).name)): row
                for row in conn.execute(select(table))
            }
            for name, table in RECORDED_TABLES.items()
        }
    for entry in entries:
        for ref in entry.records:
            name, key = ref.get("table", ""), ref.get("key", "")
            if name not in RECORDED_TABLES:
                problems.append(f"entry {entry.seq}: records an unknown table {name!r}")
                continue
            recorded[name].add(key)
            row = rows[name].get(key)
            if row is None:
                problems.append(f"entry {entry.seq}: its {_row_label(name, key)} was removed")
            elif not hmac.compare_digest(row_digest(RECORDED_TABLES[name], row), ref.get("sha256", "")):
                problems.append(f"entry {entry.seq}: its {_row_label(name, key)} was changed after it was written")
    for name, stored in rows.items():
        for key in sorted(set(stored) - recorded[name]):
            problems.append(f"{_row_label(name, key)}: no audit entry records it (added outside spine-cds)")
    return problems


def _row_label(table_name: str, key: str) -> str:
    labels = {"cases": "case", "case_versions": "case version", "decisions": "decision", "cds_cards": "issued card"}
    return labels[table_name] + f" {key}"
