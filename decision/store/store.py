"""The case store for MDT meetings: cases, decisions and an append-only, hash-chained audit trail.

SQLite file by default (WAL, so readers do not block the writer); any SQLAlchemy URL (PostgreSQL
for a shared MDT) through SPINE_CDS_DATABASE_URL. Nothing here judges a case: the report stored
with it comes from `decision/`. Case ids are random tokens, so a link that carries one reveals
nothing about the patient.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
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
    create_engine,
    event,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Engine

from decision.report import Report

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "spine-cds.sqlite"
NO_PROCEDURE = "none"
GENESIS = "0" * 64

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


class StoreError(ValueError):
    """A request the store refuses, with a reason the user can act on."""


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


FEEDBACK_OUTCOMES = ("accepted", "overridden")


def database_url() -> str:
    return os.environ.get("SPINE_CDS_DATABASE_URL") or f"sqlite:///{DEFAULT_PATH}"


def _entry_hash(
    prev_hash: str,
    case_id: str,
    at: dt.datetime,
    who: str,
    action: str,
    details: dict[str, Any],
    knowledge_version: str,
) -> str:
    payload = json.dumps(
        [prev_hash, case_id, _utc(at).isoformat(), who, action, details, knowledge_version],
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands datetimes back without a zone; they were stored in UTC."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def candidate_label(procedure: str, approach: str | None, region: str | None) -> str:
    return "/".join(part or "-" for part in (procedure, approach, region))


class CaseStore:
    def __init__(self, url: str | None = None) -> None:
        self.url = url or database_url()
        self.engine: Engine = create_engine(self.url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        metadata.create_all(self.engine)

    # -- cases ------------------------------------------------------------------------------
    def save_case(
        self,
        case: dict[str, Any],
        report: Report,
        title: str,
        who: str,
        source: str = "clinician",
        case_id: str | None = None,
    ) -> str:
        new_id = case_id or secrets.token_urlsafe(12)
        conditions = sorted({d.get("condition") or "unknown" for d in case.get("diagnoses") or []})
        best = report.candidates[0].status if report.candidates else "not_indicated"
        with self.engine.begin() as conn:
            conn.execute(
                insert(cases_table).values(
                    id=new_id,
                    title=title[:300] or "(untitled)",
                    source=source,
                    created_at=_now(),
                    case_json=case,
                    report_json=json.loads(report.model_dump_json()),
                    best_status=best,
                    conditions=", ".join(conditions),
                    knowledge_version=report.knowledge_version,
                )
            )
            self._append_audit(
                conn,
                new_id,
                who,
                "case saved",
                {"title": title, "best_status": best, "policy": report.policy},
                report.knowledge_version,
            )
        return new_id

    def seed_demo_cases(self, demos: dict[str, dict[str, Any]], evaluate: Any) -> int:
        """Store each demo case once (idempotent): the MDT list opens with something to review."""
        with self.engine.connect() as conn:
            existing = {row[0] for row in conn.execute(select(cases_table.c.id))}
        added = 0
        for demo_id, demo in demos.items():
            if demo_id in existing:
                continue
            self.save_case(demo["case"], evaluate(demo["case"]), demo["title"], "demo seed", "demo", demo_id)
            added += 1
        return added

    def get_case(self, case_id: str) -> StoredCase | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(cases_table).where(cases_table.c.id == case_id)).first()
        return self._case(row) if row else None

    def list_cases(
        self, status: str | None = None, condition: str | None = None, since: dt.date | None = None
    ) -> list[StoredCase]:
        query = select(cases_table).order_by(cases_table.c.created_at.desc(), cases_table.c.id)
        if status:
            query = query.where(cases_table.c.best_status == status)
        if condition:
            query = query.where(cases_table.c.conditions.contains(condition))
        if since:
            query = query.where(cases_table.c.created_at >= dt.datetime.combine(since, dt.time(), dt.UTC))
        with self.engine.connect() as conn:
            return [self._case(row) for row in conn.execute(query)]

    @staticmethod
    def _case(row: Any) -> StoredCase:
        return StoredCase(
            id=row.id,
            title=row.title,
            source=row.source,
            created_at=_utc(row.created_at),
            case=row.case_json,
            report=Report.model_validate(row.report_json),
            best_status=row.best_status,
            conditions=row.conditions,
        )

    # -- decisions --------------------------------------------------------------------------
    def record_decision(
        self, case_id: str, procedure: str, decided_by: str, override_reason: str | None = None
    ) -> Decision:
        """The meeting's decision; an override reason is required when it differs from the engine's."""
        stored = self.get_case(case_id)
        if stored is None:
            raise StoreError(f"case {case_id!r} is not in the store")
        if not decided_by.strip():
            raise StoreError("who decided: a name is required")
        engine_status = self.engine_status(stored.report, procedure)
        reason = (override_reason or "").strip() or None
        if self.differs_from_engine(stored.report, procedure) and not reason:
            raise StoreError(
                f"the decision ({procedure}) differs from the engine's ({engine_status}); give an override reason"
            )
        decided = Decision(
            case_id=case_id,
            decided_at=_now(),
            decided_by=decided_by.strip(),
            procedure=procedure,
            engine_status=engine_status,
            override_reason=reason,
            knowledge_version=stored.report.knowledge_version,
        )
        with self.engine.begin() as conn:
            conn.execute(
                insert(decisions_table).values(
                    case_id=case_id,
                    decided_at=decided.decided_at,
                    decided_by=decided.decided_by,
                    procedure=procedure,
                    engine_status=engine_status,
                    override_reason=reason,
                    knowledge_version=decided.knowledge_version,
                )
            )
            self._append_audit(
                conn,
                case_id,
                decided.decided_by,
                "decision recorded",
                {"procedure": procedure, "engine_status": engine_status, "override_reason": reason},
                decided.knowledge_version,
            )
        return decided

    @staticmethod
    def engine_status(report: Report, procedure: str) -> str:
        if procedure == NO_PROCEDURE:
            return "indicated candidates exist" if CaseStore._indicated(report) else "none indicated"
        for cand in report.candidates:
            if candidate_label(cand.procedure, cand.approach, cand.region) == procedure:
                return cand.status
        return "not considered"

    @staticmethod
    def _indicated(report: Report) -> list[str]:
        return [
            candidate_label(c.procedure, c.approach, c.region)
            for c in report.candidates
            if c.status in ("indicated", "indicated_with_caution")
        ]

    @staticmethod
    def differs_from_engine(report: Report, procedure: str) -> bool:
        indicated = CaseStore._indicated(report)
        if procedure == NO_PROCEDURE:
            return bool(indicated)
        return procedure not in indicated

    def decisions(self, case_id: str | None = None) -> list[Decision]:
        query = select(decisions_table).order_by(decisions_table.c.id)
        if case_id:
            query = query.where(decisions_table.c.case_id == case_id)
        with self.engine.connect() as conn:
            return [
                Decision(
                    case_id=r.case_id,
                    decided_at=_utc(r.decided_at),
                    decided_by=r.decided_by,
                    procedure=r.procedure,
                    engine_status=r.engine_status,
                    override_reason=r.override_reason,
                    knowledge_version=r.knowledge_version,
                )
                for r in conn.execute(query)
            ]

    # -- CDS Hooks cards and their feedback ----------------------------------------------------
    def record_issued_cards(
        self, case_id: str, service_id: str, hook_instance: str, cards: list[CardRecord], who: str
    ) -> None:
        """The cards shown for a stored case; the audit says which, so a decision can be traced."""
        stored = self.get_case(case_id)
        if stored is None:
            raise StoreError(f"case {case_id!r} is not in the store")
        version = stored.report.knowledge_version
        with self.engine.begin() as conn:
            for card in cards:
                conn.execute(
                    insert(cds_cards_table).values(
                        card_uuid=card.card_uuid,
                        case_id=case_id,
                        service_id=service_id,
                        hook_instance=hook_instance,
                        candidate=card.candidate[:300],
                        indicator=card.indicator,
                        suggestions=list(card.suggestions),
                        issued_at=_now(),
                        knowledge_version=version,
                    )
                )
            self._append_audit(
                conn,
                case_id,
                who,
                "CDS Hooks cards issued",
                {
                    "service": service_id,
                    "hook_instance": hook_instance,
                    "cards": [{"card": c.card_uuid, "candidate": c.candidate, "indicator": c.indicator} for c in cards],
                },
                version,
            )

    def issued_card(self, card_uuid: str) -> StoredCard | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(cds_cards_table).where(cds_cards_table.c.card_uuid == card_uuid)).first()
        if row is None:
            return None
        return StoredCard(
            card_uuid=row.card_uuid,
            case_id=row.case_id,
            service_id=row.service_id,
            hook_instance=row.hook_instance,
            candidate=row.candidate,
            indicator=row.indicator,
            suggestions=tuple(row.suggestions),
            issued_at=_utc(row.issued_at),
            knowledge_version=row.knowledge_version,
        )

    def record_feedback(
        self,
        card_uuid: str,
        outcome: str,
        accepted_suggestions: list[str],
        override_reason: dict[str, str] | None,
        user_comment: str | None,
        outcome_timestamp: str,
        who: str = "CDS Hooks client",
    ) -> None:
        """What the clinician did with a card (CDS Hooks feedback), appended to the audit trail
        the MDT page verifies. Refuses a card this store did not issue or a suggestion not on it."""
        card = self.issued_card(card_uuid)
        if card is None:
            raise StoreError(f"card {card_uuid!r} was not issued by this service")
        if outcome not in FEEDBACK_OUTCOMES:
            raise StoreError(f"outcome: expected one of {', '.join(FEEDBACK_OUTCOMES)}, got {outcome!r}")
        strangers = [s for s in accepted_suggestions if s not in card.suggestions]
        if strangers:
            raise StoreError(f"accepted suggestions not on card {card_uuid}: {', '.join(strangers)}")
        details: dict[str, Any] = {
            "card": card_uuid,
            "service": card.service_id,
            "candidate": card.candidate,
            "outcome": outcome,
            "accepted_suggestions": list(accepted_suggestions),
            "override_reason": dict(override_reason) if override_reason else None,
            "user_comment": (user_comment or "").strip() or None,
            "outcome_timestamp": outcome_timestamp,
        }
        with self.engine.begin() as conn:
            self._append_audit(conn, card.case_id, who, "CDS Hooks feedback", details, card.knowledge_version)

    def ping(self) -> bool:
        """Whether the store answers (for a health check)."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    # -- audit ------------------------------------------------------------------------------
    def _append_audit(
        self, conn: Any, case_id: str, who: str, action: str, details: dict[str, Any], knowledge_version: str
    ) -> None:
        if conn.dialect.name == "postgresql":  # one writer extends the chain at a time
            conn.execute(text("LOCK TABLE audit IN SHARE ROW EXCLUSIVE MODE"))
        last = conn.execute(select(audit_table.c.hash).order_by(audit_table.c.seq.desc()).limit(1)).first()
        prev = last[0] if last else GENESIS
        at = _now()
        digest = _entry_hash(prev, case_id, at, who, action, details, knowledge_version)
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

    def audit_trail(self, case_id: str | None = None) -> list[AuditEntry]:
        query = select(audit_table).order_by(audit_table.c.seq)
        if case_id:
            query = query.where(audit_table.c.case_id == case_id)
        with self.engine.connect() as conn:
            return [
                AuditEntry(
                    seq=r.seq,
                    case_id=r.case_id,
                    at=_utc(r.at),
                    who=r.who,
                    action=r.action,
                    details=r.details,
                    knowledge_version=r.knowledge_version,
                    prev_hash=r.prev_hash,
                    hash=r.hash,
                )
                for r in conn.execute(query)
            ]

    def verify_audit(self) -> list[str]:
        """Every break in the chain: an edited entry no longer matches its hash, a deleted one breaks the link."""
        problems: list[str] = []
        prev = GENESIS
        for entry in self.audit_trail():
            if entry.prev_hash != prev:
                problems.append(f"entry {entry.seq}: does not follow the previous entry (one was removed or reordered)")
            expected = _entry_hash(
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


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()
