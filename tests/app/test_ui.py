"""Every page of the Streamlit app, driven with AppTest (no browser): it renders and it works."""

from __future__ import annotations

from pathlib import Path

from form_tab import open_form, open_tab
from streamlit.testing.v1 import AppTest

from decision.wording import question, shipped_knowledge
from ui.clinician import DEMO_TAB, JSON_TAB

APP = str(Path(__file__).resolve().parents[2] / "ui" / "app.py")
TIMEOUT = 60


def _question(path: str) -> str:
    """The clinician's question for a case field (knowledge/questions.yaml)."""
    return question(shipped_knowledge(), path)


def _button(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == label)


def _text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def _case(at: AppTest) -> dict:  # type: ignore[type-arg]
    """The case's one set of answers on the clinician page."""
    return at.session_state["case_answers"].case  # type: ignore[no-any-return]


def _asked(at: AppTest, question: str) -> bool:
    """Whether the needs-information box asks this question (by its text, never a field path)."""
    text = _text(at)
    box = text.find("**Needs information before a decision**")
    return box >= 0 and f"**{question}**" in text[box:]


def _page(name: str) -> AppTest:
    """One page function run on its own (st.navigation routing is covered by the browser tests)."""
    script = f"""
import sys
sys.path.insert(0, {str(Path(APP).parent.parent)!r})
from ui.{name.split(".")[0]} import {name.split(".")[1]}
{name.split(".")[1]}()
"""
    return AppTest.from_string(script, default_timeout=TIMEOUT)


def test_the_app_opens_on_the_clinician_page() -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert any("Clinician: assess a case" in h.value for h in at.header)


def test_a_demo_case_gives_the_expected_cards_with_rules_and_sources() -> None:
    at = _page("clinician.clinician_page").run()
    at.selectbox(key="demo_choice").set_value("esi-lumbar-radicular-indicated").run()
    assert not at.exception
    text = _text(at)
    assert ":green[**INDICATED**] Epidural steroid injection, transforaminal, lumbar spine (L4-L5)" in text
    assert "Medicare LCD L39240: Epidural Steroid Injections for Pain Management]" in text  # by title, linked
    assert "esi.disc_radicular" not in text and "cms_l39240#indications" not in text
    at.toggle(key="report_source_ids").set_value(True).run()  # the ids, for a reviewer
    text = _text(at)
    assert "[`esi.disc_radicular`](/rules?rule=esi.disc_radicular)" in text
    assert "`cms_l39240#indications`" in text


def test_a_red_flag_is_shown_first_as_an_error() -> None:
    at = _page("clinician.clinician_page").run()
    at.selectbox(key="demo_choice").set_value("red-flag-cauda-equina").run()
    assert at.error and "RED FLAG" in at.error[0].value


def test_invalid_pasted_json_gives_a_clear_error() -> None:
    at = open_tab(_page("clinician.clinician_page").run(), JSON_TAB)
    at.text_area[0].set_value('{"age": "fifty"}').run()
    _button(at, "Assess this JSON").click().run()
    assert not at.exception
    assert any("age: Input should be a valid number" in e.value for e in at.error)


def test_a_pasted_fhir_bundle_is_assessed_and_its_unused_parts_listed() -> None:
    import json

    from fhir_bundles import bundle_from_case
    from vignette_format import SHARED_VIGNETTES, load_vignette

    bundle = bundle_from_case(load_vignette(SHARED_VIGNETTES / "esi-warfarin-inr-unknown.yaml")["case"])
    bundle["entry"].append(
        {"resource": {"resourceType": "Encounter", "id": "e1", "status": "finished", "class": {"code": "AMB"}}}
    )
    at = open_tab(_page("clinician.clinician_page").run(), JSON_TAB)
    at.text_area[0].set_value(json.dumps(bundle)).run()
    _button(at, "Assess this JSON").click().run()
    assert not at.exception
    assert "NEEDS INFORMATION" in _text(at)
    assert any("Encounter resources are not used" in m.value for m in at.markdown)
    at.text_area[0].set_value(
        json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Foo"}}]})
    ).run()
    _button(at, "Assess this JSON").click().run()
    assert any("'Foo' is not a FHIR R4B resource type" in e.value for e in at.error)


def test_the_form_leaves_unanswered_questions_unknown() -> None:
    at = open_form(_page("clinician.clinician_page").run())
    at.selectbox(key="f_diagnoses.condition").set_value("herniated_disc")
    at.selectbox(key="f_diagnoses.region").set_value("lumbar")
    at.selectbox(key="f_symptoms.pain_pattern").set_value("radicular")
    at.button(key="f_assess").click().run()
    assert not at.exception
    text = _text(at)
    assert "NEEDS INFORMATION" in text
    assert _case(at)["medications"] is None
    assert _asked(at, _question("medications")) and _asked(at, _question("comorbidities.active_infection"))


