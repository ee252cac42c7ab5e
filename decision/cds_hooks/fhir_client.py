"""Fetch what the EHR did not prefetch from its FHIR server, when it hands over a token for that.

CDS Hooks lets a client pass `fhirServer` and `fhirAuthorization` instead of (or besides) the
prefetch; the service then runs its own prefetch templates there. The server is the one configured
for the client's issuer (decision.cds_hooks.trust), never just the one a request names, and the
token is the client's, so it is sent only to that server's origin (a `next` link elsewhere is not
followed), never logged, and never stored.

Everything is bounded, because a FHIR server can be slow, huge or hostile: one wall-clock deadline
for all the fetching of a call, a number of requests per call, a number of bytes per response
(counted while it streams, after decompression), and addresses that must not be private,
loopback or link-local unless the site configured them so.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from decision.cds_hooks.prefetch import PATIENT_TOKEN

MAX_PAGES = 10
MAX_REQUESTS = 25
"""Per call: the eleven templates and a few pages each; a self-linking `next` stops here."""
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
TIMEOUT_SECONDS = 3.0
TOTAL_SECONDS = 6.0
"""CDS Hooks asks services to answer quickly; what cannot be fetched in time stays unknown, and the card says so."""

# httpx logs every URL at INFO, and a FHIR query URL carries the patient id.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)


class FetchRefused(Exception):
    """A response or a server the limits refuse (too large, too late, too many, a private address)."""


@dataclass
class FetchLimits:
    """The bounds of one call's fetching; `deadline` is on the monotonic clock."""

    deadline: float = field(default_factory=lambda: time.monotonic() + TOTAL_SECONDS)
    max_requests: int = MAX_REQUESTS
    max_response_bytes: int = MAX_RESPONSE_BYTES
    private_addresses_allowed: bool = False
    """The site configured a FHIR base on loopback or inside its network for this issuer."""
    requests_made: int = 0

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


@dataclass(frozen=True)
class Pinned:
    """The FHIR server's name and the one address its requests go to (checked once, connected to as is)."""

    netloc: str
    host: str
    address: str

    def request(self, url: str) -> tuple[str, dict[str, str], dict[str, Any]]:
        """`url` with its host replaced by the address; the Host header and TLS's server name (SNI, and
        the name the certificate is checked against) stay the server's name."""
        target = httpx.URL(url)
        if target.host != self.host:
            raise FetchRefused("a request to another host than the FHIR server's")
        return str(target.copy_with(host=self.address)), {"Host": self.netloc}, {"sni_hostname": self.host}


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def resolve_checked(url: str, private_allowed: bool = False) -> Pinned:
    """The FHIR server's name resolved once; unless `private_allowed`, refused when any address it
    resolves to is private, loopback or link-local (a request forged through fhirServer could
    otherwise reach the service's own network). Every request of the call then connects to the
    address returned, never to the name resolved again: a DNS answer that changes between the check
    and the connection (DNS rebinding) cannot lead to an internal server."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(
            host, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    except (OSError, UnicodeError, ValueError):
        raise FetchRefused("the FHIR server's name does not resolve") from None
    if not addresses:
        raise FetchRefused("the FHIR server's name does not resolve")
    if not private_allowed and not all(_public(address) for address in addresses):
        raise FetchRefused("the FHIR server resolves to a private, loopback or link-local address")
    return Pinned(netloc=_host_header(parts.hostname or "", parts.port), host=host, address=str(addresses[0]))


def _host_header(host: str, port: int | None) -> str:
    """The Host header: the server's name and port only. The URL's netloc would also carry any
    user:password written into it, sent then as a header of every request."""
    name = f"[{host}]" if ":" in host else host
    return f"{name}:{port}" if port else name


def refuse_private_address(url: str) -> None:
    """Raises FetchRefused when the host resolves to an address that is not public."""
    resolve_checked(url, private_allowed=False)


def fetch_prefetch(
    fhir_server: str,
    access_token: str,
    templates: dict[str, str],
    patient_id: str,
    limits: FetchLimits | None = None,
    client: httpx.Client | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Run each template against the server. Returns the prefetch values it got (a resource, a
    searchset Bundle with every page it could follow, or None for "no such resource") and the
    keys it could not get."""
    limits = limits or FetchLimits()
    own = client is None
    headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/fhir+json"}
    base = fhir_server.rstrip("/")
    got: dict[str, Any] = {}
    failed: list[str] = []
    reachable = True
    pinned = None
    if own:  # our own client connects: to the address checked (a client handed in is the caller's to bound)
        try:
            pinned = resolve_checked(base, limits.private_addresses_allowed)
        except FetchRefused:
            return {}, list(templates)
    http = client or httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False, trust_env=False)
    try:
        for key, template in templates.items():
            if not reachable or limits.remaining() <= 0 or limits.requests_made >= limits.max_requests:
                failed.append(key)  # a card late is a card not read: stop asking an unreachable server
                continue
            url = f"{base}/{template.replace(PATIENT_TOKEN, quote(patient_id, safe=''))}"
            try:
                got[key] = _get_all_pages(http, url, headers, _origin(base), limits, pinned)
            except (httpx.TransportError, httpx.TooManyRedirects):
                reachable = False
                failed.append(key)
            except (httpx.HTTPError, ValueError, FetchRefused):
                failed.append(key)
    finally:
        if own:
            http.close()
    return got, failed


