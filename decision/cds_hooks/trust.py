"""Which CDS clients (EHRs) the service trusts, and the check of the JWT each of their calls carries.

CDS Hooks 2.0, "Trusting CDS Clients": every call carries `Authorization: Bearer <JWT>` signed by
the client with a key it publishes as a JWK Set; the JWT's `iss` names the client, `aud` is the
URL called, `exp` is near (the spec: no more than five minutes ahead), and `jti` is never used
twice. The service trusts only the issuers it is configured with (`spine-cds serve --trust
ISSUER=JWKS[,fhir=BASE]`, or `--trust-file`), each with its JWK Set (a URL or a file) and the FHIR
base its `fhirServer` must be.

A refusal says only that the token was missing or refused: which check failed is logged (without
the token), never told to the caller, who could otherwise probe the checks one by one.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import yaml

from decision.settings import Settings, SettingsError

logger = logging.getLogger("spine_cds.service")

ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
"""Signatures with a public key only: never `none`, never HMAC (a shared secret is not a client's own key)."""
MAX_TOKEN_SECONDS = 300
"""How far ahead `exp` may be (CDS Hooks 2.0: "not more than 5 minutes in the future")."""
CLOCK_SKEW_SECONDS = 30
JWKS_TIMEOUT_SECONDS = 5.0
JWKS_LIFESPAN_SECONDS = 300.0
"""Keys fetched from a JWKS URL are used this long, then fetched again (a revoked key goes within it)."""
JWKS_REFETCH_SECONDS = 30.0
"""Per issuer, at most one JWKS fetch in this many seconds for kids not among the keys: an EHR that
rotated its key is heard within it, and forged kids cannot make the service flood anyone with requests."""


class AuthenticationError(Exception):
    """A call without an acceptable token. `reason` is for the log only; the caller is told less."""

    def __init__(self, reason: str, told: str = "the bearer token was refused") -> None:
        super().__init__(reason)
        self.reason = reason
        self.told = told


@dataclass(frozen=True)
class ClientIdentity:
    """Who called: the JWT's issuer and subject, and the EHR's user from the hook's context."""

    issuer: str | None
    subject: str | None

    @property
    def authenticated(self) -> bool:
        return self.issuer is not None

    def who(self, user_id: str | None = None) -> str:
        """The audit entry's "who": JSON after a fixed prefix, so that it reads back exactly."""
        fields: dict[str, Any] = {"iss": self.issuer, "sub": self.subject, "userId": user_id}
        if not self.authenticated:
            fields = {"authenticated": False, "userId": user_id}
        return f"{WHO_PREFIX}{json.dumps(fields, sort_keys=True)}"

    @staticmethod
    def issuer_in(who: str) -> str | None:
        """The issuer recorded by `who` (None: unauthenticated or not written by this service)."""
        issuer = ClientIdentity._recorded(who).get("iss")
        return issuer if isinstance(issuer, str) else None

    @staticmethod
    def user_in(who: str) -> str | None:
        """The EHR user (context.userId) recorded by `who`."""
        recorded = ClientIdentity._recorded(who)
        user = recorded.get("userId")
        return user if isinstance(user, str) else None

    @staticmethod
    def _recorded(who: str) -> dict[str, Any]:
        if not who.startswith(WHO_PREFIX):
            return {}
        try:
            recorded = json.loads(who[len(WHO_PREFIX) :])
        except ValueError:
            return {}
        return recorded if isinstance(recorded, dict) else {}


WHO_PREFIX = "CDS Hooks client "
UNAUTHENTICATED = ClientIdentity(None, None)


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalised_base(url: str) -> str:
    return url.rstrip("/")


@dataclass
class TrustedClient:
    """One EHR: its issuer, where its public keys are, and the FHIR base it may send as fhirServer."""

    issuer: str
    jwks: str
    fhir_base: str | None = None
    fhir_private_network: bool = False
    """The FHIR base resolves to private addresses and that is intended (an EHR inside the hospital)."""
    _keys: jwt.PyJWKSet | None = field(default=None, repr=False)
    _fetched_at: float | None = field(default=None, repr=False)
    _attempted_at: float | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def jwks_is_url(self) -> bool:
        return self.jwks.startswith(("https://", "http://"))

    def signing_key(self, kid: str) -> jwt.PyJWK:
        """The issuer's key `kid`. Keys from a URL are fetched again when JWKS_LIFESPAN_SECONDS old, and
        when a kid is not among them, but then at most once per JWKS_REFETCH_SECONDS (a failed fetch
        counts), under one lock: a flood of forged kids makes one request, not one each."""
        with self._lock:
            now = time.monotonic()
            if self._keys is None and not self.jwks_is_url:
                self._keys = jwt.PyJWKSet.from_json(Path(self.jwks).read_text(encoding="utf-8"))
            elif self.jwks_is_url and (self._keys is None or self._age(self._fetched_at, now) >= JWKS_LIFESPAN_SECONDS):
                self._fetch_if_due(now)
            key = self._find(kid)
            if key is None and self.jwks_is_url:
                self._fetch_if_due(now)
                key = self._find(kid)
        if key is None:
            raise AuthenticationError("no key with this kid in the issuer's JWKS (or the JWKS could not be fetched)")
        return key

    @staticmethod
    def _age(then: float | None, now: float) -> float:
        return float("inf") if then is None else now - then

    def _find(self, kid: str) -> jwt.PyJWK | None:
        return next((key for key in self._keys.keys if key.key_id == kid), None) if self._keys else None

    def _fetch_if_due(self, now: float) -> None:
        if self._age(self._attempted_at, now) < JWKS_REFETCH_SECONDS:
            return
        self._attempted_at = now
        try:
            fetched = jwt.PyJWKClient(self.jwks, cache_jwk_set=False, timeout=JWKS_TIMEOUT_SECONDS).fetch_data()
            self._keys = jwt.PyJWKSet.from_dict(fetched)
            self._fetched_at = now
        except Exception as exc:  # the EHR's endpoint is down or answers nonsense: keep the keys we had
            logger.warning(
                json.dumps({"event": "jwks_fetch_failed", "issuer": self.issuer, "error": type(exc).__name__})
            )


def parse_trust(value: str) -> TrustedClient:
    """`ISSUER=JWKS[,fhir=BASE][,private-network]` (the `--trust` flag)."""
    issuer, equals, rest = value.partition("=")
    parts = rest.split(",")
    jwks, options = parts[0], parts[1:]
    if not equals or not issuer or not jwks:
        raise SettingsError(["--trust: expected ISSUER=JWKS[,fhir=BASE][,private-network]"])
    client = TrustedClient(issuer=issuer, jwks=jwks)
    for option in options:
        name, _, given = option.partition("=")
        if name == "fhir" and given:
            client.fhir_base = given
        elif name == "private-network" and not given:
            client.fhir_private_network = True
        else:
            raise SettingsError(
                [f"--trust {issuer}: unknown option '{name[:40]}' (expected fhir=BASE or private-network)"]
            )
    return client


def _from_file(path: Path) -> list[TrustedClient]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError([f"--trust-file: cannot read {path} ({type(exc).__name__})"]) from None
    entries = document.get("trusted_clients") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise SettingsError([f"--trust-file {path}: expected a list 'trusted_clients'"])
    clients = []
    for index, entry in enumerate(entries):
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("issuer"), str)
            or not isinstance(entry.get("jwks"), str)
        ):
            raise SettingsError([f"--trust-file {path}: trusted_clients.{index}: expected issuer and jwks"])
        jwks = entry["jwks"]
        if not jwks.startswith(("https://", "http://")) and not Path(jwks).is_absolute():
            jwks = str(path.parent / jwks)
        clients.append(
            TrustedClient(
                issuer=entry["issuer"],
                jwks=jwks,
                fhir_base=entry.get("fhir"),
                fhir_private_network=bool(entry.get("private_network", False)),
            )
        )
    return clients


