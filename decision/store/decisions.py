"""The MDT's decisions: which procedure (or none), who decided, and why when it is not the engine's."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from decision.store.audit import append_entry, recorded_row
from decision.store.cases import CaseRecords
from decision.store.errors import StoreError
from decision.store.records import Decision, as_utc, now
from decision.store.tables import decisions_table
from decision.store.writes import write


class DecisionRecords(CaseRecords):
    """Decisions on stored cases; every decision is an entry in the audit trail."""

    def record_decision(
        self, case_id: str, procedure: str, decided_by: str, override_reason: str | None = None
    ) -> Decision:
        """The meeting's decision on the case as last saved (its version goes into the audit entry); an
        override reason is required when it differs from the engine's."""
        stored = self.stored_case(case_id)
        if not decided_by.strip():
            raise StoreError(["who decided: a name is required"])
        status = stored.report.status_of(procedure)
        reason = (override_reason or "").strip() or None
        if not stored.report.agrees_with(procedure) and not reason:
            raise StoreError(
                [f"the decision ({procedure}) differs from the engine's ({status}); give an override reason"]
            )
        decided = Decision(
            case_id=case_id,
            decided_at=now(),
            decided_by=decided_by.strip(),
            procedure=procedure,
            engine_status=status,
            override_reason=reason,
            knowledge_version=stored.report.knowledge_version,
        )
        key = self.signing_key()

        def save(conn: Connection) -> None:
            inserted = conn.execute(
                insert(decisions_table).values(
                    case_id=case_id,
                    decided_at=decided.decided_at,
                    decided_by=decided.decided_by,
                    procedure=procedure,
                    engine_status=status,
                    override_reason=reason,
                    knowledge_version=decided.knowledge_version,
                )
            )
            (decision_id,) = inserted.inserted_primary_key or (None,)
            append_entry(
                conn,
                key,
                case_id,
                decided.decided_by,
                "decision recorded",
                {
                    "procedure": procedure,
                    "engine_status": status,
                    "override_reason": reason,
                    "case_version": stored.version,
                },
                decided.knowledge_version,
                [recorded_row(conn, "decisions", decision_id)],
            )

        write(self.engine, save)
        return decided

    def decisions(self, case_id: str | None = None) -> list[Decision]:
        query = select(decisions_table).order_by(decisions_table.c.id)
        if case_id:
            query = query.where(decisions_table.c.case_id == case_id)
        with self.engine.connect() as conn:
            return [
                Decision(
                    case_id=r.case_id,
                    decided_at=as_utc(r.decided_at),
                    decided_by=r.decided_by,
                    procedure=r.procedure,
                    engine_status=r.engine_status,
                    override_reason=r.override_reason,
                    knowledge_version=r.knowledge_version,
                )
                for r in conn.execute(query)
            ]
