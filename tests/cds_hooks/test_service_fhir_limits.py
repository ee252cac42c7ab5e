"""fhirServer is the caller's text: the service fetches only from the FHIR base configured for the
trusted EHR, never from a private address it was not told of, and within one deadline, a request
cap and a byte cap per response, on its own pool, so that a slow or huge FHIR server cannot stall
/health or the other calls. Request bodies are bounded before they are read."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from cds_hooks_requests import PATIENT_VIEW, assessment_time, patient_view_request
from cds_hooks_tokens import DEFAULT_CLIENT, signed, trust_for
from fastapi.testclient import TestClient
from local_server import free_port, wait_until
from vignette_format import load_vignette

from decision.cds_hooks.fhir_client import MAX_REQUESTS, FetchLimits, fetch_prefetch
from decision.cds_hooks.prefetch import prefetch_templates
from decision.cds_hooks.service import MAX_BODY_BYTES, create_app
from decision.settings import Settings

CASE = load_vignette(Path(__file__).resolve().parents[1] / "vignettes" / "esi-duration-4-weeks-indicated.yaml")["case"]
HOOK = f"/cds-services/{PATIENT_VIEW}"
SECRET_ID = "internal-record-7f3a"


class InternalServer:
    """A FHIR-looking server on loopback that counts what reaches it; `drip` sends a byte a second."""

    def __init__(self, drip: bool = False) -> None:
        self.requests: list[dict[str, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append(dict(self.headers))
                body = b'{"resourceType": "Patient", "id": "' + SECRET_ID.encode() + b'"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                self.end_headers()
                try:
                    for byte in body if drip else [body]:
                        self.wfile.write(bytes([byte]) if drip else byte)  # type: ignore[arg-type]
                        self.wfile.flush()
                        if drip:
                            time.sleep(1)
                except OSError:
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/fhir"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def internal() -> Iterator[InternalServer]:
    server = InternalServer()
    yield server
    server.close()


def fhir_request(server: str) -> dict[str, Any]:
    request = patient_view_request(None)
    request.pop("prefetch", None)
    request["fhirServer"] = server
    request["fhirAuthorization"] = {
        "access_token": "callers-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "user/*.read",
        "subject": "spine-cds",
    }
    return request


def test_a_fhir_server_not_configured_for_the_ehr_gets_no_request_and_no_token(
    internal: InternalServer, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 's.sqlite'}",
        service_trust=(trust_for(fhir="https://fhir.hospital.example/r4"),),
    )
    with TestClient(create_app(settings)) as client:
        answer = client.post(HOOK, json=fhir_request(internal.url), headers=signed(HOOK))
    assert answer.status_code == 422 and "fhirServer" in answer.text
    assert internal.requests == [] and SECRET_ID not in answer.text


def test_a_private_address_is_refused_unless_configured(internal: InternalServer) -> None:
    got, failed = fetch_prefetch(internal.url, "token", prefetch_templates(), "p-1")
    assert got == {} and failed == list(prefetch_templates()) and internal.requests == []
    with pytest.raises(Exception, match="private"):
        from decision.cds_hooks.fhir_client import refuse_private_address

        refuse_private_address("https://169.254.169.254/latest")


def test_fetched_resources_ids_are_not_echoed_in_the_422(internal: InternalServer, tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 's.sqlite'}", service_trust=(trust_for(fhir=internal.url),)
    )
    with TestClient(create_app(settings, clock=lambda: assessment_time(CASE))) as client:
        answer = client.post(HOOK, json=fhir_request(internal.url), headers=signed(HOOK))
    assert internal.requests, "the configured loopback test server is used"
    assert answer.status_code == 422 and SECRET_ID not in answer.text
    assert "fhirServer (patient)" in answer.text


def test_a_self_linking_next_stops_at_the_request_cap() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        page = int(request.url.params.get("page", "0")) + 1
        return httpx.Response(
            200,
            json={
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [],
                "link": [{"relation": "next", "url": f"https://ehr.example/fhir/Condition?page={page}"}],
            },
        )

    client = httpx.Client(transport=httpx.MockTransport(handle))
    fetch_prefetch("https://ehr.example/fhir", "t", prefetch_templates(), "p-1", FetchLimits(), client=client)
    assert len(seen) <= MAX_REQUESTS


def test_a_huge_reply_is_cut_off_while_it_streams() -> None:
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        yield b'{"resourceType": "Bundle", "entry": ['
        while sent < 300 * 1024 * 1024:
            sent += 1024 * 1024
            yield b" " * (1024 * 1024)

    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, content=chunks())))
    limits = FetchLimits(max_response_bytes=4 * 1024 * 1024)
    got, failed = fetch_prefetch("https://ehr.example/fhir", "t", {"conditions": "Condition"}, "p", limits, client)
    assert got == {} and failed == ["conditions"] and sent <= 6 * 1024 * 1024


def test_a_dripping_server_is_given_up_at_the_calls_deadline() -> None:
    dripping = InternalServer(drip=True)
    try:
        limits = FetchLimits(deadline=time.monotonic() + 2, private_addresses_allowed=True)
        started = time.monotonic()
        got, failed = fetch_prefetch(dripping.url, "t", prefetch_templates(), "p-1", limits)
        took = time.monotonic() - started
    finally:
        dripping.close()
    assert got == {} and len(failed) == len(prefetch_templates()) and took < 4


@pytest.fixture
def served_with_dripping_fhir(tmp_path: Path) -> Iterator[tuple[str, InternalServer]]:
    dripping = InternalServer(drip=True)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 's.sqlite'}", service_trust=(trust_for(fhir=dripping.url),)
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    assert wait_until(lambda: httpx.get(f"{url}/health", timeout=2).status_code == 200, seconds=30)
    yield url, dripping
    server.should_exit = True
    thread.join(timeout=20)
    dripping.close()


def health_seconds_while_slow_servers_are_fetched(url: str, calls: int) -> tuple[float, list[int]]:
    def call(_: int) -> int:
        headers = {"Authorization": f"Bearer {DEFAULT_CLIENT.token(url + HOOK)}"}
        return httpx.post(url + HOOK, json=fhir_request_for_drip, headers=headers, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=calls) as pool:
        pending = [pool.submit(call, i) for i in range(calls)]
        time.sleep(1.5)
        started = time.monotonic()
        assert httpx.get(f"{url}/health", timeout=30).status_code == 200
        took = time.monotonic() - started
        statuses = [p.result() for p in pending]
    return took, statuses


fhir_request_for_drip: dict[str, Any] = {}


def test_health_answers_at_once_while_45_calls_fetch_from_a_dripping_server(
    served_with_dripping_fhir: tuple[str, InternalServer],
) -> None:
    url, dripping = served_with_dripping_fhir
    fhir_request_for_drip.update(fhir_request(dripping.url))
    took, statuses = health_seconds_while_slow_servers_are_fetched(url, 45)
    print(f"/health took {took:.3f} s while 45 calls fetched from a dripping server")
    assert took < 1.0
    assert set(statuses) <= {200, 422}


def test_a_body_larger_than_allowed_is_refused_by_its_content_length_before_it_is_read(
    served_with_dripping_fhir: tuple[str, InternalServer],
) -> None:
    url, _ = served_with_dripping_fhir
    port = int(url.rsplit(":", 1)[1])
    token = DEFAULT_CLIENT.token(url + HOOK)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            (
                f"POST {HOOK} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n{{"
            ).encode()
        )
        answer = sock.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 413")
