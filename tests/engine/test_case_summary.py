"""The case summary: the case in clinical prose, with unknowns kept unknown and no field paths."""

from __future__ import annotations

import re
from typing import Any

import pytest

from decision import evaluate
from decision.case_summary import case_summary, field_words
from decision.demo_cases import demo_cases

DEMOS = demo_cases()
FIELD_PATH = re.compile(r"\b[a-z]+_[a-z_]+\b|\b[a-z_]+\.[a-z_]+\b")
"""A vocabulary id (`indicated_with_caution`) or a dotted case path (`comorbidities.diabetes`)."""

CONSULTANT_CASE: dict[str, Any] = {
    "assessment_date": "2026-10-05",
    "age": 71,
    "sex": "male",
    "diagnoses": [
        {
            "condition": "spinal_stenosis",
            "subtype": "foraminal",
            "region": "lumbar",
            "levels": ["L4-L5"],
            "side": "right",
        }
    ],
    "symptoms": {"pain_pattern": "radicular", "duration_weeks": 14},
    "conservative_care": {"weeks": 8, "failed": True},
    "medications": [{"name": "apixaban", "last_dose_hours_ago": 48}],
    "imaging": [{"modality": "mri", "date": "2026-10-02", "concordant": True}],
    "comorbidities": {"diabetes": "controlled"},
}


def test_the_consultants_patient_reads_as_a_clinician_would_say_it() -> None:
    text = case_summary(CONSULTANT_CASE, evaluate(CONSULTANT_CASE)).text
    assert text.startswith(
        "71-year-old man with spinal stenosis (foraminal), lumbar spine L4-L5, right, "
        "for 14 weeks despite 8 weeks of conservative care."
    )
    assert "Takes apixaban, last dose 48 hours ago." in text
    assert "MRI 2026-10-02, matches the symptoms." in text
    assert "Diabetes (present and controlled)" in text


@pytest.mark.parametrize(
    "demo",
    [
        "asipp-lumbar-transforaminal-l4-l5-apixaban-caution",
        "stenosis-foraminal-radicular-clinic",
        "caution-controlled-diabetes",
        "si-joint-pregnancy-ultrasound-caution",
        "crps-lower-limb-budapest-met",
    ],
)
def test_the_summary_of_a_demo_case_names_its_facts(demo: str) -> None:
    case = DEMOS[demo]["case"]
    text = case_summary(case, evaluate(case)).text
    assert f"{case['age']:g}-year-old" in text
    assert f"for {case['symptoms']['duration_weeks']:g} weeks" in text
    for diagnosis in case["diagnoses"]:
        for level in diagnosis.get("levels") or ():
            assert level in text
        assert diagnosis["side"] in text.lower()
    for scan in case["imaging"]:
        assert str(scan["date"]) in text
    for medication in case["medications"]:
        assert f"{medication['name']}, last dose {medication['last_dose_hours_ago']:g} hours ago" in text


@pytest.mark.parametrize("demo", sorted(DEMOS))
def test_no_summary_says_none_or_shows_a_field_path_or_an_id(demo: str) -> None:
    case = DEMOS[demo]["case"]
    summary = case_summary(case, evaluate(case))
    assert not re.search(r"\bnone\b", summary.text, re.IGNORECASE)
    assert not FIELD_PATH.findall(summary.text), summary.text


def test_a_list_not_asked_stays_not_known_and_an_empty_list_reads_as_none_asked() -> None:
    unasked = {**CONSULTANT_CASE, "medications": None, "imaging": None, "allergies": None, "comorbidities": None}
    text = case_summary(unasked).text
    assert "Medication history not known." in text and "Imaging not known." in text
    assert "Allergies not known." in text and "Comorbidities not known." in text
    assert "Takes no" not in text and "No allergies" not in text and "No imaging" not in text
    asked = {**CONSULTANT_CASE, "medications": [], "allergies": []}
    text = case_summary(asked).text
    assert "Takes no medication (asked)." in text and "No allergies." in text


def test_unknown_facts_of_the_story_are_written_not_known() -> None:
    case = {
        "sex": "female",
        "diagnoses": [{"condition": "herniated_disc", "region": "lumbar"}],
        "conservative_care": {"weeks": 6},
        "medications": [{"name": "warfarin"}],
    }
    text = case_summary(case).text
    assert text.startswith("Woman, age not known, with herniated disc")
    assert "level not known, side not known" in text
    assert "duration not known; 6 weeks of conservative care, outcome not known" in text
    assert "warfarin, last dose not known" in text


def test_what_is_still_unknown_comes_from_the_report_in_words() -> None:
    case = DEMOS["esi-unlisted-drug-needs-information"]["case"]
    summary = case_summary(case, evaluate(case))
    assert summary.not_known and all("." not in item and "_" not in item for item in summary.not_known)
    assert "Medication history: hours since the last dose (zorbifaxen)" in summary.not_known
    assert summary.text.endswith(f"Not yet known: {'; '.join(summary.not_known)}.")


def test_without_its_report_the_summary_claims_nothing_about_what_is_missing() -> None:
    case = DEMOS["esi-medications-unknown-needs-information"]["case"]
    assert "Not yet known" not in case_summary(case).text
    assert "Not yet known: " in case_summary(case, evaluate(case)).text


def test_field_words_turn_every_path_into_the_case_models_words() -> None:
    assert field_words("comorbidities.renal_disease") == "Severe kidney disease"
    assert field_words("medications") == "Medication history"
    assert field_words("diagnoses.prior_surgery_at_site") == "Diagnosis: earlier surgery or radiation at this site"
    assert field_words("medications.last_dose_hours_ago", ["apixaban"]) == (
        "Medication history: hours since the last dose (apixaban)"
    )
