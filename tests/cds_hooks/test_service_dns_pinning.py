"""The address checked is the address connected to: a FHIR server's name that resolves to a public
address when checked and to loopback a moment later (DNS rebinding) never leads a request to the
service's own network."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from test_service_fhir_limits import InternalServer

from decision.cds_hooks.fhir_client import FetchLimits, fetch_prefetch
from decision.cds_hooks.prefetch import PATIENT_TOKEN

REBINDING = "fhir.rebinding.example"
PUBLIC = "93.184.215.14"
"""A public address the test never lets a connection reach (connecting to it is refused below)."""
TEMPLATES = {"patient": f"Patient/{PATIENT_TOKEN}", "conditions": f"Condition?patient={PATIENT_TOKEN}"}


class RebindingResolver:
    """Answers the name with a public address the first time and with 127.0.0.1 every time after."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.asked = 0

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != REBINDING:
            return self.real(host, port, *args, **kwargs)
        self.asked += 1
        address = PUBLIC if self.asked == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port)))]


@pytest.fixture
def internal() -> Iterator[InternalServer]:
    server = InternalServer()
    yield server
    server.close()


def test_a_name_rebound_to_loopback_after_the_check_gets_no_request_to_loopback(
    internal: InternalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolver = RebindingResolver(socket.getaddrinfo)
    connected_to: list[str] = []
    real_connect = socket.create_connection

    def connect(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        connected_to.append(address[0])
        if address[0] == PUBLIC:
            raise OSError("network unreachable (the test's stand-in for the public host)")
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    monkeypatch.setattr(socket, "create_connection", connect)
    port = int(internal.url.split(":")[2].split("/")[0])
    limits = FetchLimits(deadline=time.monotonic() + 3)
    got, failed = fetch_prefetch(f"http://{REBINDING}:{port}/fhir", "callers-token", TEMPLATES, "p-1", limits)
    assert internal.requests == []  # nothing reached the loopback server, the token least of all
    assert got == {} and set(failed) == set(TEMPLATES)
    assert connected_to and set(connected_to) == {PUBLIC}
    assert resolver.asked == 1  # resolved once, for the check; the connection used that answer


def test_the_pinned_requests_host_header_never_carries_credentials_written_into_the_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A FHIR base written as https://user:secret@host/ must not send `user:secret@host` as the
    Host header of every request: the header is the server's name and port only."""
    from decision.cds_hooks.fhir_client import resolve_checked

    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(socket.AF_INET, 1, 6, "", ("93.184.216.34", 443))])
    pinned = resolve_checked("https://user:secret@fhir.example.org:8443/r4")
    _url, headers, extensions = pinned.request("https://user:secret@fhir.example.org:8443/r4/Patient/1")
    assert headers == {"Host": "fhir.example.org:8443"} and extensions == {"sni_hostname": "fhir.example.org"}
    plain = resolve_checked("https://fhir.example.org/r4")
    assert plain.request("https://fhir.example.org/r4/Patient/1")[1] == {"Host": "fhir.example.org"}