def _form_with_a_lumbar_disc(at: AppTest) -> AppTest:
    at.selectbox(key="f_diagnoses.condition").set_value("herniated_disc")
    at.selectbox(key="f_diagnoses.region").set_value("lumbar")
    at.selectbox(key="f_symptoms.pain_pattern").set_value("radicular")
    return at


def test_an_empty_form_sends_no_diagnosis_as_unknown_and_asks_for_it() -> None:
    at = open_form(_page("clinician.clinician_page").run())
    at.button(key="f_assess").click().run()
    assert not at.exception
    assert _case(at)["diagnoses"] is None
    assert _asked(at, _question("diagnoses"))


def test_listed_with_an_empty_table_is_unknown_and_asked_never_none() -> None:
    at = _form_with_a_lumbar_disc(open_form(_page("clinician.clinician_page").run()))
    at.radio(key="f_medications_taken").set_value("Listed").run()
    assert at.data_editor(key="f_medications_table") is not None  # the table is there at once, before Assess
    assert any("the medication list is treated as not yet known" in i.value for i in at.info)
    at.button(key="f_assess").click().run()
    assert not at.exception
    assert _case(at)["medications"] is None
    assert _asked(at, _question("medications"))  # asked as missing information
    at.radio(key="f_medications_taken").set_value("None").run()
    at.button(key="f_assess").click().run()
    assert _case(at)["medications"] == []  # only "None" says "takes nothing"


def test_a_half_filled_medication_row_is_flagged_in_place_and_the_list_stays_unknown() -> None:
    at = _form_with_a_lumbar_disc(open_form(_page("clinician.clinician_page").run()))
    at.radio(key="f_medications_taken").set_value("Listed").run()
    # what the browser sends after the clinician types apixaban in row 1 and only a last dose in row 2
    at.session_state["f_medications_table"] = {
        "edited_rows": {0: {"name": "apixaban", "last_dose_hours_ago": 24}},
        "added_rows": [{"last_dose_hours_ago": 12}],
        "deleted_rows": [],
    }
    at.run()
    flagged = "\n".join(w.value for w in at.warning)
    assert "Medication row 2: name is missing" in flagged
    assert "The medication list is treated as not yet known until row 2 is completed" in flagged
    at.button(key="f_assess").click().run()
    assert not at.exception and not at.error  # no whole-page validation error
    assert _case(at)["medications"] is None
    text = _text(at)
    assert "NEEDS INFORMATION" in text and _asked(at, _question("medications"))
    assert "INDICATED WITH CAUTION" not in text and ":green[**INDICATED**]" not in text
    assert any("Left out of this assessment" in w.value and "row 2" in w.value for w in at.warning)


