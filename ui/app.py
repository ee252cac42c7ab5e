"""spine-cds in the browser. One entry, routed by role; every answer comes from `decision/`."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ui.pages import clinician_page, rules_page


def main() -> None:
    st.set_page_config(page_title="spine-cds", layout="wide")
    pages = [
        st.Page(clinician_page, title="Clinician: assess a case", url_path="assess", default=True),
        st.Page(rules_page, title="Trainee: rules and sources", url_path="rules"),
    ]
    st.navigation(pages).run()


main()
