"""CDS Hooks requests for the tests: the specification's own examples, with the prefetch replaced
by FHIR R4B resources for a spinal case (a vignette written as a record system would)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

from fhir_bundles import PATIENT, bundle_from_case

from decision.cds_hooks.prefetch import prefetch_templates

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "cds_hooks"
ORDER_SELECT = "spine-cds-order-select"
PATIENT_VIEW = "spine-cds-patient-view"
CPT = "http://www.ama-assn.org/go/cpt"
PROCEDURE_SYSTEM = "urn:spine-cds:fhir:procedure"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def assessment_time(case: dict[str, Any]) -> dt.datetime:
    """The moment the bundle's doses and dates count from (noon UTC on the assessment date)."""
    return dt.datetime.combine(dt.date.fromisoformat(str(case["assessment_date"])), dt.time(12), dt.UTC)


def _resource_type(template: str) -> str:
    return template.split("?", 1)[0].split("/", 1)[0]


def prefetch_for(case: dict[str, Any], patient_id: str) -> dict[str, Any]:
    """Every prefetch key of the discovery answered from the case's record: the Patient read as a
    resource, each search as a searchset Bundle, and a search with no results as null."""
    resources = [entry["resource"] for entry in bundle_from_case(case)["entry"]]
    text = json.dumps(resources).replace(f'"{PATIENT}"', f'"Patient/{patient_id}"')
    resources = json.loads(text)
    for resource in resources:
        if resource["resourceType"] == "Patient":
            resource["id"] = patient_id
    prefetch: dict[str, Any] = {}
    for key, template in prefetch_templates().items():
        kind = _resource_type(template)
        found = [r for r in resources if r["resourceType"] == kind]
        if kind == "Patient":
            prefetch[key] = found[0] if found else None
        elif found:
            prefetch[key] = {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": len(found),
                "entry": [{"fullUrl": f"http://ehr.example/fhir/{kind}/{r['id']}", "resource": r} for r in found],
            }
        else:
            prefetch[key] = None
    return prefetch


def patient_view_request(case: dict[str, Any] | None = None, patient_id: str = "1288992") -> dict[str, Any]:
    """The spec's patient-view example, the FHIR server and token taken out (the prefetch is complete)."""
    request: dict[str, Any] = fixture("patient-view-request.json")
    request["hookInstance"] = str(uuid.uuid4())
    request["context"]["patientId"] = patient_id
    del request["fhirServer"], request["fhirAuthorization"]
    if case is not None:
        request["prefetch"] = prefetch_for(case, patient_id)
    return request


def service_request(order_id: str, coding: list[dict[str, Any]], patient_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "id": order_id,
        "status": "draft",
        "intent": "order",
        "code": {"coding": coding},
        "subject": {"reference": f"Patient/{patient_id}"},
        **extra,
    }


def order_select_request(
    case: dict[str, Any] | None, orders: list[dict[str, Any]], patient_id: str = "1288992"
) -> dict[str, Any]:
    """The spec's order-select (R4) example with injection orders added to the draft orders and
    selected (the spec's diet and medication orders stay, unselected)."""
    context = copy.deepcopy(fixture("order-select-context-r4.json")["context"])
    context["patientId"] = patient_id
    context["selections"] = [f"ServiceRequest/{order['id']}" for order in orders]
    context["draftOrders"]["entry"] += [{"resource": order} for order in orders]
    text = json.dumps(context).replace('"Patient/1288992"', f'"Patient/{patient_id}"')
    request: dict[str, Any] = {"hook": "order-select", "hookInstance": str(uuid.uuid4()), "context": json.loads(text)}
    if case is not None:
        request["prefetch"] = prefetch_for(case, patient_id)
    return request
