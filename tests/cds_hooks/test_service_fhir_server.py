"""When the EHR hands over its FHIR server and a token instead of a prefetch, the service runs its
own prefetch templates there, sends the token only to that server, and says what it could not get."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from cds_hooks_requests import PATIENT_VIEW, assessment_time, patient_view_request, prefetch_for
from cds_hooks_tokens import signed, trust_for
from fastapi.testclient import TestClient
from vignette_format import load_vignette

from decision.cds_hooks.fhir_client import FetchLimits, fetch_prefetch
from decision.cds_hooks.prefetch import prefetch_templates
from decision.cds_hooks.service import create_app
from decision.settings import Settings

CASE = load_vignette(Path(__file__).resolve().parents[1] / "vignettes" / "esi-apixaban-119h-deferred.yaml")["case"]
SERVER = "https://ehr.example/fhir"
TOKEN = "secret-token-abc"


def fake_server(record: dict[str, Any], seen: list[httpx.Request]) -> httpx.MockTransport:
    """A FHIR server that answers each template as the record's prefetch would, the Observation
    search in two pages, the second page behind a `next` link."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return httpx.Response(401)
        path = request.url.path.removeprefix("/fhir/")
        kind = path.split("/")[0]
        if request.url.params.get("page") == "2":
            bundle = record["observations"]
            return httpx.Response(200, json={**bundle, "entry": bundle["entry"][1:]})
        key = next(k for k, t in prefetch_templates().items() if t.split("?")[0].split("/")[0] == kind)
        value = record[key]
        if value is None:
            if kind == "Patient":
                return httpx.Response(404)
            return httpx.Response(200, json={"resourceType": "Bundle", "type": "searchset", "entry": []})
        if key == "observations":
            return httpx.Response(
                200,
                json={
                    **value,
                    "entry": value["entry"][:1],
                    "link": [{"relation": "next", "url": f"{SERVER}/Observation?page=2"}],
                },
            )
        return httpx.Response(200, json=value)

    return httpx.MockTransport(handle)


def test_the_templates_run_on_the_server_with_the_token_and_every_page_is_read() -> None:
    record = prefetch_for(CASE, "p-1")
    seen: list[httpx.Request] = []
    client = httpx.Client(transport=fake_server(record, seen))
    got, failed = fetch_prefetch(SERVER, TOKEN, prefetch_templates(), "p-1", client=client)
    assert failed == []
    assert got["patient"]["id"] == "p-1"
    assert len(got["observations"]["entry"]) == len(record["observations"]["entry"])
    assert str(seen[0].url) == f"{SERVER}/Patient/p-1"
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in seen)
    conditions = next(r for r in seen if r.url.path.endswith("/Condition"))
    assert conditions.url.params["patient"] == "p-1"


def test_a_next_link_to_another_server_is_not_followed_with_the_token() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [],
                "link": [{"relation": "next", "url": "https://elsewhere.example/steal"}],
            },
        )

    client = httpx.Client(transport=httpx.MockTransport(handle))
    got, failed = fetch_prefetch(
        SERVER, TOKEN, {"conditions": "Condition?patient={{context.patientId}}"}, "p-1", client=client
    )
    assert failed == [] and got["conditions"]["entry"] == []
    assert {r.url.host for r in seen} == {"ehr.example"}


def test_an_unreachable_server_is_given_up_at_once_and_every_key_reported() -> None:
    calls: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("refused", request=request)

    client = httpx.Client(transport=httpx.MockTransport(handle))
    got, failed = fetch_prefetch(SERVER, TOKEN, prefetch_templates(), "p-1", client=client)
    assert got == {} and failed == list(prefetch_templates()) and len(calls) == 1


def test_a_hook_call_without_prefetch_is_answered_from_the_fhir_server(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    record = prefetch_for(CASE, "p-1")
    seen: list[httpx.Request] = []
    transport = fake_server(record, seen)

    def fetch(server: str, token: str, templates: dict[str, str], patient_id: str, limits: FetchLimits) -> Any:
        return fetch_prefetch(server, token, templates, patient_id, limits, client=httpx.Client(transport=transport))

    settings = Settings(database_url=f"sqlite:///{tmp_path / 's.sqlite'}", service_trust=(trust_for(fhir=SERVER),))
    request = patient_view_request(None, patient_id="p-1")
    request.pop("prefetch")
    request["fhirServer"] = SERVER
    request["fhirAuthorization"] = {
        "access_token": TOKEN,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "user/*.read",
        "subject": "spine-cds",
    }
    with (
        caplog.at_level(logging.DEBUG),
        TestClient(create_app(settings, clock=lambda: assessment_time(CASE), fetch=fetch)) as client,
    ):
        url = f"/cds-services/{PATIENT_VIEW}"
        from_server = client.post(url, json=request, headers=signed(url)).json()["cards"]
        prefetched = client.post(url, json=patient_view_request(CASE, patient_id="p-1"), headers=signed(url)).json()[
            "cards"
        ]
    assert [c["summary"] for c in from_server] == [c["summary"] for c in prefetched]
    assert seen and '"event": "request"' in caplog.text
    assert TOKEN not in caplog.text and "p-1" not in caplog.text  # httpx would log each URL
    assert "Not sent by the EHR" not in json.dumps(from_server)
