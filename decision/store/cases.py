"""Cases as the MDT sees them: the case as entered, the report the engine gave, a title.

Case ids are random tokens, so a link that carries one reveals nothing about the patient.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Engine

from decision.report import Report
from decision.store.audit import append_entry, recorded_row
from decision.store.audit_key import AuditKey
from decision.store.errors import StoreError
from decision.store.records import StoredCase, as_utc, now
from decision.store.tables import cases_table
from decision.store.writes import write


class CaseRecords:
    """Saving, finding and listing cases; every save is an entry in the audit trail."""

    engine: Engine

    def signing_key(self) -> AuditKey:
        """The audit key every entry is signed with (CaseStore finds it in the settings)."""
        raise NotImplementedError

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
        best = report.best_status
        key = self.signing_key()

        def save(conn: Connection) -> None:
            conn.execute(
                insert(cases_table).values(
                    id=new_id,
                    title=title[:300] or "(untitled)",
                    source=source,
                    created_at=now(),
                    case_json=case,
                    report_json=json.loads(report.model_dump_json()),
                    best_status=best,
                    conditions=", ".join(conditions),
                    knowledge_version=report.knowledge_version,
                )
            )
            append_entry(
                conn,
                key,
                new_id,
                who,
                "case saved",
                {"title": title, "best_status": best, "policy": report.policy},
                report.knowledge_version,
                [recorded_row(conn, "cases", new_id)],
            )

        write(self.engine, save)
        return new_id

    def seed_demo_cases(self, demos: dict[str, dict[str, Any]], evaluate: Callable[[Any], Report]) -> int:
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
        return _stored_case(row) if row else None

    def stored_case(self, case_id: str) -> StoredCase:
        """The case, or a refusal naming the id that is not in the store."""
        found = self.get_case(case_id)
        if found is None:
            raise StoreError([f"case {case_id!r} is not in the store"])
        return found

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
            return [_stored_case(row) for row in conn.execute(query)]


def _stored_case(row: Any) -> StoredCase:
    return StoredCase(
        id=row.id,
        title=row.title,
        source=row.source,
        created_at=as_utc(row.created_at),
        case=row.case_json,
        report=Report.model_validate(row.report_json),
        best_status=row.best_status,
        conditions=row.conditions,
    )
