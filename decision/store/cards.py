"""Cards the CDS Hooks service issued for a stored case, and the feedback a client sends on them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from decision.store.audit import append_entry, recorded_row
from decision.store.cases import CaseRecords
from decision.store.errors import StoreError
from decision.store.records import FEEDBACK_OUTCOMES, CardRecord, StoredCard, as_utc, now
from decision.store.tables import cds_cards_table
from decision.store.writes import write


class IssuedCards(CaseRecords):
    """Issued cards and their feedback; both are entries in the audit trail."""

    def record_issued_cards(
        self, case_id: str, service_id: str, hook_instance: str, cards: list[CardRecord], who: str
    ) -> None:
        """The cards shown for a stored case; the audit says which, so a decision can be traced."""
        version = self.stored_case(case_id).report.knowledge_version
        key = self.signing_key()

        def save(conn: Connection) -> None:
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
                        issued_at=now(),
                        knowledge_version=version,
                    )
                )
            append_entry(
                conn,
                key,
                case_id,
                who,
                "CDS Hooks cards issued",
                {
                    "service": service_id,
                    "hook_instance": hook_instance,
                    "cards": [{"card": c.card_uuid, "candidate": c.candidate, "indicator": c.indicator} for c in cards],
                },
                version,
                [recorded_row(conn, "cds_cards", card.card_uuid) for card in cards],
            )

        write(self.engine, save)

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
            issued_at=as_utc(row.issued_at),
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
            raise StoreError([f"card {card_uuid!r} was not issued by this service"])
        if outcome not in FEEDBACK_OUTCOMES:
            raise StoreError([f"outcome: expected one of {', '.join(FEEDBACK_OUTCOMES)}, got {outcome!r}"])
        strangers = [s for s in accepted_suggestions if s not in card.suggestions]
        if strangers:
            raise StoreError([f"accepted suggestions not on card {card_uuid}: {', '.join(strangers)}"])
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
        key = self.signing_key()
        write(
            self.engine,
            lambda conn: append_entry(
                conn, key, card.case_id, who, "CDS Hooks feedback", details, card.knowledge_version
            ),
        )
