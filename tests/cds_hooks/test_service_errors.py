"""The CDS Hooks service refuses bad requests with the field named, never answers with a
traceback, and logs one line per request with no patient data in it."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cds_hooks_requests import (
    CPT,
    ORDER_SELECT,
    PATIENT_VIEW,
    assessment_time,
    order_select_request,
    patient_view_request,
    service_request,
)
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vignette_format import load_vignette

import decision.cds_hooks.calls
from decision.cds_hooks.service import MAX_BODY_BYTES, create_app
from decision.settings import Settings

CASE = load_vignette(Path(__file__).resolve().parents[1] / "vignettes" / "esi-apixaban-119h-deferred.yaml")["case"]
PATIENT_ID = "pt-SECRET-4711"
NAME = "Wilhelmina-Quuxley"
CONDITION_TEXT = "SECRET-NOTE-radiating-pain"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(
        Settings(database_url=f"sqlite:///{tmp_path / 'store.sqlite'}", service_allow_unauthenticated=True),
        clock=lambda: assessment_time(CASE),
    )
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def request_with_identity() -> dict[str, Any]:
    """A patient-view call whose record carries a name and free text that must never be logged."""
    request = patient_view_request(CASE, patient_id=PATIENT_ID)
    request["prefetch"]["patient"]["name"] = [{"text": NAME}]
    request["prefetch"]["conditions"]["entry"][0]["resource"]["code"]["text"] = CONDITION_TEXT
    return request


def problem(response: Any, status: int) -> list[str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    problems: list[str] = body.get("problems", [])
    return problems


# -- 400, 404, 413, 422 -------------------------------------------------------------------------


def test_a_body_that_is_not_json_is_a_400(client: TestClient) -> None:
    response = client.post(
        f"/cds-services/{PATIENT_VIEW}", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert problem(response, 400) == ["(body): expected a JSON object (UTF-8)"]
    response = client.post(f"/cds-services/{PATIENT_VIEW}", content=b'{"hook": NaN}')
    assert problem(response, 400)


def test_the_wrong_hook_for_the_service_is_a_400_naming_the_hook(client: TestClient) -> None:
    request = patient_view_request(CASE)
    response = client.post(f"/cds-services/{ORDER_SELECT}", json=request)
    assert problem(response, 400) == [f"hook: {ORDER_SELECT} answers 'order-select', not this hook"]


def test_an_unknown_service_is_a_404(client: TestClient) -> None:
    assert problem(client.post("/cds-services/no-such-service", json=patient_view_request(CASE)), 404)
    assert problem(client.post("/cds-services/no-such-service/feedback", json={"feedback": []}), 404)


def test_a_body_too_large_is_a_413(client: TestClient) -> None:
    response = client.post(f"/cds-services/{PATIENT_VIEW}", content=b" " * (MAX_BODY_BYTES + 1))
    assert problem(response, 413)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda r: r["context"].pop("patientId"), "context.patientId: Field required"),
        (lambda r: r["context"].pop("userId"), "context.userId: Field required"),
        (lambda r: r.pop("hookInstance"), "hookInstance: Field required"),
        (lambda r: r.update(hookInstance="call-1"), "hookInstance: expected a UUID"),
        (lambda r: r.pop("context"), "context: Field required"),
        (lambda r: r.update(hook=7), "hook: Input should be a valid string"),
        (lambda r: r["context"].update(patientId=1288992), "context.patientId: Input should be a valid string"),
        (lambda r: r.update(prefetch=[]), "prefetch: Input should be a valid dictionary"),
        (lambda r: r.update(prefech={}), "prefech: unknown field (not part of CDS Hooks 2.0)"),
        (lambda r: r.update(fhirServer="ehr.example/fhir"), "fhirServer: expected the absolute base URL"),
        (
            lambda r: r.update(
                fhirAuthorization={
                    "access_token": "t",
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "scope": "s",
                    "subject": "x",
                }
            ),
            "(body): fhirServer is required when fhirAuthorization is given",
        ),
        (
            lambda r: r["prefetch"].update(conditions="Condition?patient=1"),
            "prefetch.conditions: expected a FHIR resource",
        ),
        (
            lambda r: r["prefetch"]["conditions"]["entry"][0]["resource"].update(
                subject={"reference": "Patient/someone-else"}
            ),
            "prefetch.conditions: Condition/dx0: refers to another patient than context.patientId",
        ),
        (
            lambda r: r["prefetch"]["patient"].update(id="someone-else"),
            "prefetch.patient: Patient/someone-else: is not the patient",
        ),
        (
            lambda r: r["prefetch"]["conditions"]["entry"][0]["resource"].update(clinicalStatus="active"),
            "prefetch.conditions: Condition/dx0: clinicalStatus",
        ),
    ],
)
def test_a_malformed_patient_view_request_is_a_422_naming_the_field(
    change: Callable[[dict[str, Any]], Any], field: str, client: TestClient
) -> None:
    request = patient_view_request(CASE)
    change(request)
    problems = problem(client.post(f"/cds-services/{PATIENT_VIEW}", json=request), 422)
    assert any(line.startswith(field) for line in problems), problems


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda r: r["context"].pop("selections"), "context.selections: Field required"),
        (lambda r: r["context"].update(selections=[]), "context.selections: List should have at least 1 item"),
        (
            lambda r: r["context"].update(selections=["ServiceRequest/nope"]),
            "context.selections.0: not an entry of context.draftOrders",
        ),
        (
            lambda r: r["context"]["draftOrders"]["entry"][-1]["resource"].update(
                subject={"reference": "Patient/other"}
            ),
            "context.selections.0: the order is for another patient",
        ),
        (lambda r: r["context"].pop("draftOrders"), "context.draftOrders: Field required"),
        (
            lambda r: r["context"]["draftOrders"].update(resourceType="List"),
            "context.draftOrders: expected a FHIR Bundle",
        ),
        (
            lambda r: r["context"]["draftOrders"]["entry"][-1]["resource"].pop("intent"),
            "context.draftOrders: ServiceRequest/esi-1: intent",
        ),
    ],
)
def test_a_malformed_order_select_request_is_a_422_naming_the_field(
    change: Callable[[dict[str, Any]], Any], field: str, client: TestClient
) -> None:
    request = order_select_request(CASE, [service_request("esi-1", [{"system": CPT, "code": "62323"}], "1288992")])
    change(request)
    problems = problem(client.post(f"/cds-services/{ORDER_SELECT}", json=request), 422)
    assert any(line.startswith(field) for line in problems), problems


def test_a_json_array_is_a_422(client: TestClient) -> None:
    assert problem(client.post(f"/cds-services/{PATIENT_VIEW}", json=[1, 2]), 422) == ["(body): expected a JSON object"]


def test_refusals_do_not_echo_the_values_given(client: TestClient) -> None:
    request = request_with_identity()
    request["context"]["userId"] = {"name": NAME}
    response = client.post(f"/cds-services/{PATIENT_VIEW}", json=request)
    assert response.status_code == 422 and NAME not in response.text


# -- never a traceback; logs without patient data ----------------------------------------------


def test_an_unexpected_error_is_a_500_json_without_details_and_is_logged_without_patient_data(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"cannot evaluate {PATIENT_ID} {NAME}")

    monkeypatch.setattr(decision.cds_hooks.calls, "evaluate_imported", broken)
    with caplog.at_level(logging.INFO, logger="spine_cds.service"):
        response = client.post(f"/cds-services/{PATIENT_VIEW}", json=request_with_identity())
    assert response.status_code == 500
    assert response.json() == {"error": "internal error; the service logged where it happened"}
    errors = [json.loads(r.getMessage()) for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and errors[0]["error"] == "RuntimeError" and any("broken" in frame for frame in errors[0]["at"])
    assert PATIENT_ID not in caplog.text and NAME not in caplog.text


def test_each_request_is_one_json_log_line_without_patient_data(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    calls = [
        ("post", f"/cds-services/{PATIENT_VIEW}", request_with_identity()),
        (
            "post",
            f"/cds-services/{ORDER_SELECT}",
            order_select_request(
                CASE, [service_request("esi-1", [{"system": CPT, "code": "62323"}], PATIENT_ID)], patient_id=PATIENT_ID
            ),
        ),
        ("post", f"/cds-services/{PATIENT_VIEW}", {**request_with_identity(), "hookInstance": PATIENT_ID}),
        (
            "post",
            f"/cds-services/{PATIENT_VIEW}",
            {
                **request_with_identity(),
                "context": {"userId": "Practitioner/1", "patientId": PATIENT_ID, "prefetch": NAME},
                "prefetch": {"x": NAME},
            },
        ),
        ("post", f"/cds-services/{PATIENT_ID}", request_with_identity()),
        ("get", f"/Patient/{PATIENT_ID}", None),
        ("get", "/cds-services", None),
        ("get", "/health", None),
    ]
    with caplog.at_level(logging.INFO, logger="spine_cds.service"):
        for method, path, body in calls:
            getattr(client, method)(path, **({"json": body} if body is not None else {}))
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "spine_cds.service"]
    requests = [line for line in lines if line["event"] == "request"]
    assert len(requests) == len(calls)
    first = requests[0]
    assert first["service"] == PATIENT_VIEW and first["hook"] == "patient-view" and first["status"] == 200
    assert first["cards"] > 0 and first["hookInstance"] and isinstance(first["duration_ms"], float)
    assert requests[1]["service"] == ORDER_SELECT and requests[1]["cards"] > 0
    assert [line["status"] for line in requests] == [200, 200, 422, 422, 404, 404, 200, 200]
    for text in (PATIENT_ID, NAME, CONDITION_TEXT, "Zebedee"):
        assert text not in caplog.text


# -- fuzzing: random bodies never make a 500 ----------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
VALID = {
    PATIENT_VIEW: patient_view_request(CASE),
    ORDER_SELECT: order_select_request(CASE, [service_request("esi-1", [{"system": CPT, "code": "64483"}], "1288992")]),
}


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _paths(item, (*prefix, index))
    return out


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copied = copy.copy(value)
    copied[path[0]] = _replace(value[path[0]], path[1:], new)
    return copied


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'store.sqlite'}"
    with TestClient(
        create_app(Settings(database_url=url, service_allow_unauthenticated=True)), raise_server_exceptions=False
    ) as test_client:
        yield test_client


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_random_and_mangled_requests_never_make_a_500(data: st.DataObject, fuzz_client: TestClient) -> None:
    service = data.draw(st.sampled_from(sorted(VALID)))
    valid = VALID[service]
    kind = data.draw(st.sampled_from(["random", "mangled", "feedback"]))
    if kind == "random":
        body: Any = data.draw(json_values)
        path = f"/cds-services/{service}"
    elif kind == "mangled":
        where = data.draw(st.sampled_from(_paths(valid)))
        body = _replace(valid, where, data.draw(json_values))
        path = f"/cds-services/{service}"
    else:
        body = data.draw(
            st.fixed_dictionaries(
                {
                    "feedback": st.lists(
                        st.dictionaries(
                            st.sampled_from(
                                ["card", "outcome", "acceptedSuggestions", "overrideReason", "outcomeTimestamp"]
                            ),
                            json_values,
                        ),
                        max_size=3,
                    )
                }
            )
            | json_values
        )
        path = f"/cds-services/{service}/feedback"
    response = fuzz_client.post(path, content=json.dumps(body).encode())
    assert response.status_code in (200, 400, 404, 422), (response.status_code, response.text)
    if response.status_code != 200:
        assert response.json()["error"]
