"""CDS Hooks 2.0 "Trusting CDS Clients": every hook and feedback call carries a JWT signed by a
trusted EHR's own key, for this URL, short-lived and used once; anything else is a 401 that says no
more than that. Feedback is taken only from the EHR the card went to, once per card and outcome."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cds_hooks_requests import PATIENT_VIEW, assessment_time, patient_view_request
from cds_hooks_tokens import TEST_SERVER, SigningClient, signed, trust_for
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient
from vignette_format import load_vignette

from decision.cds_hooks.service import create_app
from decision.settings import Settings
from decision.store import CaseStore

CASE = load_vignette(Path(__file__).resolve().parents[1] / "vignettes" / "esi-duration-4-weeks-indicated.yaml")["case"]
HOOK = f"/cds-services/{PATIENT_VIEW}"
FEEDBACK = f"{HOOK}/feedback"
EHR = SigningClient()
OTHER_EHR = SigningClient(issuer="https://other-ehr.example/cds-client", kid="other-key")


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.sqlite'}"


@pytest.fixture
def client(store_url: str) -> Iterator[TestClient]:
    settings = Settings(database_url=store_url, service_trust=(trust_for(EHR), trust_for(OTHER_EHR)))
    with TestClient(create_app(settings, clock=lambda: assessment_time(CASE))) as test_client:
        yield test_client


def _part(value: dict[str, Any] | bytes) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsigned(claims: dict[str, Any], header: dict[str, Any]) -> str:
    return f"{_part(header)}.{_part(claims)}."


def hmac_signed(claims: dict[str, Any], secret: bytes) -> str:
    """HS256 with the EHR's public key as the secret (the classic algorithm-confusion forgery)."""
    signing_input = f"{_part({'alg': 'HS256', 'kid': EHR.kid, 'typ': 'JWT'})}.{_part(claims)}"
    return f"{signing_input}.{_part(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def forged_tokens() -> dict[str, str]:
    audience = TEST_SERVER + HOOK
    public_pem = EHR.private_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    stranger = SigningClient(issuer=EHR.issuer, kid=EHR.kid)  # the right names, another key
    return {
        "garbage": "not-a-jwt",
        "alg none": unsigned(EHR.claims(audience), {"alg": "none", "kid": EHR.kid, "typ": "JWT"}),
        "HMAC with the public key as secret": hmac_signed(EHR.claims(audience), public_pem),
        "signed by another key": stranger.token(audience),
        "untrusted issuer": SigningClient(issuer="https://attacker.example").token(audience),
        "unknown kid": EHR.token(audience, headers={"kid": "no-such-key"}),
        "another URL as aud": EHR.token(TEST_SERVER + "/cds-services/other"),
        "expired": EHR.token(audience, exp=int(time.time()) - 120, iat=int(time.time()) - 400),
        "exp an hour ahead": EHR.token(audience, exp=int(time.time()) + 3600),
        "no jti": EHR.token(audience, jti=None),
        "no iat": EHR.token(audience, iat=None),
    }


def test_a_call_without_a_token_is_a_401(client: TestClient) -> None:
    response = client.post(HOOK, json=patient_view_request(CASE))
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json() == {
        "error": "not authenticated",
        "problems": ["a bearer JWT from a trusted CDS client is required"],
    }


@pytest.mark.parametrize("name", list(forged_tokens()))
def test_a_forged_or_misused_token_is_a_401_that_says_only_it_was_refused(name: str, client: TestClient) -> None:
    token = forged_tokens()[name]
    for path, body in ((HOOK, patient_view_request(CASE)), (FEEDBACK, {"feedback": []})):
        response = client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
        assert response.json() == {"error": "not authenticated", "problems": ["the bearer token was refused"]}


def test_a_token_signed_by_a_trusted_ehr_for_this_url_is_answered_and_a_replay_is_refused(client: TestClient) -> None:
    headers = signed(HOOK, EHR)
    assert client.post(HOOK, json=patient_view_request(CASE), headers=headers).status_code == 200
    replay = client.post(HOOK, json=patient_view_request(CASE), headers=headers)
    assert replay.status_code == 401 and replay.json()["problems"] == ["the bearer token was refused"]


def test_the_ehrs_jwks_can_be_a_url_it_serves(store_url: str) -> None:
    ehr = SigningClient(issuer="https://served-ehr.example", kid="served-1")
    with ehr.served_jwks() as jwks_url:
        settings = Settings(database_url=store_url, service_trust=(f"{ehr.issuer}={jwks_url}",))
        with TestClient(create_app(settings, clock=lambda: assessment_time(CASE))) as test_client:
            answered = test_client.post(HOOK, json=patient_view_request(CASE), headers=signed(HOOK, ehr))
            stranger = SigningClient(issuer=ehr.issuer, kid="served-1")
            refused = test_client.post(HOOK, json=patient_view_request(CASE), headers=signed(HOOK, stranger))
    assert answered.status_code == 200 and refused.status_code == 401