def trusted_clients(settings: Settings) -> dict[str, TrustedClient]:
    """The configured issuers, each checked: a JWKS file that exists, a FHIR base that is https
    (or http on a loopback address: a test server named on purpose)."""
    clients = [parse_trust(value) for value in settings.service_trust]
    if settings.service_trust_file is not None:
        clients += _from_file(settings.service_trust_file)
    problems = []
    for client in clients:
        if not client.jwks.startswith(("https://", "http://")) and not Path(client.jwks).is_file():
            problems.append(f"--trust {client.issuer}: the JWKS file does not exist")
        if client.jwks.startswith("http://") and not is_loopback_host(urlsplit(client.jwks).hostname or ""):
            problems.append(f"--trust {client.issuer}: a JWKS URL must be https (http only on loopback)")
        if client.fhir_base is not None:
            parts = urlsplit(client.fhir_base)
            if parts.scheme == "http" and not is_loopback_host(parts.hostname or ""):
                problems.append(f"--trust {client.issuer}: fhir must be https (http only on a loopback address)")
            elif parts.scheme not in ("http", "https") or not parts.hostname:
                problems.append(f"--trust {client.issuer}: fhir: expected an https URL")
            client.fhir_base = normalised_base(client.fhir_base)
    if problems:
        raise SettingsError(problems)
    return {client.issuer: client for client in clients}


