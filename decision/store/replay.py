"""The `jti`s of the CDS clients' tokens already used, in the store's database, so that a token
replayed to another worker of the service, or after a restart, is refused as well.

CDS Hooks 2.0 asks a service to refuse a JWT whose `jti` it has seen. A memory of one process does
not do that behind a load balancer; the database every replica shares does: the second insert of
one (issuer, jti) fails on the primary key, atomically, whichever process tries it. A row is kept
until its token has expired (then the token is refused for its `exp` anyway) and purged after.

The key is a hash of issuer and jti: the jti is the caller's text, of any length and content, and
nothing of it needs to be read back.
"""

from __future__ import annotations

import hashlib
import threading

from sqlalchemy import Column, Float, MetaData, String, Table, delete, insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from decision.store.writes import write

replay_metadata = MetaData()
used_tokens_table = Table(
    "cds_used_tokens",
    replay_metadata,
    Column("token_key", String(64), primary_key=True),
    Column("expires_at", Float, nullable=False, index=True),
)
"""One row per (issuer, jti) seen: SHA-256 of both, and the token's `exp` (seconds since the epoch)."""

PURGE_EVERY = 200
"""Rows of expired tokens are deleted on every this many first uses (one DELETE on the indexed `exp`)."""


class UsedTokens:
    """The shared memory of used tokens on `engine` (the case store's); the table is created on first use."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        replay_metadata.create_all(engine)
        self._count = 0
        self._count_lock = threading.Lock()

    def first_use(self, issuer: str, jti: str, expires_at: float, purge_before: float) -> bool:
        """Records the token as used; False when it had been used before (by any process on this database).
        Now and then rows of tokens that expired before `purge_before` are deleted."""
        key = hashlib.sha256(f"{issuer}\n{jti}".encode()).hexdigest()
        with self._count_lock:
            self._count += 1
            purge = self._count % PURGE_EVERY == 1

        def record(conn: Connection) -> None:
            if purge:
                conn.execute(delete(used_tokens_table).where(used_tokens_table.c.expires_at < purge_before))
            conn.execute(insert(used_tokens_table).values(token_key=key, expires_at=expires_at))

        try:
            write(self.engine, record)
        except IntegrityError:
            return False
        return True
