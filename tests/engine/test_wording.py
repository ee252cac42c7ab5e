"""The report speaks a clinician's words: questions, not field paths; labels, not ids."""

from __future__ import annotations

import re

import pytest

from decision.demo_cases import demo_cases
from decision.evaluator import default_evaluator
from decision.explain import to_markdown, to_text
from decision.fields import question_paths
from decision.wording import asking_order, question, red_flag_fields

ENGINE_SPELLING = re.compile(r"\b[a-z]+_[a-z_]+\b|\b[a-z_]{2,}\.[a-z_]{2,}\b")
"""A field path or an id as the engine spells it (`diagnosis.condition`, `facet_arthropathy`)."""
DISC = {
    "age": 52,
    "sex": "male",
    "diagnoses": [{"condition": "herniated_disc", "region": "lumbar", "levels": ["L4-L5"]}],
    "symptoms": {"pain_pattern": "radicular"},
}


def _words_shown(case: dict[str, object], policy: str | None = None) -> list[str]:
    """Every sentence the app shows for a case: reasons, findings, and the questions it asks."""
    evaluator = default_evaluator()
    report = evaluator.evaluate(case, policy)
    texts = [reason.text for cand in report.candidates for reason in cand.reasons]
    texts += [f.text for f in (*report.red_flags, *report.contraindications, *report.warnings)]
    texts += [question(evaluator.knowledge, m.field) for m in report.missing_information]
    return texts


def test_not_met_reads_as_the_clinical_condition_not_the_field_path() -> None:
    report = default_evaluator().evaluate(DISC)
    facet = next(c for c in report.candidates if c.procedure == "facet_joint_injection")
    text = next(r.text for r in facet.reasons if r.kind == "not_met")
    assert "the diagnosis is facet joint arthropathy" in text
    assert "diagnosis.condition" not in text and "facet_arthropathy" not in text


def test_an_undecided_rule_names_what_to_ask_in_words() -> None:
    case = {**DISC, "symptoms": {"pain_pattern": "radicular"}}
    report = default_evaluator().evaluate(case, "nice")
    undecided = [r.text for c in report.candidates for r in c.reasons if r.kind == "unknown"]
    assert undecided and all(not ENGINE_SPELLING.search(text.split(":")[0]) for text in undecided)
    assert any("sciatica acute and severe" in text for text in undecided)


@pytest.mark.parametrize("name", sorted(demo_cases()))
def test_no_sentence_shown_for_a_demo_case_carries_a_field_path_or_raw_id(name: str) -> None:
    for policy in (None, "nice", "cms"):
        for text in _words_shown(demo_cases()[name]["case"], policy):
            found = ENGINE_SPELLING.search(text)
            assert found is None, f"{name} ({policy}): {found.group()!r} in {text!r}"


def test_pregnancy_is_not_asked_of_a_male_patient_but_is_when_sex_is_unknown() -> None:
    """contra.pregnancy (seed_003#contraindications) is undecided only when sex is not male."""
    male = default_evaluator().evaluate({**DISC, "sex": "male"})
    unknown_sex = default_evaluator().evaluate({key: value for key, value in DISC.items() if key != "sex"})
    assert "pregnant" not in [m.field for m in male.missing_information]
    assert "pregnant" in [m.field for m in unknown_sex.missing_information]


def test_red_flag_questions_come_first_in_the_asking_order() -> None:
    knowledge = default_evaluator().knowledge
    flags = red_flag_fields(knowledge)
    assert set(flags) == {"symptoms.cauda_equina_signs", "symptoms.progressive_neurological_deficit"}
    report = default_evaluator().evaluate({"diagnoses": [{"condition": "herniated_disc", "region": "lumbar"}]})
    asked = asking_order(knowledge, [m.field for m in report.missing_information])
    assert set(asked[: len(flags)]) == set(flags)
    assert sorted(asked[len(flags) :], key=question_paths().index) == asked[len(flags) :]


def test_exports_ask_questions_and_name_sources_by_title() -> None:
    report = default_evaluator().evaluate({"diagnoses": [{"condition": "herniated_disc", "region": "lumbar"}]})
    text, markdown = to_text(report), to_markdown(report)
    for export in (text, markdown):
        assert "Are there signs of cauda equina syndrome" in export
        assert "Low back pain and sciatica in over 16s" in export  # nice_ng59's title
    assert text.index("cauda equina syndrome") < text.index("What is the patient's sex?")
    assert "[NICE NG59: Low back pain and sciatica in over 16s" in markdown  # linked where the URL is known
