"""Checkpoints of the audit trail: a signed (count, head hash) written by `spine-cds audit checkpoint`.

Verify checks each one against the trail, so a trail cut after a checkpoint is found even when the
head row was put back as it was before the cut. The line the command prints can be kept outside
the database too (the MDT's minutes), for the case where the checkpoints themselves are removed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection, Engine

from decision.store.audit import HEAD_ID
from decision.store.audit_key import AuditKey
from decision.store.errors import StoreError
from decision.store.records import AuditEntry, now
from decision.store.tables import audit_checkpoints_table, audit_head_table


@dataclass(frozen=True)
class Checkpoint:
    number: int
    entries: int
    head_hash: str
    signature: str


def checkpoint_signature(key: AuditKey, entries: int, head_hash: str) -> str:
    payload = json.dumps(["checkpoint", entries, head_hash], separators=(",", ":")).encode()
    return hmac.new(key.secret, payload, hashlib.sha256).hexdigest()


def write_checkpoint(conn: Connection, key: AuditKey, who: str) -> Checkpoint:
    """The current head, signed, inside the caller's write transaction (so no entry lands between
    reading the head and signing it)."""
    head = conn.execute(
        select(audit_head_table).where(audit_head_table.c.id == HEAD_ID).with_for_update()
    ).one_or_none()
    if head is None:
        raise StoreError(["audit trail: its head row is missing; run `spine-cds audit verify`"])
    signature = checkpoint_signature(key, head.entries, head.head_hash)
    inserted = conn.execute(
        insert(audit_checkpoints_table).values(
            at=now(),
            who=who,
            entries=head.entries,
            head_hash=head.head_hash,
            key_id=key.key_id,
            signature=signature,
        )
    )
    (number,) = inserted.inserted_primary_key or (0,)
    return Checkpoint(int(number), head.entries, head.head_hash, signature)


def checkpoint_breaks(engine: Engine, entries: list[AuditEntry], key: AuditKey) -> list[str]:
    """Each checkpoint against the trail: its signature, its count, and the entry it signed."""
    with engine.connect() as conn:
        rows = list(conn.execute(select(audit_checkpoints_table).order_by(audit_checkpoints_table.c.id)))
    problems = []
    for row in rows:
        expected = checkpoint_signature(key, row.entries, row.head_hash)
        if not hmac.compare_digest(expected, row.signature):
            problems.append(f"checkpoint {row.id}: its signature does not match (edited, or signed with another key)")
            continue
        if len(entries) < row.entries:
            problems.append(
                f"entries removed after checkpoint {row.id}: it signed {row.entries} entries, "
                f"the trail has {len(entries)}"
            )
        elif row.entries and entries[row.entries - 1].hash != row.head_hash:
            problems.append(
                f"checkpoint {row.id}: entry {row.entries} of the trail is not the one it signed "
                "(entries removed or replaced before it)"
            )
    return problems


def checkpoint_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_checkpoints_table)).scalar_one())
