"""The CDS Hooks 2.0 service: discovery and hook calls built from the specification's own
examples, answered with cards that keep to the spec's shapes and say what the engine says."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cds_hooks_requests import (
    CPT,
    ORDER_SELECT,
    PATIENT_VIEW,
    PROCEDURE_SYSTEM,
    assessment_time,
    fixture,
    order_select_request,
    patient_view_request,
    prefetch_for,
    service_request,
)
from cds_hooks_spec import check_card, check_discovery, check_response
from cds_hooks_tokens import signed, trust_for
from fastapi.testclient import TestClient
from fhir_bundles import fhir_can_carry
from vignette_format import load_vignette, vignette_files

from decision.case import Case
from decision.cds_hooks.prefetch import prefetch_templates
from decision.cds_hooks.service import create_app
from decision.evaluator import default_evaluator
from decision.explain import STATUS_LABEL, candidate_title
from decision.fhir import procedure_from_order
from decision.settings import Settings
from decision.store import CaseStore

VIGNETTES = Path(__file__).resolve().parents[1] / "vignettes"
CARD_STATUSES = ("indicated", "indicated_with_caution", "needs_information", "deferred", "contraindicated")
INDICATOR = {
    "indicated": "info",
    "indicated_with_caution": "warning",
    "needs_information": "warning",
    "deferred": "warning",
    "contraindicated": "critical",
}


def vignette(name: str) -> dict[str, Any]:
    case: dict[str, Any] = load_vignette(VIGNETTES / f"{name}.yaml")["case"]
    return case


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.sqlite'}"


@pytest.fixture
def client_for(store_url: str) -> Iterator[Callable[..., TestClient]]:
    """A client whose clock is the case's assessment time, so that a vignette's doses and dates
    mean what they mean in the vignette."""
    clients: list[TestClient] = []

    def make(case: dict[str, Any] | None = None, fetch: Any = None, **settings: Any) -> TestClient:
        now = (
            assessment_time(case)
            if case and case.get("assessment_date")
            else dt.datetime(2026, 10, 1, 12, tzinfo=dt.UTC)
        )
        replaced = {"fetch": fetch} if fetch else {}
        app = create_app(
            Settings(database_url=store_url, **{"service_allow_unauthenticated": True, **settings}),
            clock=lambda: now,
            **replaced,
        )
        client = TestClient(app, raise_server_exceptions=False)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def cards_of(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert check_response(body) == []
    cards: list[dict[str, Any]] = body["cards"]
    return cards


# -- the conformance checker must itself be able to fail ----------------------------------------


def test_the_checker_accepts_the_specifications_own_examples() -> None:
    assert check_discovery(fixture("discovery-response.json")) == []
    assert check_response(fixture("cards-response.json")) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda c: c.update(summary="x" * 140), "summary"),
        (lambda c: c.update(indicator="urgent"), "indicator"),
        (lambda c: c.update(detail=None), "detail: null or empty"),
        (lambda c: c.update(suggestions=[{"label": "do it"}]), "selectionBehavior"),
        (lambda c: c.update(overrideReasons=[{"code": "x", "system": "urn:x"}]), "display"),
        (lambda c: c["links"][0].update(url="/relative"), "absolute URL"),
        (lambda c: c["source"].pop("label"), "source.label: required"),
        (lambda c: c.update(colour="red"), "not a field of the spec"),
    ],
)
def test_the_checker_rejects_what_the_specification_forbids(
    change: Callable[[dict[str, Any]], Any], problem: str
) -> None:
    card = copy.deepcopy(fixture("cards-response.json")["cards"][0])
    change(card)
    assert any(problem in line for line in check_card(card))


# -- discovery ---------------------------------------------------------------------------------


def test_discovery_offers_an_order_select_and_a_patient_view_service(client_for: Callable[..., TestClient]) -> None:
    response = client_for().get("/cds-services")
    assert response.status_code == 200
    body = response.json()
    assert check_discovery(body) == []
    assert {(s["id"], s["hook"]) for s in body["services"]} == {
        (ORDER_SELECT, "order-select"),
        (PATIENT_VIEW, "patient-view"),
    }
    for service in body["services"]:
        assert service["title"] and service["description"]
        assert service["prefetch"] == prefetch_templates()


def test_prefetch_templates_ask_for_the_patients_record_within_the_specs_query_subset() -> None:
    templates = prefetch_templates()
    kinds = {t.split("?")[0].split("/")[0] for t in templates.values()}
    assert kinds >= {
        "Patient",
        "Condition",
        "MedicationRequest",
        "MedicationStatement",
        "Observation",
        "AllergyIntolerance",
        "Procedure",
        "ImagingStudy",
        "DiagnosticReport",
    }
    for template in templates.values():
        assert "{{context.patientId}}" in template
        assert template == "Patient/{{context.patientId}}" or template.split("?")[1].startswith("patient=")
    observation_codes = templates["observations"].split("code=")[1].split(",")
    for loinc in ("6301-6", "777-3", "4548-4", "2345-7", "14749-6", "72514-3", "82810-3"):
        assert f"http://loinc.org|{loinc}" in observation_codes
    assert "urn:spine-cds:fhir:case-field|" in observation_codes


# -- patient-view ------------------------------------------------------------------------------


def _dated_vignettes() -> list[Path]:
    return [
        p
        for p in vignette_files()
        if load_vignette(p)["case"].get("assessment_date") and fhir_can_carry(load_vignette(p)["case"])
    ]


@pytest.mark.parametrize("path", _dated_vignettes(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_patient_view_cards_say_what_the_engine_says_for_the_same_record(
    path: Path, client_for: Callable[..., TestClient]
) -> None:
    case = load_vignette(path)["case"]
    cards = cards_of(client_for(case).post(f"/cds-services/{PATIENT_VIEW}", json=patient_view_request(case)))
    direct = default_evaluator().evaluate({**case, "policy": None})  # the service's policy, not the vignette's
    flags = [c for c in cards if c["summary"].startswith("Red flag")]
    assert len(flags) == len(direct.red_flags)
    assert all(c["indicator"] == "critical" for c in flags)
    assert cards[: len(flags)] == flags, "red flags come first"
    shown = [c for c in direct.candidates if c.status in CARD_STATUSES]
    candidate_cards = [c for c in cards if c.get("source", {}).get("topic")]
    assert len(candidate_cards) == len(shown)
    for cand, card in zip(shown, candidate_cards, strict=True):
        assert card["summary"].startswith(f"{STATUS_LABEL[cand.status].capitalize()}: {candidate_title(cand)}"[:130])
        assert card["indicator"] == INDICATOR[cand.status]
        assert card["source"]["topic"]["code"] == cand.procedure
        for reason in cand.reasons:
            if reason.kind != "unknown":
                assert f"`{reason.rule_id}`" in card["detail"]
    ruled_out = [c for c in direct.candidates if c.status == "not_indicated"]
    summary = [c for c in cards if c["summary"].startswith("Not indicated:")]
    assert len(summary) == (1 if ruled_out else 0)


def test_a_card_shows_the_reasons_sources_and_what_is_missing(client_for: Callable[..., TestClient]) -> None:
    case = vignette("esi-apixaban-119h-deferred")
    cards = cards_of(client_for(case).post(f"/cds-services/{PATIENT_VIEW}", json=patient_view_request(case)))
    deferred = next(c for c in cards if c["summary"].startswith("Deferred: Epidural steroid injection"))
    assert deferred["indicator"] == "warning"
    assert "`hold.apixaban.intermediate_high`" in deferred["detail"] and "asra_2018#" in deferred["detail"]
    assert deferred["source"]["label"] == f"spine-cds knowledge {default_evaluator().knowledge.version}"
    assert {r["code"] for r in deferred["overrideReasons"]} == {
        "patient-preference",
        "clinical-judgement-mdt",
        "information-outdated",
        "other",
    }
    case["medications"] = None  # not asked: the hold rules cannot be decided
    cards = cards_of(client_for(case).post(f"/cds-services/{PATIENT_VIEW}", json=patient_view_request(case)))
    card = next(c for c in cards if c["summary"].startswith("Needs information: Epidural steroid injection"))
    assert "to answer)" in card["summary"]
    assert "**To answer before a decision**" in card["detail"] and "`medications`" in card["detail"]


def test_a_source_url_is_that_of_the_rule_that_decided_the_status(client_for: Callable[..., TestClient]) -> None:
    case = vignette("esi-duration-4-weeks-indicated")
    cards = cards_of(client_for(case).post(f"/cds-services/{PATIENT_VIEW}", json=patient_view_request(case)))
    knowledge = default_evaluator().knowledge
    report = default_evaluator().evaluate(case)
    indicated = [c for c in report.candidates if c.status == "indicated"]
    with_url = 0
    for cand in indicated:
        card = next(c for c in cards if c["summary"] == f"Indicated: {candidate_title(cand)}")
        indication = next(r for r in cand.reasons if r.kind == "indication")
        urls = [knowledge.sources[ref.split("#")[0]].url for ref in indication.sources]
        expected = next((url for url in urls if url), None)
        assert card["source"].get("url") == expected
        with_url += expected is not None
    assert 0 < with_url < len(indicated), "the vignette should have rules with and without a source URL"


def test_the_specs_patient_view_example_gets_one_card_saying_there_is_nothing_to_assess(
    client_for: Callable[..., TestClient], store_url: str
) -> None:
    request = fixture("patient-view-request.json")  # the spec's own: a patient, no spinal record
    request["fhirServer"] = "https://fhir.example/baseR4"  # the spec's is http: a trusted base must be https
    fetched: list[tuple[str, str, list[str]]] = []

    def fetch(
        server: str, token: str, templates: dict[str, str], patient_id: str, limits: Any
    ) -> tuple[dict[str, Any], list[str]]:
        fetched.append((server, token, sorted(templates)))
        return {key: None for key in templates}, []

    url = f"/cds-services/{PATIENT_VIEW}"
    client = client_for(fetch=fetch, service_trust=(trust_for(fhir=request["fhirServer"]),))
    cards = cards_of(client.post(url, json=request, headers=signed(url)))
    assert fetched == [
        (request["fhirServer"], "some-opaque-fhir-access-token", sorted(set(prefetch_templates()) - {"patientToGreet"}))
    ]
    assert len(cards) == 1 and cards[0]["indicator"] == "info"
    assert "No diagnosis was given" in cards[0]["summary"]
    assert "uuid" not in cards[0] and "links" not in cards[0], "nothing stored, nothing to link to or give feedback on"
    assert CaseStore(store_url).list_cases() == []


def test_absent_prefetch_leaves_the_case_unknown_and_the_card_names_the_keys(
    client_for: Callable[..., TestClient],
) -> None:
    case = vignette("esi-duration-4-weeks-indicated")
    request = patient_view_request(case)
    request["prefetch"] = {"conditions": request["prefetch"]["conditions"]}
    cards = cards_of(client_for(case).post(f"/cds-services/{PATIENT_VIEW}", json=request))
    esi = [c for c in cards if c["summary"].startswith("Needs information: Epidural steroid injection")]
    assert esi, [c["summary"] for c in cards]
    not_sent = [k for k in prefetch_templates() if k != "conditions"]
    for card in esi:
        assert f"Not sent by the EHR (prefetch keys): {', '.join(not_sent)}." in card["detail"]


def test_null_prefetch_and_failed_prefetch_are_told_apart(client_for: Callable[..., TestClient]) -> None:
    case = vignette("esi-duration-4-weeks-indicated")
    request = patient_view_request(case)
    request["prefetch"]["allergies"] = None
    request["prefetch"]["procedures"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout"}],
    }
    request["prefetch"]["observations"]["link"] = [
        {"relation": "next", "url": "http://ehr.example/fhir/Observation?page=2"}
    ]
    cards = cards_of(client_for(case).post(f"/cds-services/{PATIENT_VIEW}", json=request))
    detail = cards[0]["detail"]
    assert "No data in the EHR (prefetch null): " in detail and "allergies" in detail.split("No data in the EHR")[1]
    assert "The EHR could not retrieve (OperationOutcome): procedures." in detail
    assert "Only the first page was sent (more results exist): observations." in detail


# -- order-select ------------------------------------------------------------------------------


def test_the_specs_order_select_example_selects_no_injection_and_gets_no_cards(
    client_for: Callable[..., TestClient], store_url: str
) -> None:
    request = {
        "hook": "order-select",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        **fixture("order-select-context-r4.json"),
    }
    response = client_for().post(f"/cds-services/{ORDER_SELECT}", json=request)
    assert response.status_code == 200 and response.json() == {"cards": []}
    assert CaseStore(store_url).list_cases() == []


def test_an_order_by_cpt_code_gets_cards_for_the_candidates_it_names(client_for: Callable[..., TestClient]) -> None:
    case = vignette("esi-duration-4-weeks-indicated")
    order = service_request("esi-1", [{"system": CPT, "code": "64483"}], "1288992")  # transforaminal, lumbar or sacral
    cards = cards_of(client_for(case).post(f"/cds-services/{ORDER_SELECT}", json=order_select_request(case, [order])))
    direct = default_evaluator().evaluate(case)
    wanted = [
        c for c in direct.candidates if c.procedure == "epidural_steroid_injection" and c.approach == "transforaminal"
    ]
    assert [c["summary"] for c in cards] == [
        f"{STATUS_LABEL[c.status].capitalize()}: {candidate_title(c)}" for c in wanted
    ]


def test_ultrasound_is_suggested_for_a_nerve_root_block_when_contrast_cannot_be_used(
    client_for: Callable[..., TestClient],
) -> None:
    case = vignette("nerve-root-block-contrast-allergy-ultrasound")
    order = service_request("nrb-1", [{"system": PROCEDURE_SYSTEM, "code": "nerve_root_block"}], "1288992")
    client = client_for(case)
    cards = cards_of(client.post(f"/cds-services/{ORDER_SELECT}", json=order_select_request(case, [order])))
    (card,) = cards
    assert card["selectionBehavior"] == "at-most-one"
    (suggestion,) = card["suggestions"]
    assert suggestion["label"] == "Ask for ultrasound guidance" and suggestion["uuid"]
    (action,) = suggestion["actions"]
    updated = action["resource"]
    assert action["type"] == "update" and updated["id"] == "nrb-1" and updated["code"] == order["code"]
    assert updated["orderDetail"][-1]["coding"][0]["code"] == "ultrasound"
    assert "`guidance.nerve_root_contrast_allergy`" in card["detail"]
    # The order as the suggestion left it: nothing more to suggest.
    again = cards_of(client.post(f"/cds-services/{ORDER_SELECT}", json=order_select_request(case, [updated])))
    assert "suggestions" not in again[0]


def test_guidance_the_knowledge_does_not_accept_is_changed_to_the_preferred_one(
    client_for: Callable[..., TestClient],
) -> None:
    case = vignette("facet-duration-13-weeks-indicated")
    ultrasound = {"coding": [{"system": "urn:spine-cds:fhir:guidance", "code": "ultrasound"}]}
    order = service_request(
        "facet-1", [{"system": PROCEDURE_SYSTEM, "code": "medial_branch_block"}], "1288992", orderDetail=[ultrasound]
    )
    cards = cards_of(client_for(case).post(f"/cds-services/{ORDER_SELECT}", json=order_select_request(case, [order])))
    suggested = [s for c in cards for s in c.get("suggestions", [])]
    assert suggested and all(s["label"] == "Ask for fluoroscopy guidance" for s in suggested)
    details = suggested[0]["actions"][0]["resource"]["orderDetail"]
    assert [d["coding"][0]["code"] for d in details] == ["fluoroscopy"]


def test_another_approach_is_suggested_only_when_the_report_indicates_it() -> None:
    from decision.cds_hooks.cards import CardWriter
    from decision.fhir import ProcedureSelection

    case = vignette("esi-duration-4-weeks-indicated")
    report = default_evaluator().evaluate(case)
    candidates = [
        c.model_copy(update={"status": "contraindicated"}) if c.approach == "transforaminal" else c
        for c in report.candidates
    ]
    report = report.model_copy(update={"candidates": candidates})
    order = service_request("esi-1", [{"system": CPT, "code": "64483"}], "1288992")
    writer = CardWriter(default_evaluator().knowledge, "http://app.example")
    (issued,) = writer.order(
        report, order, ProcedureSelection(procedure="epidural_steroid_injection", approach="transforaminal")
    )
    card = issued.card
    assert card.indicator == "critical" and card.selectionBehavior == "at-most-one"
    alternatives = {
        c.approach
        for c in report.candidates
        if c.procedure == "epidural_steroid_injection" and c.status in ("indicated", "indicated_with_caution")
    }
    assert card.suggestions is not None and len(card.suggestions) == len(alternatives) > 0
    for suggestion in card.suggestions:
        assert suggestion.actions is not None
        resource = suggestion.actions[0].resource
        assert resource is not None and resource["id"] == "esi-1"
        selection, _ = procedure_from_order(resource)  # the order as changed reads back as the other approach
        assert selection is not None and selection.approach in alternatives and selection.region == "lumbar"
    # Nothing is suggested when no other approach is indicated.
    none_better = report.model_copy(
        update={"candidates": [c.model_copy(update={"status": "contraindicated"}) for c in report.candidates]}
    )
    (issued,) = writer.order(
        none_better, order, ProcedureSelection(procedure="epidural_steroid_injection", approach="transforaminal")
    )
    assert issued.card.suggestions is None and issued.card.selectionBehavior is None


def test_red_flags_come_first_on_an_injection_order(client_for: Callable[..., TestClient]) -> None:
    case = vignette("red-flag-progressive-deficit")
    order = service_request("esi-1", [{"system": CPT, "code": "62323"}], "1288992")
    cards = cards_of(client_for(case).post(f"/cds-services/{ORDER_SELECT}", json=order_select_request(case, [order])))
    assert cards[0]["indicator"] == "critical" and cards[0]["summary"].startswith("Red flag: ")


def test_an_order_the_knowledge_does_not_support_for_this_record_is_a_warning(
    client_for: Callable[..., TestClient],
) -> None:
    case = vignette("esi-duration-4-weeks-indicated")
    order = service_request("si-1", [{"system": CPT, "code": "27096"}], "1288992")
    (card,) = cards_of(client_for(case).post(f"/cds-services/{ORDER_SELECT}", json=order_select_request(case, [order])))
    assert card["indicator"] == "warning" and card["summary"].startswith("Not indicated: Sacroiliac joint injection")
    assert "why not" in card["detail"]


def test_an_order_the_knowledge_does_not_weigh_for_this_record_is_said_so(
    client_for: Callable[..., TestClient],
) -> None:
    case = vignette("esi-duration-4-weeks-indicated")  # lumbar disc: a stellate ganglion block is not weighed
    order = service_request("sgb-1", [{"system": CPT, "code": "64510"}], "1288992")
    (card,) = cards_of(client_for(case).post(f"/cds-services/{ORDER_SELECT}", json=order_select_request(case, [order])))
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("Not a candidate for this record: Sympathetic")
    assert "Candidates weighed for the recorded diagnoses" in card["detail"]


@pytest.mark.parametrize(
    "coding",
    [
        [{"system": "http://loinc.org", "code": "24558-9", "display": "MR Lumbar spine"}],
        [{"system": CPT, "code": "64493"}],  # facet joint or medial branch: the code does not say which
    ],
)
def test_an_order_that_is_not_a_known_injection_gets_an_info_card_not_silence(
    coding: list[dict[str, Any]], client_for: Callable[..., TestClient], store_url: str
) -> None:
    case = vignette("esi-duration-4-weeks-indicated")
    order = service_request("other-1", coding, "1288992")
    (card,) = cards_of(client_for(case).post(f"/cds-services/{ORDER_SELECT}", json=order_select_request(case, [order])))
    assert card["indicator"] == "info" and card["summary"].startswith("Not assessed by spine-cds")
    assert "ServiceRequest/other-1" in card["detail"] and "uuid" not in card
    assert CaseStore(store_url).list_cases() == []


# -- what is stored ----------------------------------------------------------------------------


def test_the_card_links_to_the_stored_case_which_holds_no_patient_identity(
    client_for: Callable[..., TestClient], store_url: str
) -> None:
    case = vignette("esi-apixaban-119h-deferred")
    request = patient_view_request(case, patient_id="pid-7f3a9c")
    request["prefetch"]["patient"]["name"] = [{"family": "Zebedee", "given": ["Ottoline"]}]
    request["prefetch"]["patient"]["identifier"] = [
        {"system": "urn:oid:2.16.840.1.113883.2.1.4.1", "value": "9434765919"}
    ]
    cards = cards_of(
        client_for(case, ui_url="https://spine.example/app").post(f"/cds-services/{PATIENT_VIEW}", json=request)
    )
    links = {link["url"] for card in cards for link in card["links"]}
    (link,) = links
    assert link.startswith("https://spine.example/app/?case=")
    case_id = link.split("?case=")[1]
    store = CaseStore(store_url)
    stored = store.get_case(case_id)
    assert stored is not None and stored.source == "cds-hooks" and stored.report.case_id == case_id
    reopened = default_evaluator().evaluate(Case.model_validate(stored.case))  # what the share link opens
    assert [c.status for c in reopened.candidates] == [c.status for c in stored.report.candidates]
    with store.engine.connect() as conn:
        from sqlalchemy import text

        dump = json.dumps(
            [
                [list(row) for row in conn.execute(text(f"SELECT * FROM {table}"))]
                for table in ("cases", "audit", "cds_cards")
            ],
            default=str,
        )
    for identity in ("pid-7f3a9c", "Zebedee", "Ottoline", "9434765919"):
        assert identity not in dump
    issued = [store.issued_card(card["uuid"]) for card in cards]
    assert all(i is not None and i.case_id == case_id and i.service_id == PATIENT_VIEW for i in issued)
    assert store.verify_audit() == []


def test_when_the_store_is_down_the_cards_still_go_out_without_link_or_uuid(tmp_path: Path) -> None:
    case = vignette("esi-duration-4-weeks-indicated")
    broken = f"sqlite:///{tmp_path / 'no-such-folder' / 'store.sqlite'}"
    client = TestClient(
        create_app(
            Settings(database_url=broken, service_allow_unauthenticated=True), clock=lambda: assessment_time(case)
        )
    )
    cards = cards_of(client.post(f"/cds-services/{PATIENT_VIEW}", json=patient_view_request(case)))
    assert cards and all("uuid" not in c and "links" not in c for c in cards)
    health = client.get("/health")
    assert health.status_code == 503 and health.json()["store_reachable"] is False


def test_health_reports_the_knowledge_and_the_store(client_for: Callable[..., TestClient]) -> None:
    response = client_for().get("/health")
    assert response.status_code == 200
    body = response.json()
    knowledge = default_evaluator().knowledge
    assert body["status"] == "ok" and body["store_reachable"] is True
    assert body["knowledge_version"] == knowledge.version and body["knowledge_hash"] == knowledge.content_hash
    assert set(body["services"]) == {ORDER_SELECT, PATIENT_VIEW}


def test_the_same_record_in_a_prefetch_gives_the_same_case_as_typed_in() -> None:
    case = vignette("contrast-allergy-esi-caution")
    from decision.cds_hooks.prefetch import gather
    from decision.fhir import case_from_resources

    gathered = gather(prefetch_for(case, "x1"), "x1", prefetch_templates())
    imported = case_from_resources(gathered.resources, now=assessment_time(case), case_id=case.get("case_id"))
    assert imported.ignored_input == []
    assert (
        default_evaluator().evaluate(imported.case).model_dump_json()
        == default_evaluator().evaluate(case).model_dump_json()
    )