def test_the_form_can_say_what_an_unlisted_drug_is_and_give_the_labs_range() -> None:
    at = _form_with_a_lumbar_disc(open_form(_page("clinician.clinician_page").run()))
    at.radio(key="f_medications_taken").set_value("Listed").run()
    at.session_state["f_medications_table"] = {
        "edited_rows": {0: {"name": "zorbifaxen", "last_dose_hours_ago": 5, "drug_class": "direct_oral_anticoagulant"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.number_input(key="f_labs.inr").set_value(1.3).run()
    at.number_input(key="f_labs.ranges.inr.high").set_value(1.4).run()
    at.radio(key="f_comorbidities.renal_disease").set_value("Yes").run()
    at.button(key="f_assess").click().run()
    assert not at.exception and not at.error
    case = _case(at)
    assert case["medications"] == [
        {"name": "zorbifaxen", "last_dose_hours_ago": 5, "drug_class": "direct_oral_anticoagulant"}
    ]
    assert case["labs"]["ranges"] == {"inr": {"low": None, "high": 1.4}}
    assert case["comorbidities"]["renal_disease"] is True
    # an anticoagulant with no checked row waits for the prescriber's plan, never passes
    at.toggle(key="report_source_ids").set_value(True).run()
    assert "DEFERRED" in _text(at) and "hold.no_table_row_intermediate_or_high" in _text(at)


def test_an_imaging_row_dated_after_the_assessment_is_flagged_and_the_imaging_list_stays_unknown() -> None:
    at = _form_with_a_lumbar_disc(open_form(_page("clinician.clinician_page").run()))
    at.radio(key="f_imaging_taken").set_value("Listed").run()
    at.session_state["f_imaging_table"] = {
        "edited_rows": {0: {"modality": "mri", "date": "2999-01-01", "concordant": True}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.button(key="f_assess").click().run()
    assert not at.exception and not at.error
    assert any("Imaging row 1: date (2999-01-01) is after" in w.value for w in at.warning)
    assert _case(at)["imaging"] is None
    assert _asked(at, _question("imaging"))


def test_missing_information_can_be_answered_in_place() -> None:
    at = _page("clinician.clinician_page").run()
    at.selectbox(key="demo_choice").set_value("esi-medications-unknown-needs-information").run()
    assert "NEEDS INFORMATION" in _text(at)
    at.radio(key="answer_medications_taken").set_value("None").run()
    _button(at, "Re-assess with these answers").click().run()
    assert ":green[**INDICATED**] Epidural steroid injection, transforaminal" in _text(at)


def test_what_if_shows_the_difference() -> None:
    at = _page("clinician.clinician_page").run()
    at.selectbox(key="demo_choice").set_value("esi-lumbar-radicular-indicated").run()
    at.selectbox(key="whatif_path").set_value("comorbidities.active_infection").run()
    at.radio(key="whatif_value").set_value("Yes").run()
    text = _text(at)
    assert "Epidural steroid injection, transforaminal, lumbar spine (L4-L5): **INDICATED** → **DEFERRED**" in text
    assert "epidural_steroid_injection/" not in text and "`contra." not in text  # words, not ids


def test_the_form_and_what_if_ask_a_field_as_a_clinician_does_within_the_models_bounds() -> None:
    at = open_form(_page("clinician.clinician_page").run())
    pain = at.number_input(key="f_symptoms.pain_score")
    asked = "How bad is the pain on a 0-10 scale?"
    assert (pain.label, pain.min, pain.max, pain.value) == (asked, 0, 10, None)
    infection = at.radio(key="f_comorbidities.active_infection").label
    assert infection == "Does the patient have an active infection (systemic or at the injection site)?"
    open_tab(at, DEMO_TAB).selectbox(key="demo_choice").set_value("esi-lumbar-radicular-indicated").run()
    at.selectbox(key="whatif_path").set_value("symptoms.pain_score").run()
    changed = at.number_input(key="whatif_value")
    assert (changed.label, changed.min, changed.max, changed.value) == (asked, 0, 10, None)


def test_saving_gives_a_link_with_only_a_random_id_that_reopens_the_case() -> None:
    at = _page("clinician.clinician_page").run()
    at.selectbox(key="demo_choice").set_value("caution-controlled-diabetes").run()
    _button(at, "Save to the MDT list").click().run()
    success = at.success[0].value
    case_id = success.split("?case=")[1].split("`")[0]
    assert "caution" not in case_id and len(case_id) >= 12
    reopened = _page("clinician.clinician_page")
    reopened.query_params["case"] = case_id
    reopened.run()
    assert "INDICATED WITH CAUTION" in _text(reopened)


def test_the_matrix_is_generated_from_the_rules() -> None:
    at = _page("trainee.matrix_page").run()
    assert not at.exception
    frame = at.table[0].value
    herniated = " ".join(frame.loc["Herniated disc with radiculopathy (sciatica)"].tolist())
    assert "Epidural steroid injection for radicular pain from a herniated disc" in herniated
    assert frame.loc["Complex regional pain syndrome"]["Epidural steroid injection"] == ""
    at.selectbox(key="matrix_cell").set_value("crps × sympathetic_block").run()
    assert "Stellate ganglion block for upper-limb CRPS" in _text(at) and "seed_002#case_examples" in _text(at)


def test_the_rules_page_opens_the_linked_rule() -> None:
    at = _page("trainee.rules_page")
    at.query_params["rule"] = "hold.apixaban.intermediate_high"
    at.run()
    assert not at.exception
    opened = [e for e in at.expander if e.label.startswith("hold.apixaban.intermediate_high")]
    assert opened and "120 hours" in opened[0].label + _text(at)
    assert "asra_2018#doacs" in _text(at)


def test_the_quiz_scores_answers_and_teaches() -> None:
    at = _page("trainee.quiz_page").run()
    at.selectbox(key="quiz_case").set_value("esi-apixaban-24h-deferred").run()
    for box in at.selectbox:
        if box.key and box.key.startswith("quiz_esi-apixaban-24h-deferred_"):
            box.set_value("deferred")
    _button(at, "Check my answers").click().run()
    text = _text(at)
    assert "of" in text and "right" in text and "Teaching point" in text and "hold.apixaban" in text


def test_the_mdt_page_records_an_override_and_audits_it() -> None:
    from decision import evaluate
    from decision.demo_cases import demo_cases
    from decision.store import CaseStore

    CaseStore().seed_demo_cases(demo_cases(), evaluate)  # the app never seeds: the test's store is given cases
    at = _page("mdt.mdt_page").run()
    assert not at.exception
    at.toggle(key="mdt_show_demo").set_value(True).run()  # the seeded cases are demo cases
    at.selectbox(key="mdt_case").set_value("esi-lumbar-radicular-indicated").run()
    at.selectbox(key="mdt_proc_esi-lumbar-radicular-indicated").set_value("none")
    _button(at, "Record decision").click().run()
    assert any("override reason" in e.value for e in at.error)
    at.text_area(key="mdt_reason_esi-lumbar-radicular-indicated").set_value("patient declined injection")
    _button(at, "Record decision").click().run()
    assert any("Recorded: No procedure by local user, not authenticated" in s.value for s in at.success)
    audit = at.table[-1].value
    assert "decision recorded" in audit["what"].tolist() and "local user, not authenticated" in audit["who"].tolist()
    _button(at, "Verify the audit trail").click().run()
    assert any("Audit trail intact" in s.value for s in at.success)
