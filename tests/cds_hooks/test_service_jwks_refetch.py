"""A token with a kid the service does not know makes it fetch the EHR's JWK Set again, but at most
once per interval per issuer: forged kids cannot turn the service into a flood of outbound requests
(to the EHR, or to whatever its JWKS URL points at), whether the JWKS server answers or fails."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cds_hooks_requests import PATIENT_VIEW, assessment_time, patient_view_request
from cds_hooks_tokens import TEST_SERVER, JwksServer, SigningClient, signed
from fastapi.testclient import TestClient
from vignette_format import load_vignette

import decision.cds_hooks.trust
from decision.cds_hooks.service import create_app
from decision.settings import Settings

CASE = load_vignette(Path(__file__).resolve().parents[1] / "vignettes" / "esi-duration-4-weeks-indicated.yaml")["case"]
HOOK = f"/cds-services/{PATIENT_VIEW}"
FORGED_KIDS = 50


@contextmanager
def service_trusting(ehr: SigningClient, jwks: JwksServer, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'store.sqlite'}", service_trust=(f"{ehr.issuer}={jwks.url}",)
    )
    with TestClient(create_app(settings, clock=lambda: assessment_time(CASE))) as client:
        yield client


def forged_kid_call(client: TestClient, ehr: SigningClient) -> int:
    token = ehr.token(TEST_SERVER + HOOK, headers={"kid": f"forged-{uuid.uuid4()}"})
    answer = client.post(HOOK, json=patient_view_request(CASE), headers={"Authorization": f"Bearer {token}"})
    return answer.status_code


def test_fifty_forged_kids_make_no_request_beyond_the_first_fetch(tmp_path: Path) -> None:
    ehr = SigningClient(issuer="https://jwks-ehr.example", kid="real-1")
    jwks = JwksServer(ehr)
    try:
        with service_trusting(ehr, jwks, tmp_path) as client:
            assert client.post(HOOK, json=patient_view_request(CASE), headers=signed(HOOK, ehr)).status_code == 200
            statuses = [forged_kid_call(client, ehr) for _ in range(FORGED_KIDS)]
            assert client.post(HOOK, json=patient_view_request(CASE), headers=signed(HOOK, ehr)).status_code == 200
    finally:
        jwks.close()
    assert statuses == [401] * FORGED_KIDS
    assert jwks.requests == 1


def test_a_failing_jwks_server_is_asked_once_per_interval_not_once_per_forged_kid(tmp_path: Path) -> None:
    ehr = SigningClient(issuer="https://down-ehr.example", kid="real-1")
    jwks = JwksServer(ehr, failing=True)
    try:
        with service_trusting(ehr, jwks, tmp_path) as client:
            statuses = [forged_kid_call(client, ehr) for _ in range(FORGED_KIDS)]
    finally:
        jwks.close()
    assert statuses == [401] * FORGED_KIDS
    assert jwks.requests == 1


def test_a_rotated_key_is_fetched_once_the_interval_has_passed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decision.cds_hooks.trust, "JWKS_REFETCH_SECONDS", 0.5)
    ehr = SigningClient(issuer="https://rotating-ehr.example", kid="key-2026")
    jwks = JwksServer(ehr)
    try:
        with service_trusting(ehr, jwks, tmp_path) as client:
            assert client.post(HOOK, json=patient_view_request(CASE), headers=signed(HOOK, ehr)).status_code == 200
            rotated = SigningClient(issuer=ehr.issuer, kid="key-2027")
            jwks_of_rotated = rotated.jwks()
            ehr.jwks = lambda: jwks_of_rotated  # type: ignore[method-assign]  # the EHR now publishes its new key
            assert client.post(HOOK, json=patient_view_request(CASE), headers=signed(HOOK, rotated)).status_code == 401
            assert jwks.requests == 1  # within the interval: not asked again
            time.sleep(0.6)
            assert client.post(HOOK, json=patient_view_request(CASE), headers=signed(HOOK, rotated)).status_code == 200
    finally:
        jwks.close()
    assert jwks.requests == 2
