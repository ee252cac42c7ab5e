"""The clinician's page speaks a clinician's words (issue 15, item 3): questions, labels and source
titles on screen, never a field path or an engine id; red flags asked first; nothing asked that
cannot apply."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from form_tab import open_form, open_tab
from streamlit.testing.v1 import AppTest

from decision.demo_cases import demo_cases
from ui.clinician import DEMO_TAB

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60
ENGINE_SPELLING = re.compile(r"\b[a-z]+_[a-z_]+\b|\b[a-z_]{2,}\.[a-z_]{2,}\b")
"""A field path or an id as the engine spells it (`comorbidities.active_infection`, `lateral_recess`)."""
RED_FLAGS = ("f_symptoms.progressive_neurological_deficit", "f_symptoms.cauda_equina_signs")


def _clinician_page() -> AppTest:
    script = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from ui.clinician import clinician_page
clinician_page()
"""
    return AppTest.from_string(script, default_timeout=TIMEOUT).run()


def _shown(at: AppTest) -> list[str]:
    """What the page says in words: text, alerts, and every question's label, help and choices (the JSON
    view of the case and what sits behind an "ids" expander are a reviewer's view, left out)."""
    behind_toggle = {m.value for e in at.expander if "ids" in e.label.lower() for m in e.markdown}
    texts = [e.value for kind in (at.markdown, at.caption, at.error, at.warning, at.info, at.success) for e in kind]
    texts = [text for text in texts if text not in behind_toggle]
    for widgets in (at.radio, at.selectbox, at.multiselect, at.number_input, at.text_input, at.checkbox, at.toggle):
        texts += [w.label for w in widgets] + [w.help for w in widgets if w.help]
    for choices in (at.radio, at.selectbox):
        texts += [str(option) for w in choices for option in w.options if w.key != "demo_choice"]
    return [re.sub(r"\]\(https?://[^)]*\)", "]", text) for text in texts]  # a source's URL is a link, not words


@pytest.fixture(scope="module")
def page() -> AppTest:
    return _clinician_page()


@pytest.mark.parametrize("name", sorted(demo_cases()))
def test_nothing_shown_for_a_demo_case_carries_a_field_path_or_raw_id(page: AppTest, name: str) -> None:
    open_tab(page, DEMO_TAB).selectbox(key="demo_choice").set_value(name).run()
    assert not page.exception
    shown = _shown(page) + _shown(open_form(page))  # the report, then the form filled with the case
    assert not page.exception
    for text in shown:
        found = ENGINE_SPELLING.search(text)
        assert found is None, f"{found.group()!r} shown in {text!r}"


def test_the_form_asks_the_red_flags_first_and_none_of_these_answers_every_one_no() -> None:
    at = open_form(_clinician_page())
    assert [r.key for r in at.radio][: len(RED_FLAGS)] == list(RED_FLAGS)
    at.button(key="f_assess").click().run()
    symptoms = at.session_state["case_answers"].case.get("symptoms") or {}
    assert all(symptoms.get(key.split(".")[1]) is None for key in RED_FLAGS)  # untouched stays unknown
    at.button(key="f_red_flags_none").click().run()
    assert [at.radio(key=key).value for key in RED_FLAGS] == ["No", "No"]
    at.button(key="f_assess").click().run()
    symptoms = at.session_state["case_answers"].case["symptoms"]
    assert symptoms["cauda_equina_signs"] is False and symptoms["progressive_neurological_deficit"] is False


def test_red_flags_come_first_in_the_needs_information_questions() -> None:
    at = open_form(_clinician_page())
    at.button(key="f_assess").click().run()
    text = "\n".join(m.value for m in at.markdown)
    box = text[text.index("Needs information before a decision") :]
    cauda = box.index("cauda equina syndrome")
    assert cauda < box.index("What is the working diagnosis?")
    assert any(b.key == "answer_red_flags_none" for b in at.button)


def test_pregnancy_is_not_asked_in_the_form_of_a_male_patient() -> None:
    at = open_form(_clinician_page())
    assert any(r.key == "f_pregnant" for r in at.radio)  # sex unknown: asked
    at.selectbox(key="f_sex").set_value("male").run()
    assert not any(r.key in ("f_pregnant", "f_breastfeeding") for r in at.radio)
    at.selectbox(key="f_sex").set_value("female").run()
    assert any(r.key == "f_pregnant" for r in at.radio)


def test_a_red_flag_is_shown_as_text_without_an_emoji() -> None:
    at = _clinician_page()
    at.selectbox(key="demo_choice").set_value("red-flag-cauda-equina").run()
    assert at.error[0].value.startswith("**RED FLAG**")
    assert at.error[0].icon in (None, "")
    for source in ("ui/components.py", "ui/clinician.py"):
        text = (ROOT / source).read_text(encoding="utf-8")
        assert not re.search(r"[\U0001F300-\U0001FAFF\u2600-\u27BF\uFE0F]", text), source
