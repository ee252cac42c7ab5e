"""spine-cds in the browser. One entry, routed by role; every answer comes from `decision/`."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ui.clinician import clinician_page
from ui.components import knowledge_banner
from ui.identity import ROLE_TITLES, signed_in_user
from ui.mdt import mdt_page
from ui.patient_sheet import sheet_page
from ui.record_text import markdown_text
from ui.trainee import TEACHING_ROLES, matrix_page, quiz_page, rules_page


def main() -> None:
    st.set_page_config(page_title="spine-cds", layout="wide")
    user = signed_in_user()  # stops with a sign-in button, or a refusal off loopback without sign-in
    sections = {
        "Clinician": (
            ("clinician",),
            [st.Page(clinician_page, title="Assess a case", url_path="assess"), sheet_page()],
        ),
        "Trainee": (
            TEACHING_ROLES,
            [
                st.Page(matrix_page, title="Indications matrix", url_path="matrix"),
                st.Page(rules_page, title="Rules and sources", url_path="rules"),
                st.Page(quiz_page, title="Quiz", url_path="quiz"),
            ],
        ),
        "MDT": (("mdt_chair",), [st.Page(mdt_page, title="Review cases", url_path="mdt")]),
    }
    pages = {section: listed for section, (roles, listed) in sections.items() if user.may(roles)}
    with st.sidebar:
        roles = ", ".join(ROLE_TITLES[r] for r in sorted(user.roles)) or "no role"
        st.caption(f"{markdown_text(user.name)} · {roles}")
        if user.authenticated:
            st.button("Sign out", on_click=st.logout)
    if not pages:
        st.error("Your sign-in carries none of the app's roles (clinician, trainee, MDT chair, admin). Ask an admin.")
        return
    knowledge_banner()
    st.navigation(pages).run()


main()
