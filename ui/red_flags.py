"""The red-flag questions, asked first and together, with a "none of these" choice.

Which questions are red flags is read off the red flag rules (`decision.wording.red_flag_fields`);
their words and the group's heading are the knowledge's (questions.yaml). "None of these" answers
every one of them "no"; a question left untouched stays unknown, so it is asked again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from decision.fields import FieldSpec, case_layout
from decision.wording import red_flag_fields
from knowledge.loader import Knowledge
from ui.form_fill import BOOL_CHOICES
from ui.record_text import markdown_text

AnswerWidget = Callable[[FieldSpec, str], tuple[bool, Any]]
NO = BOOL_CHOICES[2]
"""The answer a yes/no question's widget holds for "no"."""


def red_flag_specs(knowledge: Knowledge) -> dict[str, FieldSpec]:
    """The red-flag fields as the form asks them (with their questions), in the form's order."""
    flags = red_flag_fields(knowledge)
    laid_out = {spec.path: spec for group in case_layout() for spec in group.fields}
    return {path: laid_out[path] for path in flags if path in laid_out}


def _answer_no(keys: list[str]) -> None:
    for key in keys:
        st.session_state[key] = NO


def none_of_these(knowledge: Knowledge, keys: list[str], key: str) -> None:
    """The "none of these" choice: sets each red-flag question's widget (by its key) to "no"."""
    label = knowledge.questions.red_flags.none_of_these if knowledge.questions is not None else "None of these"
    st.button(label, key=key, on_click=_answer_no, args=(keys,))


def red_flag_group(knowledge: Knowledge, key_of: Callable[[str], str], ask: AnswerWidget) -> dict[str, Any]:
    """The red-flag questions as one bordered group at the top of the form; answers by case path."""
    specs = red_flag_specs(knowledge)
    if not specs:
        return {}
    heading = knowledge.questions.red_flags.heading if knowledge.questions is not None else "Red flags"
    with st.container(border=True):
        st.markdown(f"**{markdown_text(heading)}**")
        none_of_these(knowledge, [key_of(path) for path in specs], key_of("red_flags_none"))
        return {path: ask(spec, key_of(path))[1] for path, spec in specs.items()}
