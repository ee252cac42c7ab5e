"""The clinician page keeps one set of answers per case (issue 15, items 1 and 2), driven with AppTest.

The patient of the issue: 71, male, L4-L5 foraminal stenosis, on apixaban. With the medication
history marked "Listed" and the table left empty he must be asked about medications, never be
read as "takes nothing" (which gives an injection). Answers given in the needs-information box
are the form's answers too, and what-if works on list entries.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from form_tab import open_form, open_tab
from streamlit.testing.v1 import AppTest

from decision.diff import field_question
from ui.clinician import DEMO_TAB, JSON_TAB

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60
SCRIPT = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from ui.clinician import clinician_page
clinician_page()
"""
ESI_TRANSFORAMINAL = "Epidural steroid injection, transforaminal, lumbar spine (L4-L5)"


def _page() -> AppTest:
    return AppTest.from_string(SCRIPT, default_timeout=TIMEOUT).run()


def _form() -> AppTest:
    """The page with its case form open (the input tabs draw only the open one)."""
    return open_form(_page())


def _text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def _case(at: AppTest) -> dict[str, Any]:
    case: dict[str, Any] = at.session_state["case_answers"].case
    return case


def _asked(at: AppTest, question: str) -> bool:
    text = _text(at)
    box = text.find("**Needs information before a decision**")
    return box >= 0 and f"**{question}**" in text[box:]


def _edits(*rows: dict[str, Any]) -> dict[str, Any]:
    """What the browser sends for a table whose first row is typed over and further rows added."""
    first, *added = rows
    return {"edited_rows": {0: first}, "added_rows": list(added), "deleted_rows": []}


def _the_apixaban_patient(at: AppTest) -> AppTest:
    """The issue's patient entered in the form, everything answered but the medications."""
    scan = (dt.date.today() - dt.timedelta(days=60)).isoformat()
    at.number_input(key="f_age").set_value(71)
    at.selectbox(key="f_sex").set_value("male")
    at.radio(key="f_pregnant").set_value("No")
    for name, value in (("condition", "spinal_stenosis"), ("region", "lumbar"), ("subtype", "foraminal")):
        at.selectbox(key=f"f_diagnoses.{name}").set_value(value)
    at.selectbox(key="f_diagnoses.side").set_value("left")
    at.text_input(key="f_diagnoses.levels").input("L4-L5")
    at.radio(key="f_diagnoses.prior_surgery_at_site").set_value("No")
    at.selectbox(key="f_symptoms.pain_pattern").set_value("radicular")
    at.number_input(key="f_symptoms.duration_weeks").set_value(12)
    at.number_input(key="f_symptoms.pain_score").set_value(7)
    for flag in ("cauda_equina_signs", "progressive_neurological_deficit"):
        at.radio(key=f"f_symptoms.{flag}").set_value("No")
    at.number_input(key="f_conservative_care.weeks").set_value(8)
    at.radio(key="f_conservative_care.failed").set_value("Yes")
    at.number_input(key="f_labs.inr").set_value(1.0)
    at.number_input(key="f_labs.platelets").set_value(250)
    for flag in (
        "active_infection",
        "injection_site_infection",
        "bleeding_disorder",
        "spinal_malignancy",
        "renal_disease",
        "liver_disease",
        "osteoporosis",
    ):
        at.radio(key=f"f_comorbidities.{flag}").set_value("No")
    at.selectbox(key="f_comorbidities.diabetes").set_value("none")
    at.selectbox(key="f_comorbidities.heart_failure").set_value("none")
    at.radio(key="f_allergies_taken").set_value("None")
    at.radio(key="f_prior_injections_taken").set_value("None")
    at.radio(key="f_imaging_taken").set_value("Listed").run()
    at.session_state["f_imaging_table"] = _edits({"modality": "mri", "date": scan, "concordant": True})
    return at.run()


