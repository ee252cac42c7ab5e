"""Cases, MDT decisions and the audit chain, in SQLite by default or any SQLAlchemy database.

`tables` is the schema, `records` what the store hands back, `audit` the signed hash chain (its key
in `audit_key`, its checkpoints in `checkpoints`), `writes` how every write takes the lock and
retries, `cases`, `decisions` and `cards` the operations, and `CaseStore` (case_store) all of them
over one database.
"""

from decision.report import NO_PROCEDURE
from decision.store.audit import GENESIS, chain_breaks, entry_hash
from decision.store.audit_key import AuditKey
from decision.store.case_store import CaseStore
from decision.store.checkpoints import Checkpoint
from decision.store.errors import AuditKeyError, StoreError, StoreUnavailable
from decision.store.records import (
    DEMO_SOURCE,
    FEEDBACK_OUTCOMES,
    AuditEntry,
    CardRecord,
    Decision,
    StoredCard,
    StoredCase,
)

__all__ = [
    "DEMO_SOURCE",
    "FEEDBACK_OUTCOMES",
    "GENESIS",
    "NO_PROCEDURE",
    "AuditEntry",
    "AuditKey",
    "AuditKeyError",
    "CardRecord",
    "CaseStore",
    "Checkpoint",
    "Decision",
    "StoreError",
    "StoreUnavailable",
    "StoredCard",
    "StoredCase",
    "chain_breaks",
    "entry_hash",
]
