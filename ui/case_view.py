"""The case itself, in words, for a reader who did not enter it: the MDT chair and the trainee.

The engine's report says what it concluded; this says who the patient is. The words come from
`decision.case_summary` (clinical prose from the case, the vocabulary and the report's missing
information). Shown as record text: escaped, never rendered as Markdown.
"""

from __future__ import annotations

import importlib
from typing import Any

import streamlit as st

from decision.case import Case, vocabulary
from decision.report import Report
from ui.record_text import markdown_text


def case_prose(case: dict[str, Any], report: Report | None = None) -> str:
    """The case in clinical prose; until `decision.case_summary` is there, its key facts."""
    try:
        summary = importlib.import_module("decision.case_summary")
    except ImportError:  # the summary module lands separately (issue 15, item 4)
        return key_facts(case)
    return str(summary.case_summary(case, report).text)


def key_facts(case: dict[str, Any]) -> str:
    """Age, sex and each diagnosis with its level and side, in words; what is not recorded says so."""
    valid = Case.model_validate(case)
    vocab = vocabulary()
    age = f"{valid.age:g} years" if valid.age is not None else "age not known"
    sex = vocab.sexes[valid.sex].label.lower() if valid.sex in vocab.sexes else "sex not known"
    diagnoses = []
    for diagnosis in valid.diagnoses or []:
        term = vocab.conditions.get(diagnosis.condition or "")
        words = term.label if term is not None else "diagnosis not known"
        if diagnosis.levels:
            words += f" at {', '.join(diagnosis.levels)}"
        if diagnosis.side in vocab.sides:
            words += f", {vocab.sides[diagnosis.side].label.lower()}"
        diagnoses.append(words)
    return f"Patient: {age}, {sex}. Diagnoses: {'; '.join(diagnoses) or 'not known'}."


def show_case(case: dict[str, Any], report: Report | None = None, heading: str = "The case") -> None:
    """The case's summary in a bordered box, escaped as record text."""
    with st.container(border=True):
        st.markdown(f"**{heading}**")
        st.markdown(markdown_text(case_prose(case, report)))