def test_the_apixaban_patient_with_an_empty_listed_medication_table_is_asked_not_given_an_injection() -> None:
    at = _the_apixaban_patient(_form())
    at.radio(key="f_medications_taken").set_value("Listed").run()
    assert at.data_editor(key="f_medications_table") is not None  # the table is there before Assess
    at.button(key="f_assess").click().run()
    assert not at.exception and not at.error
    text = _text(at)
    assert _case(at)["medications"] is None
    assert _asked(at, field_question("medications"))
    assert "INDICATED WITH CAUTION" not in text and ":green[**INDICATED**]" not in text
    assert f":blue[**NEEDS INFORMATION**] {ESI_TRANSFORAMINAL}" in text
    # the same patient with "None" chosen does get the injection: the empty table alone made the difference
    at.radio(key="f_medications_taken").set_value("None").run()
    at.button(key="f_assess").click().run()
    assert _case(at)["medications"] == []
    assert f":green[**INDICATED**] {ESI_TRANSFORAMINAL}" in _text(at)


def test_a_medication_listed_in_the_needs_information_box_is_kept_by_the_next_form_assess() -> None:
    at = _the_apixaban_patient(_form())
    at.button(key="f_assess").click().run()  # medications not asked
    assert _asked(at, field_question("medications"))
    at.radio(key="answer_medications_taken").set_value("Listed").run()
    at.session_state["answer_medications_table"] = _edits({"name": "apixaban", "last_dose_hours_ago": 48})
    at.run()
    at.button(key="answer_reassess").click().run()
    assert not at.exception
    assert _case(at)["medications"] == [{"name": "apixaban", "last_dose_hours_ago": 48}]
    assert f":violet[**DEFERRED**] {ESI_TRANSFORAMINAL}" in _text(at)
    # written back to the form: its history question and table now hold the answer
    assert at.radio(key="f_medications_taken").value == "Listed"
    at.button(key="f_assess").click().run()
    assert not at.exception
    assert _case(at)["medications"] == [{"name": "apixaban", "last_dose_hours_ago": 48}]
    assert not _asked(at, field_question("medications"))  # the question does not come back


def test_a_scalar_answered_in_the_box_is_set_in_the_form_and_survives_form_assess() -> None:
    at = _form()
    at.selectbox(key="f_diagnoses.condition").set_value("herniated_disc")
    at.selectbox(key="f_diagnoses.region").set_value("lumbar")
    at.button(key="f_assess").click().run()
    assert _asked(at, field_question("comorbidities.osteoporosis"))
    at.radio(key="answer_comorbidities.osteoporosis").set_value("No").run()
    at.button(key="answer_reassess").click().run()
    assert _case(at)["comorbidities"]["osteoporosis"] is False
    assert at.radio(key="f_comorbidities.osteoporosis").value == "No"
    assert at.selectbox(key="f_diagnoses.condition").value == "herniated_disc"  # the rest of the form as typed
    at.button(key="f_assess").click().run()
    assert _case(at)["comorbidities"]["osteoporosis"] is False
    assert not _asked(at, field_question("comorbidities.osteoporosis"))


def test_a_demo_case_fills_the_form_so_form_assess_gives_the_same_report() -> None:
    at = _page()
    at.selectbox(key="demo_choice").set_value("esi-apixaban-24h-deferred").run()
    open_form(at)  # the demo chosen, then the form opened: it shows the demo's answers
    assert at.radio(key="f_medications_taken").value == "Listed"
    assert at.number_input(key="f_age").value == 52
    report_before = _text(at)
    at.button(key="f_assess").click().run()
    assert not at.exception
    assert _case(at)["medications"] == [{"name": "apixaban", "last_dose_hours_ago": 24}]
    assert f":violet[**DEFERRED**] {ESI_TRANSFORAMINAL}" in report_before
    assert f":violet[**DEFERRED**] {ESI_TRANSFORAMINAL}" in _text(at)


