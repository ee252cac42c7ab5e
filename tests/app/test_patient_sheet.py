"""The patient information sheet: plain words, every line sourced, lines for this patient only when they apply."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path
from typing import Any

import pypdf
import pytest
from streamlit.testing.v1 import AppTest

from decision.demo_cases import demo_cases
from decision.evaluator import default_evaluator
from decision.letter import Document, document_markdown
from decision.patient_sheet import NoPatientInformation, patient_sheet
from knowledge.loader import KnowledgeError, load_knowledge
from ui.export import document_pdf
from ui.patient_sheet import SHEET

DEMOS = demo_cases()
SOURCES_HEADING = "Where this information comes from"
PARTICULAR = "For you in particular"
RAW_ID = re.compile(r"\b[a-z0-9]+_[a-z0-9_]+\b|\b[a-z_]+\.[a-z_]+\b|#[a-z_]+\b")


def _sheet(case: dict[str, Any], procedure: str) -> Document:
    evaluator = default_evaluator()
    report = evaluator.evaluate(case)
    key = next(c.key for c in report.candidates if c.procedure == procedure)
    return patient_sheet(report, key, evaluator.knowledge)


def _section(sheet: Document, heading: str) -> list[str]:
    return [line.text for s in sheet.sections if s.heading == heading for line in s.lines]


def _all_lines(sheet: Document) -> list[tuple[str, str]]:
    return [(line.text, line.note) for s in sheet.sections if s.heading != SOURCES_HEADING for line in s.lines]


def test_every_line_of_the_sheet_names_its_source() -> None:
    sheet = _sheet(DEMOS["esi-apixaban-24h-deferred"]["case"], "epidural_steroid_injection")
    lines = _all_lines(sheet)
    assert len(lines) > 20
    for text, note in lines:
        assert note.startswith("Source: ") and "not found" not in note, text
    cited = _section(sheet, SOURCES_HEADING)
    assert any(line.startswith("Nerve Root Injection: What You Need To Know") for line in cited)


def test_the_risks_carry_the_seed_pages_figures_and_the_aftercare_the_clinics_advice() -> None:
    markdown = document_markdown(_sheet(DEMOS["esi-lumbar-radicular-indicated"]["case"], "epidural_steroid_injection"))
    for expected in ("about 1 in 50,000", "about 1 in 500,000", "about 1 in 150,000", "in about 1 in 4 people"):
        assert expected in markdown
    assert "Do not drive for 24 hours, and have someone to take you home." in markdown
    assert "Seek medical help at once" in markdown


def test_the_diabetes_line_appears_only_for_a_patient_with_diabetes_having_a_steroid() -> None:
    diabetic = _section(_sheet(DEMOS["caution-controlled-diabetes"]["case"], "epidural_steroid_injection"), PARTICULAR)
    assert any("You have diabetes" in line for line in diabetic)
    other = _sheet(DEMOS["esi-lumbar-radicular-indicated"]["case"], "epidural_steroid_injection")
    assert not any("diabetes" in line for line in _section(other, PARTICULAR))


def test_a_patient_whose_diabetes_is_not_yet_known_is_never_told_they_have_diabetes() -> None:
    """Unknown is not positive: with diabetes unasked the diabetes rule is undecided (the candidate
    needs information), and the sheet must not tell the patient they have it."""
    case = {**DEMOS["caution-controlled-diabetes"]["case"]}
    case["comorbidities"] = {k: v for k, v in case["comorbidities"].items() if k != "diabetes"}
    sheet = _sheet(case, "epidural_steroid_injection")
    assert not any("diabetes" in line.lower() for line in _section(sheet, PARTICULAR))


def test_the_blood_thinner_plan_appears_only_for_a_patient_who_takes_one() -> None:
    on_apixaban = _section(_sheet(DEMOS["esi-apixaban-24h-deferred"]["case"], "epidural_steroid_injection"), PARTICULAR)
    assert (
        "Apixaban: stop taking it at least 120 hours (5 days) before the injection. "
        "Start taking it again 12-24 hours after the injection, unless your doctor tells you otherwise."
    ) in on_apixaban
    assert "Tell the clinic before the injection that you take a blood thinner." in on_apixaban
    no_drugs = _sheet(DEMOS["esi-lumbar-radicular-indicated"]["case"], "epidural_steroid_injection")
    assert not any(s.heading == PARTICULAR for s in no_drugs.sections)


def test_a_procedure_no_source_describes_is_said_to_be_undescribed() -> None:
    sheet = _sheet(DEMOS["facet-rfa-two-blocks-at-80"]["case"], "radiofrequency_ablation")
    how = next(s for s in sheet.sections if s.heading == "What is done and how")
    assert not how.lines
    assert any(
        "None of the clinic pages this tool holds describes how this procedure is done" in p for p in how.paragraphs
    )


def test_what_is_done_is_described_only_from_the_seed_clinic_pages() -> None:
    information = default_evaluator().knowledge.patient_information
    assert information is not None and information.how_it_is_done
    for procedure, items in information.how_it_is_done.items():
        assert items and all(item.source.startswith("seed_") for item in items), procedure


@pytest.mark.parametrize("demo", sorted(DEMOS))
def test_no_sheet_shows_a_field_path_or_an_id(demo: str) -> None:
    evaluator = default_evaluator()
    report = evaluator.evaluate(DEMOS[demo]["case"])
    for candidate in report.candidates[:2]:
        sheet = patient_sheet(report, candidate.key, evaluator.knowledge)
        texts = [sheet.title, *sheet.meta]
        for section in sheet.sections:
            if section.heading != SOURCES_HEADING:  # that section lists addresses (URLs)
                texts += [section.heading, *section.paragraphs, *(line.text for line in section.lines)]
                texts += [line.note for line in section.lines]
        found = {m for text in texts for m in RAW_ID.findall(text)}
        assert not found, found


def test_a_candidate_the_report_does_not_hold_gets_no_sheet() -> None:
    evaluator = default_evaluator()
    report = evaluator.evaluate(DEMOS["esi-lumbar-radicular-indicated"]["case"])
    with pytest.raises(NoPatientInformation):
        patient_sheet(report, "sympathetic_block/stellate_ganglion/upper_limb", evaluator.knowledge)


def test_the_printed_sheet_says_what_the_page_says() -> None:
    sheet = _sheet(DEMOS["esi-apixaban-24h-deferred"]["case"], "epidural_steroid_injection")
    pdf = document_pdf(sheet)
    text = " ".join(" ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages).split())
    for expected in (sheet.title, "What is done and how", PARTICULAR, "Afterwards", SOURCES_HEADING, "1 in 50,000"):
        assert expected in text


def _knowledge_copy(tmp_path: Path, old: str, new: str) -> Path:
    root = tmp_path / "knowledge"
    shutil.copytree(Path(default_evaluator().knowledge.root), root)
    path = root / "patient_information.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return root


def test_a_misspelt_rule_in_a_line_for_some_patients_is_refused_at_load(tmp_path: Path) -> None:
    root = _knowledge_copy(
        tmp_path, "when_rules: [caution.controlled_diabetes", "when_rules: [caution.controled_diabetes"
    )
    with pytest.raises(KnowledgeError, match=r"unknown rule 'caution.controled_diabetes'.*caution.controlled_diabetes"):
        load_knowledge(root, release=False)


def test_a_description_of_a_procedure_outside_the_vocabulary_is_refused_at_load(tmp_path: Path) -> None:
    root = _knowledge_copy(tmp_path, "  medial_branch_block:\n", "  medial_branch_blok:\n")
    with pytest.raises(KnowledgeError, match=r"unknown procedure 'medial_branch_blok'"):
        load_knowledge(root, release=False)


def _page(function: str) -> AppTest:
    script = f"""
import sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
from ui.{function.split(".")[0]} import {function.split(".")[1]}
{function.split(".")[1]}()
"""
    return AppTest.from_string(script, default_timeout=60)


def test_the_assess_page_prepares_the_sheet_and_the_print_page_shows_it() -> None:
    at = _page("clinician.clinician_page").run()
    at.selectbox(key="demo_choice").set_value("caution-controlled-diabetes").run()
    assert not at.exception
    choice = at.selectbox(key="patient_sheet_choice")
    assert choice.value == "epidural_steroid_injection/interlaminar/lumbar"
    sheet = at.session_state[SHEET]
    assert isinstance(sheet, Document) and any(s.heading == PARTICULAR for s in sheet.sections)
    page = _page("patient_sheet.patient_sheet_page")
    page.session_state[SHEET] = sheet
    page.run()
    assert not page.exception
    shown = "\n".join(m.value for m in page.markdown)
    assert "# Before your spinal injection: epidural steroid injection" in shown
    assert "You have diabetes: the steroid can raise your blood sugar for 1-2 weeks" in shown


def test_the_print_page_without_a_prepared_sheet_says_how_to_make_one() -> None:
    at = _page("patient_sheet.patient_sheet_page").run()
    assert not at.exception and "Prepare a sheet first" in at.info[0].value