def _get(
    http: httpx.Client, url: str, headers: dict[str, str], limits: FetchLimits, pinned: Pinned | None = None
) -> tuple[int, Any]:
    """One GET within the limits, to the pinned address when there is one: the status and the parsed
    JSON body (None for a 404)."""
    if limits.requests_made >= limits.max_requests:
        raise FetchRefused("too many requests for one call")
    remaining = limits.remaining()
    if remaining <= 0:
        raise FetchRefused("the call's fetching deadline has passed")
    limits.requests_made += 1
    timeout = httpx.Timeout(min(TIMEOUT_SECONDS, remaining))
    extensions: dict[str, Any] = {}
    if pinned is not None:
        url, host, extensions = pinned.request(url)
        headers = {**headers, **host}
    with http.stream("GET", url, headers=headers, timeout=timeout, extensions=extensions) as response:
        if response.status_code == 404:
            return 404, None
        response.raise_for_status()
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limits.max_response_bytes:
            raise FetchRefused("the response is larger than allowed")
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > limits.max_response_bytes:
                raise FetchRefused("the response is larger than allowed")
            if limits.remaining() <= 0:
                raise FetchRefused("the call's fetching deadline has passed")
    return response.status_code, json.loads(bytes(body))


def _get_all_pages(
    http: httpx.Client,
    url: str,
    headers: dict[str, str],
    origin: tuple[str, str],
    limits: FetchLimits,
    pinned: Pinned | None = None,
) -> Any:
    status, data = _get(http, url, headers, limits, pinned)
    if status == 404:
        if "?" not in url:
            return None  # a read of a resource the server does not have
        raise ValueError("a search answered 404")
    if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
        raise ValueError("not a FHIR resource")
    if data["resourceType"] != "Bundle":
        return data
    entries = list(data.get("entry") or [])
    visited = {url}
    for _ in range(MAX_PAGES - 1):
        following = next((link.get("url") for link in data.get("link") or [] if link.get("relation") == "next"), None)
        if not isinstance(following, str) or _origin(following) != origin or following in visited:
            break
        visited.add(following)
        _, data = _get(http, following, headers, limits, pinned)
        if not isinstance(data, dict):
            raise ValueError("not a FHIR Bundle")
        entries += list(data.get("entry") or [])
    else:
        data = {**data, "link": [link for link in data.get("link") or [] if link.get("relation") == "next"]}
        return {**data, "entry": entries}
    return {"resourceType": "Bundle", "type": "searchset", "entry": entries}
