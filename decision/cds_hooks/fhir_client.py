"""Fetch what the EHR did not prefetch from its FHIR server, when it hands over a token for that.

CDS Hooks lets a client pass `fhirServer` and `fhirAuthorization` instead of (or besides) the
prefetch; the service then runs its own prefetch templates there. The token is the client's, so
it is sent only to that server's origin (a `next` link elsewhere is not followed), never logged,
and never stored.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from decision.cds_hooks.prefetch import PATIENT_TOKEN

MAX_PAGES = 10
TIMEOUT_SECONDS = 3.0
TOTAL_SECONDS = 6.0
"""CDS Hooks asks services to answer quickly; what cannot be fetched in time stays unknown, and the card says so."""

# httpx logs every URL at INFO, and a FHIR query URL carries the patient id.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def fetch_prefetch(
    fhir_server: str,
    access_token: str,
    templates: dict[str, str],
    patient_id: str,
    client: httpx.Client | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Run each template against the server. Returns the prefetch values it got (a resource, a
    searchset Bundle with every page it could follow, or None for "no such resource") and the
    keys it could not get."""
    own = client is None
    http = client or httpx.Client(timeout=TIMEOUT_SECONDS)
    headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/fhir+json"}
    base = fhir_server.rstrip("/")
    got: dict[str, Any] = {}
    failed: list[str] = []
    deadline = time.monotonic() + TOTAL_SECONDS
    reachable = True
    try:
        for key, template in templates.items():
            if not reachable or time.monotonic() > deadline:
                failed.append(key)  # a card late is a card not read: stop asking an unreachable server
                continue
            url = f"{base}/{template.replace(PATIENT_TOKEN, quote(patient_id, safe=''))}"
            try:
                got[key] = _get(http, url, headers, _origin(base))
            except (httpx.TransportError, httpx.TooManyRedirects):
                reachable = False
                failed.append(key)
            except (httpx.HTTPError, ValueError):
                failed.append(key)
    finally:
        if own:
            http.close()
    return got, failed


def _get(http: httpx.Client, url: str, headers: dict[str, str], origin: tuple[str, str]) -> Any:
    response = http.get(url, headers=headers)
    if response.status_code == 404 and "?" not in url:
        return None  # a read of a resource the server does not have
    response.raise_for_status()
    data = response.json()
    if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
        raise ValueError("not a FHIR resource")
    if data["resourceType"] != "Bundle":
        return data
    entries = list(data.get("entry") or [])
    for _ in range(MAX_PAGES - 1):
        following = next((link.get("url") for link in data.get("link") or [] if link.get("relation") == "next"), None)
        if not isinstance(following, str) or _origin(following) != origin:
            break
        data = http.get(following, headers=headers).raise_for_status().json()
        entries += list(data.get("entry") or [])
    else:
        data = {**data, "link": [link for link in data.get("link") or [] if link.get("relation") == "next"]}
        return {**data, "entry": entries}
    return {"resourceType": "Bundle", "type": "searchset", "entry": entries}