def test_the_audience_is_the_public_url_when_one_is_configured(store_url: str) -> None:
    public = "https://cds.hospital.example/spine"
    settings = Settings(database_url=store_url, service_trust=(trust_for(EHR),), service_url=public)
    with TestClient(create_app(settings, clock=lambda: assessment_time(CASE))) as test_client:
        as_received = test_client.post(HOOK, json=patient_view_request(CASE), headers=signed(HOOK, EHR))
        as_public = test_client.post(HOOK, json=patient_view_request(CASE), headers=signed(HOOK, EHR, base=public))
    assert as_received.status_code == 401 and as_public.status_code == 200


def test_without_a_trusted_ehr_every_call_is_refused_and_discovery_and_health_still_answer(store_url: str) -> None:
    with TestClient(create_app(Settings(database_url=store_url))) as test_client:
        assert test_client.post(HOOK, json=patient_view_request(CASE), headers=signed(HOOK, EHR)).status_code == 401
        assert test_client.get("/cds-services").status_code == 200
        assert test_client.get("/health").status_code == 200


def test_the_unauthenticated_demo_says_so_on_start(store_url: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="spine_cds.service"):
        app = create_app(Settings(database_url=store_url, service_allow_unauthenticated=True))
    assert "WITHOUT authentication" in caplog.text and "demo" in caplog.text
    with TestClient(app) as test_client:
        assert test_client.post(HOOK, json=patient_view_request(CASE)).status_code == 200


def test_cors_is_off_unless_origins_are_named(store_url: str) -> None:
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    with TestClient(create_app(Settings(database_url=store_url))) as test_client:
        answer = test_client.options(HOOK, headers=preflight)
        assert "access-control-allow-origin" not in answer.headers
        assert "access-control-allow-origin" not in test_client.get("/cds-services", headers=preflight).headers
    named = Settings(database_url=store_url, service_allow_origins=("https://sandbox.cds-hooks.org",))
    with TestClient(create_app(named)) as test_client:
        allowed = test_client.options(HOOK, headers={**preflight, "Origin": "https://sandbox.cds-hooks.org"})
        refused = test_client.options(HOOK, headers=preflight)
    assert allowed.headers["access-control-allow-origin"] == "https://sandbox.cds-hooks.org"
    assert "access-control-allow-origin" not in refused.headers


def issued_card(client: TestClient) -> dict[str, Any]:
    cards = client.post(HOOK, json=patient_view_request(CASE), headers=signed(HOOK, EHR)).json()["cards"]
    return next(card for card in cards if card.get("uuid"))


def feedback(card: dict[str, Any], outcome: str = "overridden") -> dict[str, Any]:
    return {"feedback": [{"card": card["uuid"], "outcome": outcome, "outcomeTimestamp": "2026-10-01T10:05:31Z"}]}


def test_feedback_from_another_trusted_ehr_is_answered_as_an_unknown_card(client: TestClient, store_url: str) -> None:
    card = issued_card(client)
    answer = client.post(FEEDBACK, json=feedback(card), headers=signed(FEEDBACK, OTHER_EHR))
    assert answer.status_code == 404
    assert [e.action for e in CaseStore(store_url).audit_trail()].count("CDS Hooks feedback") == 0


def test_200_forged_feedback_calls_on_one_card_record_one_entry(client: TestClient, store_url: str) -> None:
    card = issued_card(client)
    statuses = [
        client.post(FEEDBACK, json=feedback(card), headers=signed(FEEDBACK, EHR)).status_code for _ in range(200)
    ]
    assert statuses.count(200) == 1 and statuses.count(409) == 199
    assert [e.action for e in CaseStore(store_url).audit_trail()].count("CDS Hooks feedback") == 1


def test_the_audit_names_the_issuer_the_subject_and_the_ehr_user(client: TestClient, store_url: str) -> None:
    card = issued_card(client)
    assert client.post(FEEDBACK, json=feedback(card), headers=signed(FEEDBACK, EHR)).status_code == 200
    trail = CaseStore(store_url).audit_trail()
    issued = next(e for e in trail if e.action == "CDS Hooks cards issued")
    given = next(e for e in trail if e.action == "CDS Hooks feedback")
    user = patient_view_request(CASE)["context"]["userId"]
    for entry in (issued, given):
        recorded = json.loads(entry.who.removeprefix("CDS Hooks client "))
        assert recorded == {"iss": EHR.issuer, "sub": "ehr-client-id", "userId": user}