SharedReplayCheck = Callable[[str, str, float, float], bool]
"""(issuer, jti, exp, purge_before) -> whether this is the token's first use anywhere (the case
store's table of used tokens, decision.store.replay)."""


class Authenticator:
    """Checks the bearer JWT of a call against the trusted issuers; refuses a `jti` used before.

    A `jti` is remembered by this process until its token expires and, when `shared` is given, in
    the database every replica of the service shares, so a replay to another worker or after a
    restart is refused too. A shared check that cannot run (the database is down) leaves this
    process's own memory as the check, and says so in the log."""

    def __init__(
        self, clients: dict[str, TrustedClient], clock: Any = time.time, shared: SharedReplayCheck | None = None
    ) -> None:
        self.clients = clients
        self.clock = clock
        self.shared = shared
        self._seen: dict[tuple[str, str], float] = {}
        self._seen_lock = threading.Lock()

    def authenticate(self, authorization: str | None, audience: str) -> tuple[ClientIdentity, TrustedClient]:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("no bearer token", told="a bearer JWT from a trusted CDS client is required")
        token = token.strip()
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise AuthenticationError("not a JWT") from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in ASYMMETRIC_ALGORITHMS:
            raise AuthenticationError("algorithm not allowed (none, HMAC or unknown)")
        if not isinstance(kid, str) or not kid:
            raise AuthenticationError("no kid")
        issuer = unverified.get("iss")
        client = self.clients.get(issuer) if isinstance(issuer, str) else None
        if client is None:
            raise AuthenticationError("issuer not trusted")
        key = client.signing_key(kid)
        if key.key_type == "oct":
            raise AuthenticationError("a symmetric key in the JWKS")
        now = self.clock()
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=audience,
                issuer=client.issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["iss", "aud", "exp", "iat", "jti"]},
            )
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"claims or signature refused ({type(exc).__name__})") from None
        if not isinstance(claims["exp"], int | float) or claims["exp"] > now + MAX_TOKEN_SECONDS + CLOCK_SKEW_SECONDS:
            raise AuthenticationError("exp too far ahead")
        if not isinstance(claims["jti"], str) or not claims["jti"]:
            raise AuthenticationError("jti not a string")
        self._first_use(client.issuer, claims["jti"], float(claims["exp"]), now)
        subject = claims.get("sub")
        return ClientIdentity(client.issuer, subject if isinstance(subject, str) else None), client

    def _first_use(self, issuer: str, jti: str, expires: float, now: float) -> None:
        with self._seen_lock:
            if len(self._seen) > 10_000:
                self._seen = {k: v for k, v in self._seen.items() if v + CLOCK_SKEW_SECONDS > now}
            if (issuer, jti) in self._seen:
                raise AuthenticationError("jti seen before (a replay)")
            self._seen[(issuer, jti)] = expires
        if self.shared is None:
            return
        try:
            first = self.shared(issuer, jti, expires, now - CLOCK_SKEW_SECONDS)
        except Exception as exc:
            logger.warning(
                json.dumps(
                    {"event": "replay_store_unavailable", "error": type(exc).__name__, "checked": "this process only"}
                )
            )
            return
        if not first:
            raise AuthenticationError("jti seen before by another worker or before a restart (a replay)")
