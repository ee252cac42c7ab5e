"""A CDS client (an EHR) for the tests: its own EC key, its JWK Set in a file or served on loopback,
and the JWTs it signs for each call as CDS Hooks 2.0 "Trusting CDS Clients" describes."""

from __future__ import annotations

import json
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

ISSUER = "https://ehr.example/cds-client"
KID = "ehr-key-1"
TEST_SERVER = "http://testserver"
"""The base URL FastAPI's TestClient calls (a JWT's `aud` is it plus the path)."""


class SigningClient:
    """One EHR's key pair; `token` signs a call's JWT, every claim replaceable to forge a bad one."""

    def __init__(self, issuer: str = ISSUER, kid: str = KID) -> None:
        self.issuer = issuer
        self.kid = kid
        self.private_key = ec.generate_private_key(ec.SECP256R1())

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.private_key.public_key()))
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "ES256"}]}

    def claims(self, audience: str, **changed: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": "ehr-client-id",
            "aud": audience,
            "exp": now + 300,
            "iat": now,
            "jti": str(uuid.uuid4()),
        }
        claims.update(changed)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, audience: str, headers: dict[str, Any] | None = None, **changed: Any) -> str:
        return jwt.encode(
            self.claims(audience, **changed),
            self.private_key,
            algorithm="ES256",
            headers={"kid": self.kid, "typ": "JWT", **(headers or {})},
        )

    def jwks_file(self) -> Path:
        folder = Path(tempfile.mkdtemp(prefix="spine-cds-jwks-"))
        path = folder / "jwks.json"
        path.write_text(json.dumps(self.jwks()), encoding="utf-8")
        return path

    @contextmanager
    def served_jwks(self) -> Iterator[str]:
        """The JWK Set served over HTTP on loopback, as an EHR publishes it; yields its URL."""
        server = JwksServer(self)
        try:
            yield server.url
        finally:
            server.close()


class JwksServer:
    """An EHR's JWKS endpoint on loopback: serves the client's current JWK Set (so a rotated key is
    served once the client publishes it), counts the requests that reach it, and answers 500
    while `failing`."""

    def __init__(self, client: SigningClient, failing: bool = False) -> None:
        self.requests = 0
        self.failing = failing
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                body = b"{}" if owner.failing else json.dumps(client.jwks()).encode()
                self.send_response(500 if owner.failing else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


DEFAULT_CLIENT = SigningClient()


def trust_for(client: SigningClient = DEFAULT_CLIENT, fhir: str | None = None) -> str:
    """The `--trust` value naming the client, its JWK Set as a file."""
    return f"{client.issuer}={client.jwks_file()}" + (f",fhir={fhir}" if fhir else "")


def signed(path: str, client: SigningClient = DEFAULT_CLIENT, base: str = TEST_SERVER) -> dict[str, str]:
    """The Authorization header for one call to `path` (a fresh `jti` each time)."""
    return {"Authorization": f"Bearer {client.token(base + path)}"}
