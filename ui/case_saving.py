"""Saving the clinician's case to the MDT list, and the link that shares it.

A case saved once (or opened from a share link) and saved again is a new version of the stored
case, recorded in the audit trail, not a second copy in the meeting's list; the clinician may still
save it as a new case. The link is absolute (the settings' UI URL) and carries only the store's
random case id.
"""

from __future__ import annotations

from typing import Any

import streamlit as st
from streamlit.errors import StreamlitAPIException

from decision.report import Report
from ui.case_answers import save
from ui.components import store, store_refusals_shown
from ui.identity import User
from ui.mdt import share_link
from ui.record_text import markdown_text

SAVED = "saved_case_id"
"""The stored id of the case on the page once it was saved here."""
_OPENED = "case_saving_opened"
"""The stored id of the case opened from a share link (saving it again makes a new version)."""
_SHARED_SEEN = "case_saving_shared_seen"
_DEMO_SEEN = "case_saving_demo_seen"


def forget_saved() -> None:
    """Another patient is on the page: "Save again" must not make them a version of the last one's
    stored case, nor keep the last one's title."""
    for key in (SAVED, _OPENED, "save_title"):
        st.session_state.pop(key, None)


def _stored_id() -> str | None:
    """The stored case this page's case is a version of: the one saved here or opened from a share
    link; a demo case or share link chosen since is another patient, so it starts afresh."""
    shared, demo = st.session_state.get("loaded_shared"), st.session_state.get("demo_loaded")
    if shared != st.session_state.get(_SHARED_SEEN):
        st.session_state[_SHARED_SEEN] = shared
        st.session_state.pop(SAVED, None)
        st.session_state[_OPENED] = shared
    if demo != st.session_state.get(_DEMO_SEEN):
        st.session_state[_DEMO_SEEN] = demo
        if demo:
            st.session_state.pop(SAVED, None)
            st.session_state.pop(_OPENED, None)
    found = st.session_state.get(SAVED) or st.session_state.get(_OPENED)
    return str(found) if found else None


def save_to_mdt_list(case: dict[str, Any], report: Report, user: User) -> None:
    """The title box and the save buttons: "save again" updates the stored case (a new version)."""
    stored_id = _stored_id()
    stored = store().get_case(stored_id) if stored_id else None
    title = st.text_input(
        "Title for the MDT list", value=stored.title if stored else report.case_id or "", key="save_title"
    )
    target: str | None = None
    if stored is not None:
        again = st.button("Save again (new version)", type="primary", help="Updates the stored case in the MDT list")
        new = st.button("Save as a new case")
        target = stored.id if again else None
        wanted = again or new
    else:
        wanted = st.button("Save to the MDT list")
    if wanted:
        with store_refusals_shown("Not saved"):
            st.session_state[SAVED] = save(store(), case, report, title, who=user.audit_name, case_id=target)
            _rerun_saving()  # the buttons drawn above must now offer "save again", not a second first save


def _rerun_saving() -> None:
    """Rerun only the saving section (a fragment on the clinician page: a save changes no report).
    A click reruns the fragment alone in the browser; where the whole script is running (AppTest
    reruns whole scripts), a fragment-scoped rerun is refused, and the page is rerun instead."""
    try:
        st.rerun(scope="fragment")
    except StreamlitAPIException:
        st.rerun()


def show_saved_link() -> None:
    """The saved case's version and its full share link (the store's token, no patient detail)."""
    saved = st.session_state.get(SAVED)
    stored = store().get_case(saved) if saved else None
    if stored is None:
        return
    version = f" (version {stored.version})" if stored.version > 1 else ""
    st.success(f"Saved{version}. Shareable link (carries only a random case id): `{share_link(stored.id)}`")
    st.markdown(f"[Open the saved assessment]({share_link(stored.id)}) · {markdown_text(stored.title)}")