def test_what_if_adds_a_medication_and_says_the_change_in_words_then_keeps_it() -> None:
    at = _page()
    at.selectbox(key="demo_choice").set_value("esi-lumbar-radicular-indicated").run()
    at.selectbox(key="whatif_path").set_value("add:medications").run()
    at.text_input(key="whatif_medications.name").input("apixaban")
    at.number_input(key="whatif_medications.last_dose_hours_ago").set_value(24).run()
    assert not at.exception
    text = _text(at)
    assert f"{ESI_TRANSFORAMINAL}: **INDICATED** → **DEFERRED**" in text
    assert "Apixaban is stopped" in text  # the rule by its statement
    assert "hold.apixaban" not in text.split("**Rules now met**")[1]  # never the rule id as the text
    at.button(key="whatif_keep").click().run()
    assert _case(at)["medications"] == [{"name": "apixaban", "last_dose_hours_ago": 24}]
    open_form(at)
    assert at.radio(key="f_medications_taken").value == "Listed"
    assert f":violet[**DEFERRED**] {ESI_TRANSFORAMINAL}" in _text(at)


def test_what_if_changes_the_recorded_apixabans_last_dose_instead_of_adding_a_second_apixaban() -> None:
    at = _page()
    at.selectbox(key="demo_choice").set_value("esi-lumbar-radicular-indicated").run()
    at.selectbox(key="whatif_path").set_value("add:medications").run()
    at.text_input(key="whatif_medications.name").input("apixaban")
    at.number_input(key="whatif_medications.last_dose_hours_ago").set_value(24).run()
    at.button(key="whatif_keep").click().run()
    assert f":violet[**DEFERRED**] {ESI_TRANSFORAMINAL}" in _text(at)
    choice = "entry:medications:0:last_dose_hours_ago"
    assert choice in at.selectbox(key="whatif_path").options or any(
        "apixaban" in o.lower() and "dose" in o.lower() for o in at.selectbox(key="whatif_path").options
    )
    at.selectbox(key="whatif_path").set_value(choice).run()
    at.number_input(key="whatif_value").set_value(130).run()
    assert not at.exception
    text = _text(at)
    assert f"{ESI_TRANSFORAMINAL}: **DEFERRED** → " in text
    assert "entry:" not in text and "medications.last_dose" not in text  # words, not the choice's key
    at.button(key="whatif_keep").click().run()
    assert _case(at)["medications"] == [{"name": "apixaban", "last_dose_hours_ago": 130}]  # changed, not added


def test_what_if_adds_a_scan_with_its_date() -> None:
    at = _page()
    at.selectbox(key="demo_choice").set_value("esi-mri-older-than-6-months").run()
    assert f":blue[**NEEDS INFORMATION**] {ESI_TRANSFORAMINAL}" in _text(at)
    at.selectbox(key="whatif_path").set_value("add:imaging").run()
    at.selectbox(key="whatif_imaging.modality").set_value("mri")
    at.date_input(key="whatif_imaging.date").set_value(dt.date(2026, 9, 1))
    at.radio(key="whatif_imaging.concordant").set_value("Yes").run()
    assert not at.exception and not at.error
    text = _text(at)
    assert f"{ESI_TRANSFORAMINAL}: **NEEDS INFORMATION** → **INDICATED**" in text
    assert f"No longer needs: {field_question('imaging')}" in text
    assert "needs an up-to-date MRI, ideally from the last 6 months" in text  # the statement, figure filled in


