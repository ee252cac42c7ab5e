"""spine-cds in the browser. One entry, routed by role; every answer comes from `decision/`."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ui.clinician import clinician_page
from ui.components import knowledge_banner
from ui.mdt import mdt_page
from ui.trainee import matrix_page, quiz_page, rules_page


def main() -> None:
    st.set_page_config(page_title="spine-cds", layout="wide")
    pages = {
        "Clinician": [st.Page(clinician_page, title="Assess a case", url_path="assess", default=True)],
        "Trainee": [
            st.Page(matrix_page, title="Indications matrix", url_path="matrix"),
            st.Page(rules_page, title="Rules and sources", url_path="rules"),
            st.Page(quiz_page, title="Quiz", url_path="quiz"),
        ],
        "MDT": [st.Page(mdt_page, title="Review cases", url_path="mdt")],
    }
    knowledge_banner()
    st.navigation(pages).run()


main()
