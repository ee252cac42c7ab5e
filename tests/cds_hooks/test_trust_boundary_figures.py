"""The trust boundary's figures (issue 13), measured in one run and printed:

    .venv/bin/pytest -s -q tests/cds_hooks/test_trust_boundary_figures.py

- forged or misused calls refused (no token, garbage, `alg: none`, HMAC with the public key, another
  key, an untrusted issuer, an unknown kid, another URL as `aud`, expired, `exp` an hour ahead, no
  `jti`, no `iat`, each to a hook and to feedback; a replayed token) and feedback entries written
  when one card's feedback is sent 200 times;
- requests and connections that reached internal addresses while fhirServer was aimed at them (not
  configured, a name resolving to loopback, a link-local metadata address, DNS rebinding);
- how long `/health` takes while 45 calls fetch from a FHIR server that drips a byte a second.
"""

from __future__ import annotations

import ipaddress
import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from cds_hooks_requests import assessment_time, patient_view_request
from cds_hooks_tokens import DEFAULT_CLIENT, signed, trust_for
from fastapi.testclient import TestClient
from local_server import free_port, wait_until
from test_service_auth import CASE, EHR, FEEDBACK, HOOK, OTHER_EHR, feedback, forged_tokens, issued_card
from test_service_fhir_limits import InternalServer, fhir_request

from decision.cds_hooks.fhir_client import FetchLimits, fetch_prefetch
from decision.cds_hooks.prefetch import PATIENT_TOKEN
from decision.settings import Settings
from decision.store import CaseStore

TEMPLATES = {"patient": f"Patient/{PATIENT_TOKEN}", "conditions": f"Condition?patient={PATIENT_TOKEN}"}
SLOW_CALLS = 45
HEALTH_SAMPLES = 10


def _create_app(settings: Settings) -> Any:
    from decision.cds_hooks.service import create_app

    return create_app(settings, clock=lambda: assessment_time(CASE))


def refused_forged_calls(store_url: str) -> dict[str, int]:
    settings = Settings(database_url=store_url, service_trust=(trust_for(EHR), trust_for(OTHER_EHR)))
    sent = refused = 0
    with TestClient(_create_app(settings)) as client:
        for path, body in ((HOOK, patient_view_request(CASE)), (FEEDBACK, {"feedback": []})):
            for token in [None, *forged_tokens().values()]:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                sent += 1
                refused += client.post(path, json=body, headers=headers).status_code == 401
        replayed = signed(HOOK, EHR)
        client.post(HOOK, json=patient_view_request(CASE), headers=replayed)
        sent += 1
        refused += client.post(HOOK, json=patient_view_request(CASE), headers=replayed).status_code == 401
        card = issued_card(client)
        for _ in range(200):
            client.post(FEEDBACK, json=feedback(card), headers=signed(FEEDBACK, EHR))
    written = [e.action for e in CaseStore(store_url).audit_trail()].count("CDS Hooks feedback")
    return {"forged calls sent": sent, "refused (401)": refused, "feedback entries written of 200 sent": written}


def internal_requests(store_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    internal = InternalServer()
    port = int(internal.url.split(":")[2].split("/")[0])
    private_connections: list[str] = []
    rebinding_answers = iter(["93.184.215.14"])
    names = {"loopback.example": lambda: "127.0.0.1", "rebinding.example": lambda: next(rebinding_answers, "127.0.0.1")}
    real_resolve, real_connect = socket.getaddrinfo, socket.create_connection

    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in names:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (names[host](), int(port)))]
        return real_resolve(host, port, *args, **kwargs)

    def connect(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        try:
            if not ipaddress.ip_address(address[0]).is_global:
                private_connections.append(address[0])
            else:
                raise OSError("the test lets no connection leave the machine")
        except ValueError:
            private_connections.append(address[0])  # a name connected to unresolved: not pinned
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    try:
        settings = Settings(database_url=store_url, service_trust=(trust_for(fhir="https://fhir.hospital.example/r4"),))
        with TestClient(_create_app(settings)) as client:
            client.post(HOOK, json=fhir_request(internal.url), headers=signed(HOOK))  # not the configured base
        monkeypatch.setattr(socket, "create_connection", connect)
        for server in (
            internal.url,  # loopback, not configured as private
            f"http://loopback.example:{port}/fhir",  # a name that resolves to loopback
            "http://169.254.169.254/latest",  # the cloud metadata address
            f"http://rebinding.example:{port}/fhir",  # public when checked, loopback after
        ):
            fetch_prefetch(server, "callers-token", TEMPLATES, "p-1", FetchLimits(deadline=time.monotonic() + 2))
    finally:
        internal.close()
    return {
        "attempts aimed at internal addresses": 5,
        "requests that reached the internal server": len(internal.requests),
        "connections opened to non-public addresses": len(private_connections),
    }


def health_while_slow_servers_are_fetched(store_url: str) -> dict[str, float]:
    dripping = InternalServer(drip=True)
    settings = Settings(database_url=store_url, service_trust=(trust_for(fhir=dripping.url),))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(_create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(lambda: httpx.get(f"{url}/health", timeout=2).status_code == 200, seconds=30)
        body = fhir_request(dripping.url)

        def call(_: int) -> int:
            headers = {"Authorization": f"Bearer {DEFAULT_CLIENT.token(url + HOOK)}"}
            return httpx.post(url + HOOK, json=body, headers=headers, timeout=60).status_code

        with ThreadPoolExecutor(max_workers=SLOW_CALLS) as pool:
            pending = [pool.submit(call, i) for i in range(SLOW_CALLS)]
            time.sleep(1.5)
            took = []
            for _ in range(HEALTH_SAMPLES):
                started = time.monotonic()
                assert httpx.get(f"{url}/health", timeout=30).status_code == 200
                took.append(time.monotonic() - started)
            fetching = sum(not p.done() for p in pending)
            [p.result() for p in pending]
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        dripping.close()
    return {
        "calls fetching when /health was asked": fetching,
        "/health median s": round(statistics.median(took), 3),
        "/health max s": round(max(took), 3),
    }


def test_the_trust_boundarys_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figures = {
        **refused_forged_calls(f"sqlite:///{tmp_path / 'forged.sqlite'}"),
        **internal_requests(f"sqlite:///{tmp_path / 'internal.sqlite'}", monkeypatch),
    }
    monkeypatch.undo()
    figures.update(health_while_slow_servers_are_fetched(f"sqlite:///{tmp_path / 'slow.sqlite'}"))
    print("\ntrust boundary figures (issue 13)")
    for name, value in figures.items():
        print(f"  {name}: {value}")
    assert figures["refused (401)"] == figures["forged calls sent"]
    assert figures["feedback entries written of 200 sent"] == 1
    assert figures["requests that reached the internal server"] == 0
    assert figures["connections opened to non-public addresses"] == 0
    assert figures["/health max s"] < 1.0
