"""Cases as the MDT sees them: the case as entered, the report the engine gave, a title.

Case ids are random tokens, so a link that carries one reveals nothing about the patient.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection, Engine

from decision.report import Report
from decision.store.audit import append_entry, recorded_row
from decision.store.audit_key import AuditKey
from decision.store.errors import StoreError
from decision.store.records import DEMO_SOURCE, StoredCase, as_utc, now
from decision.store.tables import case_versions_table, cases_table
from decision.store.writes import write


class CaseRecords:
    """Saving, finding and listing cases; every save is an entry in the audit trail, and saving a
    stored case again is a new version of it."""

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
        """Store the case and its report; returns its id.

        With the `case_id` of a stored case, this is a new version of that case (the clinician saved
        it again), never a second copy: the earlier versions stay as written, the audit trail gets a
        "case updated" entry recording the new one, and the store hands back the latest. A new
        `case_id` (the demo seed, a CDS Hooks call) names a new case."""
        new_id = case_id or secrets.token_urlsafe(12)
        conditions = ", ".join(sorted({d.get("condition") or "unknown" for d in case.get("diagnoses") or []}))
        best = report.best_status
        key = self.signing_key()
        content = {
            "title": title[:300] or "(untitled)",
            "case_json": case,
            "report_json": json.loads(report.model_dump_json()),
            "best_status": best,
            "conditions": conditions,
            "knowledge_version": report.knowledge_version,
        }
        details = {"title": title, "best_status": best, "policy": report.policy}

        def save(conn: Connection) -> None:
            exists = conn.execute(select(cases_table.c.id).where(cases_table.c.id == new_id)).first()
            if exists is None:
                conn.execute(insert(cases_table).values(id=new_id, source=source, created_at=now(), **content))
                recorded = recorded_row(conn, "cases", new_id)
                append_entry(conn, key, new_id, who, "case saved", details, report.knowledge_version, [recorded])
                return
            version = _latest_version(conn, new_id) + 1
            version_id = f"{new_id}@v{version}"
            conn.execute(
                insert(case_versions_table).values(
                    id=version_id, case_id=new_id, version=version, saved_at=now(), **content
                )
            )
            append_entry(
                conn,
                key,
                new_id,
                who,
                "case updated",
                {**details, "version": version},
                report.knowledge_version,
                [recorded_row(conn, "case_versions", version_id)],
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
        """The case as last saved (its latest version), or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(cases_table).where(cases_table.c.id == case_id)).first()
            if row is None:
                return None
            latest = _latest_rows(conn, [case_id])
        return _stored_case(row, latest.get(case_id))

    def stored_case(self, case_id: str) -> StoredCase:
        """The case, or a refusal naming the id that is not in the store."""
        found = self.get_case(case_id)
        if found is None:
            raise StoreError([f"case {case_id!r} is not in the store"])
        return found

    def case_versions(self, case_id: str) -> list[StoredCase]:
        """Every saved version of a case, the first first (empty: not in the store)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(cases_table).where(cases_table.c.id == case_id)).first()
            if row is None:
                return []
            later = conn.execute(
                select(case_versions_table)
                .where(case_versions_table.c.case_id == case_id)
                .order_by(case_versions_table.c.version)
            ).all()
        return [_stored_case(row), *(_stored_case(row, version) for version in later)]

    def list_cases(
        self,
        status: str | None = None,
        condition: str | None = None,
        since: dt.date | None = None,
        include_demo: bool = True,
    ) -> list[StoredCase]:
        """Cases as last saved, most recently saved first; `status`, `condition` and `since` (last
        saved on or after) filter on the latest version; `include_demo=False` leaves out seeded demos."""
        query = select(cases_table).order_by(cases_table.c.created_at.desc(), cases_table.c.id)
        if not include_demo:
            query = query.where(cases_table.c.source != DEMO_SOURCE)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            latest = _latest_rows(conn, None)
        cases = [_stored_case(row, latest.get(row.id)) for row in rows]
        after = dt.datetime.combine(since, dt.time(), dt.UTC) if since else None
        found = [
            c
            for c in cases
            if (not status or c.best_status == status)
            and (not condition or condition in c.conditions)
            and (after is None or c.last_saved >= after)
        ]
        return sorted(found, key=lambda c: c.last_saved, reverse=True)


def _latest_version(conn: Connection, case_id: str) -> int:
    """The highest version of a case so far (1: only the first save)."""
    found = conn.execute(
        select(func.max(case_versions_table.c.version)).where(case_versions_table.c.case_id == case_id)
    ).scalar()
    return int(found) if found else 1


def _latest_rows(conn: Connection, case_ids: list[str] | None) -> dict[str, Any]:
    """The latest later version of each case that has one (of `case_ids`, or of every case)."""
    newest = select(case_versions_table.c.case_id, func.max(case_versions_table.c.version).label("version"))
    if case_ids is not None:
        newest = newest.where(case_versions_table.c.case_id.in_(case_ids))
    newest_sub = newest.group_by(case_versions_table.c.case_id).subquery()
    query = select(case_versions_table).join(
        newest_sub,
        (case_versions_table.c.case_id == newest_sub.c.case_id)
        & (case_versions_table.c.version == newest_sub.c.version),
    )
    return {row.case_id: row for row in conn.execute(query)}


def _stored_case(row: Any, version: Any = None) -> StoredCase:
    """The case row, with the content of a later version over it when there is one."""
    content = version if version is not None else row
    return StoredCase(
        id=row.id,
        title=content.title,
        source=row.source,
        created_at=as_utc(row.created_at),
        case=content.case_json,
        report=Report.model_validate(content.report_json),
        best_status=content.best_status,
        conditions=content.conditions,
        version=version.version if version is not None else 1,
        saved_at=as_utc(version.saved_at) if version is not None else None,
    )
