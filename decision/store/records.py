"""What the store hands back: a stored case, a decision, an audit entry, an issued card.

Times are UTC to the second; `as_utc` gives back the zone that SQLite drops.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from decision.report import Report

DEMO_SOURCE = "demo"
"""The source of the cases `spine-cds demo` seeds: the MDT list hides them unless asked."""
FEEDBACK_OUTCOMES = ("accepted", "overridden")
"""The outcomes CDS Hooks feedback may report on a card."""


@dataclass(frozen=True)
class StoredCase:
    id: str
    title: str
    source: str
    created_at: dt.datetime
    case: dict[str, Any]
    report: Report
    best_status: str
    conditions: str
    version: int = 1
    """Which save of the case this is: 1 the first, each save again under its id one more."""
    saved_at: dt.datetime | None = None
    """When this version was saved (None: the first, saved at `created_at`)."""

    @property
    def demo(self) -> bool:
        """A demo case seeded for teaching and trying the app, not a patient's."""
        return self.source == DEMO_SOURCE

    @property
    def last_saved(self) -> dt.datetime:
        return self.saved_at or self.created_at


@dataclass(frozen=True)
class Decision:
    case_id: str
    decided_at: dt.datetime
    decided_by: str
    procedure: str
    engine_status: str
    override_reason: str | None
    knowledge_version: str


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    case_id: str
    at: dt.datetime
    who: str
    action: str
    details: dict[str, Any]
    knowledge_version: str
    prev_hash: str
    hash: str
    records: tuple[dict[str, str], ...] = ()
    """The rows the entry records: table, key and the row's SHA-256 when it was written."""
    key_id: str = ""
    """The id of the audit key that signed it (empty: written before keyed entries)."""


@dataclass(frozen=True)
class CardRecord:
    """One card as issued: its uuid, what it was about, and the uuids of its suggestions."""

    card_uuid: str
    candidate: str
    indicator: str
    suggestions: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoredCard:
    """A card the CDS Hooks service issued, as the store keeps it for feedback."""

    card_uuid: str
    case_id: str
    service_id: str
    hook_instance: str
    candidate: str
    indicator: str
    suggestions: tuple[str, ...]
    issued_at: dt.datetime
    knowledge_version: str


def as_utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands datetimes back without a zone; they were stored in UTC."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)
