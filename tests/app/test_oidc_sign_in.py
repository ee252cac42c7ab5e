"""Sign-in end to end: a real OpenID Connect provider on loopback, the app's own `st.login`, a browser.

The provider is `oidc-provider-mock` (Authlib's authorization server behind Flask: discovery, client
registration, the authorization-code flow, RS256-signed ID tokens, JWKS), started in this process
on 127.0.0.1 with registration required; the app is registered as a client with its redirect URI.
Each test signs a user in through the provider's own form in Chromium and checks what the app
lets that user see and what the audit trail records as who.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from browser_app import choose, chromium, click_until, local_url, require_browser, seeded_store, streamlit_app
from local_server import free_port

from decision.store import CaseStore

CASE_ID = "esi-lumbar-radicular-indicated"

require_browser()
if os.environ.get("CI"):  # CI must run these: the dev extra installs the provider
    import oidc_provider_mock
    import werkzeug.serving as werkzeug_serving
else:
    oidc_provider_mock = pytest.importorskip("oidc_provider_mock", reason="the dev extra installs oidc-provider-mock")
    werkzeug_serving = pytest.importorskip("werkzeug.serving")

USERS = {
    "clin-0001": {"name": "Dr Cleo Clinician", "roles": ["clinician"]},
    "chair-0002": {"name": "Dr Max Chair", "roles": ["mdt_chair"]},
    "trainee-0003": {"name": "Tara Trainee", "roles": ["trainee"]},
    "norole-0004": {"name": "Nobody Special", "roles": ["viewer"]},
}


@dataclass
class Provider:
    url: str
    client_id: str
    client_secret: str


@dataclass
class App:
    url: str
    database_url: str
    issuer: str


def _request(method: str, url: str, body: Any) -> Any:
    data = json.dumps(body).encode()
    sent = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(sent, timeout=10) as answer:
        text = answer.read()
    return json.loads(text) if text else None


class _QuietHandler(werkzeug_serving.WSGIRequestHandler):  # type: ignore[misc,name-defined]
    def log_request(self, *args: Any) -> None:
        """The provider's URLs carry codes and states: not for the test log."""


