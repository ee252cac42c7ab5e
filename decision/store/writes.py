"""Every write of the store: one transaction that holds the write lock from its first statement,
tried again a bounded number of times when the database is busy, and a clear refusal after that.

SQLite lets one writer in at a time; a second one waits up to `SQLITE_BUSY_TIMEOUT_SECONDS`, then
is told the database is busy, and is tried again here. On PostgreSQL a write waits on the locked
audit head instead. Either way a write that cannot get through within the bound raises
`StoreUnavailable` (the service answers 503), and nothing half-written is left behind.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import weakref
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from decision.store.errors import StoreUnavailable
from decision.store.tables import SQLITE_BUSY_TIMEOUT_SECONDS, WRITE_OPTION

logger = logging.getLogger("spine_cds.store")
Result = TypeVar("Result")
WRITE_ATTEMPTS = 4
"""Tries of one write before it is refused (each waits up to the SQLite busy timeout)."""
WRITE_WAIT_SECONDS = SQLITE_BUSY_TIMEOUT_SECONDS
"""How long one try waits for the write lock."""
RETRY_PAUSE_SECONDS = 0.05

_queues: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_queues_lock = threading.Lock()


def write(engine: Engine, work: Callable[[Connection], Result]) -> Result:
    """`work` in one write transaction, committed whole or not at all; retried while the database
    is busy or another writer extended the audit trail first (its unique previous hash refuses
    the second of two entries that would follow the same one).

    The writers of one process queue on a lock of their own, so one of them at a time waits on
    the database: twenty threads polling SQLite's lock while its holder waited for the interpreter
    made writes time out under 20 hook calls in flight. Other processes are kept out by the
    database (SQLite's write lock, PostgreSQL's locked head row)."""
    queue = _process_queue(engine)
    if not queue.acquire(timeout=WRITE_ATTEMPTS * WRITE_WAIT_SECONDS):
        raise _unavailable("other writers of this process held the store")
    try:
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with engine.connect() as conn:
                    conn.execution_options(**{WRITE_OPTION: True})
                    with conn.begin():
                        return work(conn)
            except (OperationalError, IntegrityError) as exc:
                if isinstance(exc, IntegrityError) and not _lost_race(exc):
                    raise
                logger.warning(json.dumps({"event": "store_busy", "attempt": attempt, "error": type(exc).__name__}))
                if attempt < WRITE_ATTEMPTS:
                    time.sleep(RETRY_PAUSE_SECONDS * attempt * (1 + random.random()))
    finally:
        queue.release()
    raise _unavailable("the database stayed busy or unreachable")


def _process_queue(engine: Engine) -> threading.Lock:
    with _queues_lock:
        queue = _queues.get(engine)
        if queue is None:
            queue = _queues[engine] = threading.Lock()
        return queue


def _unavailable(cause: str) -> StoreUnavailable:
    return StoreUnavailable(
        [
            f"{cause} for {WRITE_ATTEMPTS} attempts of up to {WRITE_WAIT_SECONDS:g} s each: nothing was stored, "
            "try again. A store written by many callers at once belongs on PostgreSQL (SPINE_CDS_DATABASE_URL)"
        ]
    )


def _lost_race(error: IntegrityError) -> bool:
    """Another writer extended the audit trail first (the unique previous hash or the head row)."""
    message = str(error.orig)
    return "prev_hash" in message or "audit_head" in message
