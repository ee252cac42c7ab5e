"""CDS Hooks feedback reaches the same hash-chained audit trail as the MDT's decisions: what the
clinician did with a card (accepted a suggestion, overrode it and why), traced to the case."""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cds_hooks_requests import (
    ORDER_SELECT,
    PATIENT_VIEW,
    PROCEDURE_SYSTEM,
    assessment_time,
    fixture,
    order_select_request,
    patient_view_request,
    service_request,
)
from fastapi.testclient import TestClient
from sqlalchemy import text
from vignette_format import load_vignette

from decision.cds_hooks.service import create_app
from decision.cli.command import main
from decision.settings import Settings
from decision.store import CaseStore

CASE = load_vignette(
    Path(__file__).resolve().parents[1] / "vignettes" / "nerve-root-block-contrast-allergy-ultrasound.yaml"
)["case"]


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.sqlite'}"


@pytest.fixture
def client(store_url: str) -> Iterator[TestClient]:
    app = create_app(
        Settings(database_url=store_url, service_allow_unauthenticated=True), clock=lambda: assessment_time(CASE)
    )
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def suggested_card(client: TestClient) -> dict[str, Any]:
    """A nerve root block ordered for a patient with a contrast allergy: a card suggesting ultrasound."""
    order = service_request("nrb-1", [{"system": PROCEDURE_SYSTEM, "code": "nerve_root_block"}], "1288992")
    response = client.post(f"/cds-services/{ORDER_SELECT}", json=order_select_request(CASE, [order]))
    assert response.status_code == 200
    (card,) = response.json()["cards"]
    assert card["suggestions"]
    return dict(card)


def feedback_entries(store: CaseStore, case_id: str) -> list[Any]:
    return [e for e in store.audit_trail(case_id) if e.action == "CDS Hooks feedback"]


def test_an_accepted_suggestion_is_audited_with_its_id(client: TestClient, store_url: str) -> None:
    card = suggested_card(client)
    feedback = fixture("feedback-accepted.json")  # the spec's example, pointed at our card
    feedback["feedback"][0]["card"] = card["uuid"]
    feedback["feedback"][0]["acceptedSuggestions"] = [{"id": card["suggestions"][0]["uuid"]}]
    response = client.post(f"/cds-services/{ORDER_SELECT}/feedback", json=feedback)
    assert response.status_code == 200
    store = CaseStore(store_url)
    issued = store.issued_card(card["uuid"])
    assert issued is not None and issued.candidate == "nerve_root_block/-/lumbar"
    stored = store.get_case(issued.case_id)
    assert (
        stored is not None
        and stored.title == "CDS Hooks order-select: Nerve root block (selective nerve root injection)"
    )
    (entry,) = feedback_entries(store, issued.case_id)
    assert entry.details["outcome"] == "accepted"
    assert entry.details["accepted_suggestions"] == [card["suggestions"][0]["uuid"]]
    assert entry.details["card"] == card["uuid"] and entry.details["candidate"] == "nerve_root_block/-/lumbar"
    assert entry.details["outcome_timestamp"] == "2021-12-11T10:05:31Z"
    assert store.verify_audit() == []


def test_an_override_with_a_reason_and_a_comment_is_audited(client: TestClient, store_url: str) -> None:
    card = suggested_card(client)
    feedback = fixture("feedback-overridden-with-reason.json")
    feedback["feedback"][0]["card"] = card["uuid"]
    feedback["feedback"][0]["overrideReason"]["reason"] = card["overrideReasons"][1]
    response = client.post(f"/cds-services/{ORDER_SELECT}/feedback", json=feedback)
    assert response.status_code == 200
    store = CaseStore(store_url)
    issued = store.issued_card(card["uuid"])
    assert issued is not None
    (entry,) = feedback_entries(store, issued.case_id)
    assert entry.details["outcome"] == "overridden"
    assert entry.details["override_reason"] == card["overrideReasons"][1]
    assert entry.details["user_comment"] == "A comment entered by the clinician."
    assert entry.details["accepted_suggestions"] == []


def test_an_override_without_a_reason_and_a_reason_the_client_added_are_both_kept(
    client: TestClient, store_url: str
) -> None:
    card, other_card = suggested_card(client), suggested_card(client)
    plain = fixture("feedback-overridden.json")
    plain["feedback"][0]["card"] = card["uuid"]
    own = fixture("feedback-overridden-with-reason.json")  # the spec's client-side reason code, not one of ours
    own["feedback"][0]["card"] = other_card["uuid"]
    assert client.post(f"/cds-services/{ORDER_SELECT}/feedback", json=plain).status_code == 200
    assert client.post(f"/cds-services/{ORDER_SELECT}/feedback", json=own).status_code == 200
    store = CaseStore(store_url)
    issued, other = store.issued_card(card["uuid"]), store.issued_card(other_card["uuid"])
    assert issued is not None and other is not None
    (first,) = feedback_entries(store, issued.case_id)
    (second,) = feedback_entries(store, other.case_id)
    assert first.details["override_reason"] is None
    assert second.details["override_reason"] == {
        "code": "d7ecf885",
        "system": "https://example.com/cds-hooks/override-reason-system",
    }