@pytest.fixture(scope="module")
def app_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def provider(app_port: int) -> Iterator[Provider]:
    """The OIDC provider on 127.0.0.1, the app registered with it, and the test users' claims."""
    wsgi = oidc_provider_mock.app(require_client_registration=True, require_nonce=True)
    server = werkzeug_serving.make_server("127.0.0.1", 0, wsgi, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        client = _request(
            "POST",
            f"{url}/oauth2/clients",
            {
                "redirect_uris": [f"http://127.0.0.1:{app_port}/oauth2callback"],
                "token_endpoint_auth_method": "client_secret_basic",
            },
        )
        for sub, claims in USERS.items():
            _request("PUT", f"{url}/users/{quote(sub)}", claims)
        yield Provider(url, client["client_id"], client["client_secret"])
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def app(provider: Provider, app_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """`streamlit run ui/app.py` with sign-in configured in a secrets file of the test's own."""
    folder = tmp_path_factory.mktemp("oidc-app")
    secrets = folder / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "{local_url(app_port)}/oauth2callback"\n'
        f'cookie_secret = "{os.urandom(24).hex()}"\n'
        f'client_id = "{provider.client_id}"\n'
        f'client_secret = "{provider.client_secret}"\n'
        f'server_metadata_url = "{provider.url}/.well-known/openid-configuration"\n',
        encoding="utf-8",
    )
    database_url = seeded_store(folder)
    env = {"SPINE_CDS_DATABASE_URL": database_url}
    with streamlit_app(env, port=app_port, extra_args=["--secrets.files", str(secrets)]) as url:
        yield App(url, database_url, provider.url)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def _signed_in(browser: Any, app: App, sub: str) -> Any:
    """A fresh browser (no cookies) that signs in as `sub` on the provider's own form."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(app.url)
    page.get_by_text("Sign in to use spine-cds.").wait_for()
    assert CASE_ID not in page.inner_text("body")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{app.issuer}/oauth2/authorize**")
    page.locator('input[name="sub"]').fill(sub)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{app.url}/**")
    page.locator('[data-testid="stSidebar"]').get_by_text(str(USERS[sub]["name"])).wait_for()
    return page


def _navigation(page: Any) -> str:
    return str(page.locator('[data-testid="stSidebarNav"]').inner_text())


def _audit_name(app: App, sub: str) -> str:
    """What the audit must say: the name and subject from the provider's ID token, with its issuer."""
    return f"{USERS[sub]['name']} (oidc {app.issuer} {sub})"


def test_a_clinician_signed_in_at_the_provider_is_not_offered_the_mdt_and_saves_as_their_subject(
    browser: Any, app: App
) -> None:
    page = _signed_in(browser, app, "clin-0001")
    page.get_by_text("Clinician: assess a case").wait_for()
    navigation = _navigation(page)
    assert "Assess a case" in navigation and "Indications matrix" in navigation  # teaching pages: every role
    assert "Review cases" not in navigation
    choose(page, "Demo case", "caution-controlled-diabetes")
    click_until(page, "Save to the MDT list", "Saved. Shareable link")
    saved = page.get_by_text("Saved. Shareable link").inner_text().split("?case=")[1].strip().strip("`")
    trail = CaseStore(app.database_url).audit_trail(saved)
    assert [entry.who for entry in trail] == [_audit_name(app, "clin-0001")]
    page.goto(f"{app.url}/mdt")  # a page not listed for the role is not served by its address either
    page.get_by_text("Clinician: assess a case").wait_for()
    assert "MDT: review cases" not in page.inner_text("body")
    page.context.close()


def test_an_mdt_chair_signed_in_at_the_provider_records_a_decision_as_their_subject(browser: Any, app: App) -> None:
    page = _signed_in(browser, app, "chair-0002")
    navigation = _navigation(page)
    assert "Review cases" in navigation and "Assess a case" not in navigation
    page.goto(f"{app.url}/mdt")
    page.get_by_text("MDT: review cases").wait_for()
    page.get_by_text("Demo cases too").click()  # the list shows real cases only until asked
    choose(page, "Open a case", f"({CASE_ID})")
    page.get_by_text("The meeting's decision").first.wait_for()  # a rerun may briefly show the stale copy too
    choose(page, "Chosen procedure", "Epidural steroid injection, transforaminal")
    who = _audit_name(app, "chair-0002")
    page.get_by_text(f"Decided by: {who} (from the sign-in)").wait_for()
    assert not page.locator('[data-testid="stTextInput"]').count()  # no box to type a name into
    page.get_by_role("button", name="Record decision").click()
    page.get_by_text(f"Recorded: Epidural steroid injection, transforaminal, lumbar spine (L4-L5) by {who}").wait_for()
    store = CaseStore(app.database_url)
    assert store.decisions(CASE_ID)[-1].decided_by == who
    assert store.audit_trail(CASE_ID)[-1].who == who
    page.context.close()


def test_a_trainee_signed_in_at_the_provider_gets_the_teaching_pages_and_no_case(browser: Any, app: App) -> None:
    page = _signed_in(browser, app, "trainee-0003")
    page.get_by_text("Trainee: which procedure for which condition").wait_for()
    navigation = _navigation(page)
    assert "Indications matrix" in navigation
    assert "Assess a case" not in navigation and "Review cases" not in navigation
    for path in ("mdt", "assess"):
        page.goto(f"{app.url}/{path}")
        page.get_by_text("Trainee: which procedure for which condition").wait_for()
        body = page.inner_text("body")
        assert "MDT: review cases" not in body and "Clinician: assess a case" not in body and CASE_ID not in body
    page.context.close()


def test_a_user_whose_token_carries_no_app_role_is_told_so_and_sees_nothing(browser: Any, app: App) -> None:
    page = _signed_in(browser, app, "norole-0004")
    page.get_by_text("Your sign-in carries none of the app's roles").wait_for()
    body = page.inner_text("body")
    assert "no role" in body and CASE_ID not in body
    assert not page.locator('[data-testid="stSidebarNav"]').count()
    page.context.close()
