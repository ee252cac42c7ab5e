"""Who saved and who decided come from the sign-in, and each page is for its roles.

Sign-in itself (st.login against an OIDC provider) is Streamlit's; here AppTest hands the pages the
claims a signed-in user's ID token carries, or none when sign-in is not configured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

import ui.identity
from decision import evaluate
from decision.demo_cases import demo_cases
from decision.store import CaseStore
from ui.identity import LOCAL_USER, roles_from_claims

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "ui" / "app.py")
AUTH = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": "a-test-cookie-secret-of-some-length",
    "client_id": "spine-cds",
    "client_secret": "test-secret",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}
CASE_ID = "esi-lumbar-radicular-indicated"


def _page(name: str, user: dict[str, Any] | None = None) -> AppTest:
    module, function = name.split(".")
    script = f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nfrom ui.{module} import {function}\n{function}()\n"
    at = AppTest.from_string(script, default_timeout=60)
    if user is not None:
        at.secrets["auth"] = AUTH
        at.user = user
    return at


def _signed_in(name: str, roles: list[str], sub: str = "sub-0042") -> dict[str, Any]:
    return {"is_logged_in": True, "iss": "http://127.0.0.1:9", "sub": sub, "name": name, "roles": roles}


@pytest.fixture(scope="module", autouse=True)
def _stored_cases() -> None:
    CaseStore().seed_demo_cases(demo_cases(), evaluate)


def _shown(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in [*at.markdown, *at.error, *at.info, *at.success, *at.caption])


def test_without_configured_sign_in_every_save_and_decision_is_audited_as_the_local_user() -> None:
    at = _page("clinician.clinician_page").run()
    at.selectbox(key="demo_choice").set_value("caution-controlled-diabetes").run()
    next(b for b in at.button if b.label == "Save to the MDT list").click().run()
    saved = at.session_state["saved_case_id"]
    assert [e.who for e in CaseStore().audit_trail(saved)] == [LOCAL_USER]
    mdt = _page("mdt.mdt_page").run()
    mdt.selectbox(key="mdt_case").set_value(saved).run()
    offered = CaseStore().stored_case(saved).report.offered()[0]
    mdt.selectbox(key=f"mdt_proc_{saved}").set_value(offered)  # the chair chooses: nothing is preselected
    next(b for b in mdt.button if b.label == "Record decision").click().run()
    assert CaseStore().decisions(saved)[-1].decided_by == LOCAL_USER


def test_the_mdt_decision_has_no_free_text_name_and_records_the_signed_in_chair() -> None:
    at = _page("mdt.mdt_page", _signed_in("Dr Chair", ["mdt_chair"])).run()
    at.toggle(key="mdt_show_demo").set_value(True).run()  # CASE_ID is a demo case
    at.selectbox(key="mdt_case").set_value(CASE_ID).run()
    assert not at.exception and not at.text_input  # no "Decided by" box: who decided is the sign-in
    at.selectbox(key=f"mdt_proc_{CASE_ID}").set_value("none")
    at.text_area(key=f"mdt_reason_{CASE_ID}").set_value("patient declined")
    next(b for b in at.button if b.label == "Record decision").click().run()
    recorded = CaseStore().decisions(CASE_ID)[-1]
    assert recorded.decided_by == "Dr Chair (oidc http://127.0.0.1:9 sub-0042)"
    assert CaseStore().audit_trail(CASE_ID)[-1].who == recorded.decided_by


def test_a_clinician_save_records_the_signed_in_subject_not_the_word_clinician() -> None:
    at = _page("clinician.clinician_page", _signed_in("Dr Spine", ["clinician"], sub="sub-7")).run()
    at.selectbox(key="demo_choice").set_value("caution-controlled-diabetes").run()
    next(b for b in at.button if b.label == "Save to the MDT list").click().run()
    saved = at.session_state["saved_case_id"]
    assert CaseStore().audit_trail(saved)[0].who == "Dr Spine (oidc http://127.0.0.1:9 sub-7)"


def test_with_sign_in_configured_nobody_signed_in_sees_a_sign_in_button_and_no_case() -> None:
    for page in ("mdt.mdt_page", "clinician.clinician_page", "trainee.matrix_page"):
        at = _page(page, {"is_logged_in": False}).run()
        assert not at.exception
        assert [b.label for b in at.button] == ["Sign in"]
        assert CASE_ID not in _shown(at) and not at.dataframe and not at.selectbox


def test_each_page_refuses_a_role_it_is_not_for() -> None:
    trainee = _signed_in("A Trainee", ["trainee"])
    for page in ("mdt.mdt_page", "clinician.clinician_page"):
        at = _page(page, trainee).run()
        assert any("role; your sign-in does not carry it" in e.value for e in at.error), page
        assert CASE_ID not in _shown(at) and not at.dataframe
    assert not _page("trainee.matrix_page", trainee).run().error
    clinician = _page("mdt.mdt_page", _signed_in("Dr Spine", ["clinician"])).run()
    assert any("for the MDT chair role" in e.value for e in clinician.error)
    admin = _page("mdt.mdt_page", _signed_in("The Admin", ["admin"])).run()
    assert not admin.error and admin.dataframe


def test_the_app_lists_only_the_pages_of_the_users_roles() -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = AUTH
    at.user = _signed_in("A Trainee", ["trainee"])
    at.run()
    assert not at.exception
    assert any("Trainee: which procedure for which condition" in h.value for h in at.header)
    nobody = AppTest.from_file(APP, default_timeout=60)
    nobody.secrets["auth"] = AUTH
    nobody.user = _signed_in("No Roles", ["viewer"])
    nobody.run()
    assert any("none of the app's roles" in e.value for e in nobody.error)


def test_without_sign_in_the_app_refuses_to_serve_beyond_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ui.identity, "served_on_loopback", lambda: False)
    at = _page("mdt.mdt_page").run()
    assert any("Sign-in is not configured and the app listens beyond loopback" in e.value for e in at.error)
    assert CASE_ID not in _shown(at) and not at.dataframe


def test_roles_come_from_the_claim_and_unknown_roles_are_ignored() -> None:
    assert roles_from_claims({"roles": ["trainee", "superuser"]}) == {"trainee"}
    assert roles_from_claims({"roles": "clinician, mdt_chair"}) == {"clinician", "mdt_chair"}
    assert roles_from_claims({"groups": ["admin"]}, claim="groups") == {"admin"}
    assert roles_from_claims({"roles": 7}) == frozenset() and roles_from_claims({}) == frozenset()