@pytest.mark.parametrize(
    "name", ["feedback-accepted.json", "feedback-overridden.json", "feedback-overridden-with-reason.json"]
)
def test_feedback_on_a_card_never_issued_is_a_404_and_nothing_is_stored(
    name: str, client: TestClient, store_url: str
) -> None:
    suggested_card(client)
    store = CaseStore(store_url)
    before = len(store.audit_trail())
    response = client.post(f"/cds-services/{ORDER_SELECT}/feedback", json=fixture(name))  # the spec's uuids
    assert response.status_code == 404
    assert response.json()["problems"] == [f"feedback.0.card: no card with this uuid was issued by {ORDER_SELECT}"]
    assert len(store.audit_trail()) == before


def test_one_unknown_card_in_a_batch_stores_none_of_it(client: TestClient, store_url: str) -> None:
    card = suggested_card(client)
    known = fixture("feedback-overridden.json")["feedback"][0] | {"card": card["uuid"]}
    unknown = fixture("feedback-overridden.json")["feedback"][0]
    store = CaseStore(store_url)
    before = len(store.audit_trail())
    response = client.post(f"/cds-services/{ORDER_SELECT}/feedback", json={"feedback": [known, unknown]})
    assert response.status_code == 404 and response.json()["problems"][0].startswith("feedback.1.card")
    assert len(store.audit_trail()) == before


def test_feedback_sent_to_the_other_service_is_a_404(client: TestClient) -> None:
    card = suggested_card(client)
    feedback = fixture("feedback-overridden.json")
    feedback["feedback"][0]["card"] = card["uuid"]
    assert client.post(f"/cds-services/{PATIENT_VIEW}/feedback", json=feedback).status_code == 404


def test_accepting_a_suggestion_the_card_did_not_offer_is_a_422(client: TestClient) -> None:
    card = suggested_card(client)
    feedback = fixture("feedback-accepted.json")
    feedback["feedback"][0]["card"] = card["uuid"]  # keeps the spec's suggestion uuid
    response = client.post(f"/cds-services/{ORDER_SELECT}/feedback", json=feedback)
    assert response.status_code == 422
    assert response.json()["problems"] == ["feedback.0.acceptedSuggestions.0.id: not a suggestion of this card"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda f: f.update(outcome="ignored"), "feedback.0.outcome"),
        (lambda f: f.pop("outcomeTimestamp"), "feedback.0.outcomeTimestamp: Field required"),
        (lambda f: f.update(outcomeTimestamp="yesterday"), "feedback.0.outcomeTimestamp: expected an ISO 8601"),
        (lambda f: f.pop("acceptedSuggestions"), "feedback.0: acceptedSuggestions is required for an accepted outcome"),
        (lambda f: f.pop("card"), "feedback.0.card: Field required"),
    ],
)
def test_malformed_feedback_is_a_422_naming_the_field(change: Any, field: str, client: TestClient) -> None:
    feedback = copy.deepcopy(fixture("feedback-accepted.json"))
    change(feedback["feedback"][0])
    response = client.post(f"/cds-services/{ORDER_SELECT}/feedback", json=feedback)
    assert response.status_code == 422
    assert any(p.startswith(field) for p in response.json()["problems"]), response.json()


def test_the_audit_trail_verifies_after_feedback_and_catches_an_edit(client: TestClient, store_url: str) -> None:
    card = suggested_card(client)
    feedback = fixture("feedback-overridden-with-reason.json")
    feedback["feedback"][0]["card"] = card["uuid"]
    assert client.post(f"/cds-services/{ORDER_SELECT}/feedback", json=feedback).status_code == 200
    pv = client.post(f"/cds-services/{PATIENT_VIEW}", json=patient_view_request(CASE))
    for other in pv.json()["cards"][:2]:
        accepted = fixture("feedback-overridden.json")
        accepted["feedback"][0]["card"] = other["uuid"]
        assert client.post(f"/cds-services/{PATIENT_VIEW}/feedback", json=accepted).status_code == 200
    out = io.StringIO()
    assert main(["audit", "verify", "--database", store_url], out=out) == 0
    assert "audit trail intact" in out.getvalue()
    store = CaseStore(store_url)
    actions = [e.action for e in store.audit_trail()]
    assert actions.count("CDS Hooks feedback") == 3 and actions.count("CDS Hooks cards issued") == 2
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE audit SET details = :d WHERE action = 'CDS Hooks feedback' AND seq = (SELECT MIN(seq) FROM audit WHERE action = 'CDS Hooks feedback')"
            ),
            {"d": '{"outcome": "accepted"}'},
        )
    assert main(["audit", "verify", "--database", store_url], out=io.StringIO()) == 4


def test_feedback_when_the_store_is_down_is_a_503_to_send_again(tmp_path: Path) -> None:
    broken = f"sqlite:///{tmp_path / 'no-such-folder' / 'store.sqlite'}"
    with TestClient(
        create_app(Settings(database_url=broken, service_allow_unauthenticated=True)), raise_server_exceptions=False
    ) as test_client:
        response = test_client.post(f"/cds-services/{ORDER_SELECT}/feedback", json=fixture("feedback-overridden.json"))
    assert response.status_code == 503 and response.json()["error"]