def test_what_if_adds_an_earlier_injection_that_reaches_the_repeat_limit() -> None:
    import json

    from decision.demo_cases import demo_cases

    case = dict(demo_cases()["esi-repeat-limit-3-in-12-months"]["case"])
    case["prior_injections"] = case["prior_injections"][:2]
    at = open_tab(_page(), JSON_TAB)
    at.text_area[0].set_value(json.dumps(case)).run()
    next(b for b in at.button if b.label == "Assess this JSON").click().run()
    assert f":green[**INDICATED**] {ESI_TRANSFORAMINAL}" in _text(at)
    open_form(at)
    assert at.radio(key="f_prior_injections_taken").value == "Listed"  # pasted answers are the form's too
    at.selectbox(key="whatif_path").set_value("add:prior_injections").run()
    at.selectbox(key="whatif_prior_injections.procedure").set_value("epidural_steroid_injection")
    at.selectbox(key="whatif_prior_injections.approach").set_value("transforaminal")
    at.selectbox(key="whatif_prior_injections.region").set_value("lumbar")
    at.date_input(key="whatif_prior_injections.date").set_value(dt.date(2026, 9, 1))
    at.radio(key="whatif_prior_injections.steroid").set_value("Yes").run()
    assert not at.exception and not at.error
    text = _text(at)
    assert f"{ESI_TRANSFORAMINAL}: **INDICATED** → **DEFERRED**" in text
    assert "limited to 3 in 12 months" in text


def test_answers_typed_in_the_form_survive_switching_to_the_demo_tab_and_back() -> None:
    at = _form()
    at.number_input(key="f_age").set_value(71)
    at.selectbox(key="f_diagnoses.condition").set_value("herniated_disc")
    at.radio(key="f_medications_taken").set_value("Listed").run()
    at.session_state["f_medications_table"] = _edits({"name": "apixaban", "last_dose_hours_ago": 48})
    at.run()
    open_tab(at, DEMO_TAB)
    assert not any(n.key == "f_age" for n in at.number_input)  # the closed form is not drawn
    open_form(at)
    assert at.number_input(key="f_age").value == 71
    assert at.selectbox(key="f_diagnoses.condition").value == "herniated_disc"
    assert at.radio(key="f_medications_taken").value == "Listed"
    at.button(key="f_assess").click().run()  # the table's typed row too, though its editor was not drawn
    assert _case(at)["age"] == 71
    assert _case(at)["medications"] == [{"name": "apixaban", "last_dose_hours_ago": 48}]


def test_a_demo_chosen_while_the_form_was_closed_is_shown_when_the_form_opens() -> None:
    at = _form()
    at.number_input(key="f_age").set_value(30).run()  # typed, not assessed
    open_tab(at, DEMO_TAB)
    at.selectbox(key="demo_choice").set_value("esi-apixaban-24h-deferred").run()
    open_form(at)
    assert at.number_input(key="f_age").value == 52
    assert at.radio(key="f_medications_taken").value == "Listed"
    at.button(key="f_assess").click().run()
    assert _case(at)["medications"] == [{"name": "apixaban", "last_dose_hours_ago": 24}]
    open_tab(at, DEMO_TAB)
    assert at.selectbox(key="demo_choice").value == "esi-apixaban-24h-deferred"  # still named as chosen


def test_answers_typed_for_one_patient_do_not_answer_for_the_next_one_loaded() -> None:
    """The reviewer's finding: "None" chosen in the needs-information box (not yet re-assessed),
    then another patient pasted in, asked the same question: it must come back unanswered, and
    "Save again" must not offer to make them a version of the first patient's stored case."""
    import json

    from decision.demo_cases import demo_cases

    at = _page()
    at.selectbox(key="demo_choice").set_value("esi-medications-unknown-needs-information").run()
    next(b for b in at.button if b.label == "Save to the MDT list").click().run()
    assert any(b.label == "Save again (new version)" for b in at.button)
    at.radio(key="answer_medications_taken").set_value("None").run()
    other = {**demo_cases()["esi-medications-unknown-needs-information"]["case"], "age": 63}
    open_tab(at, JSON_TAB)
    at.text_area(key="case_json").set_value(json.dumps(other)).run()
    next(b for b in at.button if b.label == "Assess this JSON").click().run()
    assert not at.exception
    assert _case(at)["age"] == 63 and "medications" not in _case(at)
    assert at.radio(key="answer_medications_taken").value == "Not asked"
    assert not any(b.label == "Save again (new version)" for b in at.button)
