"""Saving from the clinician page for the MDT list: saving again updates the stored case (a new
version in the audit trail) instead of a second copy, and the share link is a full URL."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from decision.store import CaseStore

ROOT = Path(__file__).resolve().parents[2]


def _clinician() -> AppTest:
    script = (
        f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nfrom ui.clinician import clinician_page\nclinician_page()\n"
    )
    return AppTest.from_string(script, default_timeout=60)


def _click(at: AppTest, label: str) -> None:
    next(b for b in at.button if b.label == label).click().run()


def test_saving_again_updates_the_stored_case_with_a_new_version_not_a_copy() -> None:
    at = _clinician().run()
    at.selectbox(key="demo_choice").set_value("caution-controlled-diabetes").run()
    _click(at, "Save to the MDT list")
    saved = at.session_state["saved_case_id"]
    before = len(CaseStore().list_cases())
    _click(at, "Save again (new version)")
    assert not at.exception
    assert at.session_state["saved_case_id"] == saved
    assert len(CaseStore().list_cases()) == before  # no second copy in the meeting's list
    assert CaseStore().stored_case(saved).version == 2
    assert [e.action for e in CaseStore().audit_trail(saved)] == ["case saved", "case updated"]
    assert CaseStore().verify_audit() == []
    assert any("Saved (version 2)" in s.value for s in at.success)


def test_save_as_a_new_case_is_still_possible_and_another_demo_starts_afresh() -> None:
    at = _clinician().run()
    at.selectbox(key="demo_choice").set_value("caution-controlled-diabetes").run()
    _click(at, "Save to the MDT list")
    first = at.session_state["saved_case_id"]
    _click(at, "Save as a new case")
    assert at.session_state["saved_case_id"] != first
    at.selectbox(key="demo_choice").set_value("esi-lumbar-radicular-indicated").run()
    assert "Save to the MDT list" in [b.label for b in at.button]  # another patient: no "save again"


def test_a_case_opened_from_its_share_link_is_saved_again_as_a_new_version() -> None:
    at = _clinician().run()
    at.selectbox(key="demo_choice").set_value("caution-controlled-diabetes").run()
    _click(at, "Save to the MDT list")
    saved = at.session_state["saved_case_id"]
    reopened = _clinician()
    reopened.query_params["case"] = saved
    reopened.run()
    _click(reopened, "Save again (new version)")
    assert CaseStore().stored_case(saved).version == 2


def test_the_share_link_is_the_full_url_of_the_configured_app() -> None:
    at = _clinician().run()
    at.selectbox(key="demo_choice").set_value("caution-controlled-diabetes").run()
    _click(at, "Save to the MDT list")
    saved = at.session_state["saved_case_id"]
    base = CaseStore().settings.ui_url.rstrip("/")
    assert f"`{base}/?case={saved}`" in at.success[0].value
