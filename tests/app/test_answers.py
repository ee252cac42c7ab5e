"""The case's one set of answers as plain code (ui.case_answers, ui.form_fill, decision.diff's words)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from decision.demo_cases import demo_cases
from decision.diff import diff_in_words, field_question
from decision.evaluator import default_evaluator
from decision.report import MissingInformation
from ui.case_answers import CaseAnswers, Change, assess, changed, entries_asked, what_if
from ui.form_fill import LISTED, NONE_LISTED, NOT_ASKED, UNKNOWN, form_fill

ESI_TRANSFORAMINAL = "Epidural steroid injection, transforaminal, lumbar spine (L4-L5)"


def _demo(name: str) -> dict[str, Any]:
    case: dict[str, Any] = demo_cases()[name]["case"]
    return case


def test_form_fill_shows_unknown_as_unknown_and_an_empty_list_as_none() -> None:
    fill = form_fill({"age": 71, "medications": [], "comorbidities": {"osteoporosis": False}})
    assert fill.values["f_age"] == 71
    assert fill.values["f_medications_taken"] == NONE_LISTED
    assert fill.values["f_imaging_taken"] == NOT_ASKED  # absent: not asked, never "none"
    assert fill.values["f_comorbidities.osteoporosis"] == "No"
    assert fill.values["f_comorbidities.active_infection"] == "Unknown"
    assert fill.values["f_sex"] == UNKNOWN


def test_form_fill_puts_list_entries_in_their_table_with_dates_as_dates() -> None:
    fill = form_fill(_demo("esi-apixaban-24h-deferred"))
    assert fill.values["f_medications_taken"] == LISTED
    assert fill.rows["medications"] == [
        {"name": "apixaban", "last_dose_hours_ago": 24, "drug_class": None, "regimen": None}
    ]
    assert fill.rows["imaging"][0]["date"] == dt.date(2026, 8, 15)
    assert fill.values["f_diagnoses.levels"] == "L4-L5"


def test_form_fill_shows_a_value_its_widget_cannot_hold_as_unknown() -> None:
    fill = form_fill({"age": "fifty", "sex": "unlisted", "symptoms": {"pain_score": 99}, "pregnant": "no"})
    assert fill.values["f_age"] is None
    assert fill.values["f_sex"] == UNKNOWN
    assert fill.values["f_symptoms.pain_score"] is None
    assert fill.values["f_pregnant"] == "Unknown"


def test_an_answer_for_one_list_entry_changes_only_that_entry() -> None:
    case = {"medications": [{"name": "zorbifaxen"}, {"name": "apixaban", "last_dose_hours_ago": 24}]}
    item = MissingInformation(field="medications.drug_class", why="", rule_id="r", about=["zorbifaxen"])
    assert entries_asked(case, item) == [0]
    answered = changed(case, Change(path="medications.drug_class", value="direct_oral_anticoagulant", entry=0))
    assert answered["medications"][0] == {"name": "zorbifaxen", "drug_class": "direct_oral_anticoagulant"}
    assert answered["medications"][1] == case["medications"][1]
    assert "drug_class" not in case["medications"][0]  # the case given is left as it was


def test_a_question_about_every_diagnosis_is_asked_for_each_unanswered_one() -> None:
    case = {
        "diagnoses": [{"condition": "herniated_disc"}, {"condition": "spinal_stenosis", "prior_surgery_at_site": True}]
    }
    item = MissingInformation(field="diagnoses.prior_surgery_at_site", why="", rule_id="r")
    assert entries_asked(case, item) == [0]


def test_adding_an_entry_to_an_unknown_list_makes_a_list_of_it() -> None:
    assert changed({}, Change(path="medications", value={"name": "apixaban"}, add=True)) == {
        "medications": [{"name": "apixaban"}]
    }


def test_answers_from_elsewhere_move_the_revision_and_the_forms_own_do_not() -> None:
    answers = CaseAnswers()
    answers.load({"policy": "nice", "diagnoses": [{"condition": "crps"}, {"condition": "herniated_disc"}]})
    assert answers.form_behind
    answers.shown = answers.revision
    answers.from_form({"age": 40, "diagnoses": [{"condition": "spinal_stenosis"}]})
    assert not answers.form_behind
    # what the form does not ask is kept: the policy, and the diagnoses after the first
    assert answers.case["policy"] == "nice"
    assert answers.case["diagnoses"] == [{"condition": "spinal_stenosis"}, {"condition": "herniated_disc"}]
    answers.apply(Change(path="comorbidities.osteoporosis", value=False))
    assert answers.form_behind and answers.case["comorbidities"] == {"osteoporosis": False}
    assert answers.form_case is not None  # the form changes only what the answer changed


def test_field_questions_are_the_clinicians_questions_never_paths() -> None:
    assert field_question("medications").startswith("Does the patient take any medicines")
    assert field_question("medications.last_dose_hours_ago") == "How many hours ago was the last dose taken?"
    surgery = "Has the patient had surgery or radiotherapy at the site to be injected?"
    assert field_question("diagnoses.prior_surgery_at_site") == surgery
    assert field_question("comorbidities.renal_disease") == "Does the patient have severe kidney disease?"


@pytest.fixture(scope="module")
def evaluator():  # type: ignore[no-untyped-def]
    return default_evaluator()


def test_what_if_apixaban_24_hours_ago_defers_the_epidural_in_words(evaluator) -> None:  # type: ignore[no-untyped-def]
    case = _demo("esi-lumbar-radicular-indicated")
    report = assess(evaluator, case)
    result = what_if(
        evaluator,
        case,
        report,
        Change(path="medications", value={"name": "apixaban", "last_dose_hours_ago": 24}, add=True),
    )
    statuses = {s.title: (s.before, s.after) for s in result.words.statuses}
    assert statuses[ESI_TRANSFORAMINAL] == ("INDICATED", "DEFERRED")
    assert any(r.startswith("Apixaban is stopped at least 120 hours") for r in result.words.rules_now_met)
    assert case.get("medications") == []  # what-if leaves the answers alone


def test_what_if_apixaban_130_hours_ago_changes_no_status(evaluator) -> None:  # type: ignore[no-untyped-def]
    case = _demo("esi-lumbar-radicular-indicated")
    report = assess(evaluator, case)
    change = Change(path="medications", value={"name": "apixaban", "last_dose_hours_ago": 130}, add=True)
    assert what_if(evaluator, case, report, change).words.statuses == []


def test_a_diff_in_words_names_missing_information_by_question(evaluator) -> None:  # type: ignore[no-untyped-def]
    case = _demo("esi-lumbar-radicular-indicated")
    before = assess(evaluator, {**case, "medications": None})
    after = assess(evaluator, case)
    words = diff_in_words(before, after)
    assert field_question("medications") in words.no_longer_needed
    assert all("." not in line.split(" ")[0] for line in words.no_longer_needed)


def test_a_tables_choice_cells_show_the_vocabularys_labels_and_keep_the_ids() -> None:
    """The imaging table's modality cell reads "MRI", not `mri`; the case still receives the id."""
    from decision.fields import case_layout
    from ui.case_form import HistoryTable

    for group in (g for g in case_layout() if g.repeated):
        for name, column in HistoryTable.of(group).columns.items():
            config = column["type_config"]
            if config["type"] != "selectbox":
                continue
            for option in config["options"]:
                assert "_" not in option["label"], (group.path, name, option)  # words, never an id
    imaging = next(g for g in case_layout() if g.path == "imaging")
    modality = HistoryTable.of(imaging).columns["modality"]["type_config"]["options"]
    assert {"value": "mri", "label": "MRI"} in modality
