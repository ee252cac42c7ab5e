"""The case itself, in words, for a reader who did not enter it: the MDT chair and the trainee.

The engine's report says what it concluded; this says who the patient is. The words come from
`decision.case_summary` (clinical prose from the case, the vocabulary and the report's missing
information). Shown as record text: escaped, never rendered as Markdown.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from decision.case_summary import case_summary
from decision.report import Report
from ui.record_text import markdown_text


def case_prose(case: dict[str, Any], report: Report | None = None) -> str:
    """The case in clinical prose; with its report, also what is still not known (the quiz passes
    none, so the summary gives no hint of the engine's answer)."""
    return case_summary(case, report).text


def show_case(case: dict[str, Any], report: Report | None = None, heading: str = "The case") -> None:
    """The case's summary in a bordered box, escaped as record text."""
    with st.container(border=True):
        st.markdown(f"**{heading}**")
        st.markdown(markdown_text(case_prose(case, report)))
