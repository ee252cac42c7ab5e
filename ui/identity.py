"""Who is using the app: the user signed in through OpenID Connect (Streamlit's own `st.login`), or,
when no sign-in is configured, one local user on loopback only.

Sign-in is configured in `.streamlit/secrets.toml` (`[auth]`: `redirect_uri`, `cookie_secret`,
`client_id`, `client_secret`, `server_metadata_url`; any OIDC provider). Roles come from a claim of
the ID token, `roles` unless `[spine_cds] roles_claim` names another: `clinician`, `trainee`,
`mdt_chair`, `admin`. What the audit trail records as who saved or decided is `User.audit_name`,
built from the token's issuer, subject and name, never from a box the user types in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import streamlit as st

ROLES = ("clinician", "trainee", "mdt_chair", "admin")
ROLE_TITLES = {"clinician": "clinician", "trainee": "trainee", "mdt_chair": "MDT chair", "admin": "admin"}
DEFAULT_ROLES_CLAIM = "roles"
LOCAL_USER = "local user, not authenticated"
"""What every audit entry written without configured sign-in names as who."""
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class User:
    name: str
    roles: frozenset[str]
    issuer: str = ""
    subject: str = ""

    @property
    def authenticated(self) -> bool:
        return bool(self.subject)

    @property
    def audit_name(self) -> str:
        """Who, as the audit trail and the decisions record it: the name and the OIDC subject with its
        issuer (a name alone is not unique; the subject is), or the local user's fixed words."""
        if not self.authenticated:
            return LOCAL_USER
        return f"{self.name} (oidc {self.issuer} {self.subject})"[:200]

    def may(self, roles: Iterable[str]) -> bool:
        return "admin" in self.roles or bool(self.roles & set(roles))


LOCAL = User(name=LOCAL_USER, roles=frozenset(ROLES))


def _secrets_section(name: str) -> dict[str, Any] | None:
    try:
        section = st.secrets.get(name)
    except FileNotFoundError:  # no secrets.toml at all
        return None
    except Exception:  # an unreadable secrets.toml: sign-in is not configured, and the app says so below
        return None
    return dict(section) if section else None


def sign_in_configured() -> bool:
    return _secrets_section("auth") is not None


def roles_from_claims(claims: dict[str, Any], claim: str = DEFAULT_ROLES_CLAIM) -> frozenset[str]:
    """The app's roles in the claim (a list, or one string with roles separated by spaces or commas);
    any other value is ignored."""
    given = claims.get(claim)
    if isinstance(given, str):
        given = given.replace(",", " ").split()
    if not isinstance(given, list):
        return frozenset()
    return frozenset(role for role in given if isinstance(role, str) and role in ROLES)


def current_user() -> User | None:
    """The signed-in user; the local user when sign-in is not configured; None when it is configured
    and nobody has signed in yet."""
    if not sign_in_configured():
        return LOCAL
    if not st.user.is_logged_in:
        return None
    claims = st.user.to_dict()
    claim = str((_secrets_section("spine_cds") or {}).get("roles_claim", DEFAULT_ROLES_CLAIM))
    subject = str(claims.get("sub") or "")
    name = str(claims.get("name") or claims.get("preferred_username") or claims.get("email") or subject)
    return User(name=name, roles=roles_from_claims(claims, claim), issuer=str(claims.get("iss") or ""), subject=subject)


def served_on_loopback() -> bool:
    return str(st.get_option("server.address") or "") in LOOPBACK


def signed_in_user() -> User:
    """The user, or the page stops: a sign-in button when sign-in is configured and nobody signed in;
    a refusal when it is not configured and the app listens beyond loopback (anyone who reached it
    would act as the local user)."""
    user = current_user()
    if user is None:
        st.info("Sign in to use spine-cds.")
        st.button("Sign in", on_click=st.login, type="primary")
        st.stop()
    if not user.authenticated and not served_on_loopback():
        st.error(
            "Sign-in is not configured and the app listens beyond loopback (server.address): set "
            "server.address to 127.0.0.1, or configure sign-in in .streamlit/secrets.toml ([auth])."
        )
        st.stop()
    return user


def require_role(*roles: str) -> User:
    """The user, when one of `roles` (or admin) is theirs; else the page says which role it needs and stops."""
    user = signed_in_user()
    if not user.may(roles):
        needed = " or ".join(ROLE_TITLES[role] for role in roles)
        st.error(f"This page is for the {needed} role; your sign-in does not carry it. Ask an admin.")
        st.stop()
    return user
