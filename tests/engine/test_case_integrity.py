"""Impossible input is refused, naming the field: levels from the table of vertebrae, dates within a
life and not in the future, answers plausible for the patient's age and sex, no entry twice."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from vignette_format import SHARED_VIGNETTES, load_vignette

from decision import InvalidCase, evaluate

GOOD = load_vignette(SHARED_VIGNETTES / "esi-lumbar-radicular-indicated.yaml")["case"]


def _refused(case: dict[str, Any]) -> str:
    with pytest.raises(InvalidCase) as refused:
        evaluate(case)
    return "\n".join(refused.value.problems)


def _with_levels(region: str, levels: list[str]) -> dict[str, Any]:
    diagnosis = {**GOOD["diagnoses"][0], "region": region, "levels": levels}
    return {**GOOD, "diagnoses": [diagnosis]}


@pytest.mark.parametrize(
    ("levels", "message"),
    [
        (["L9-L10"], "there is no vertebra L9 or L10"),
        (["T13"], "there is no vertebra T13"),
        (["C0-C1"], "there is no vertebra C0"),
        (["L5-L4"], "is not one segment"),
        (["C7-L1"], "is not one segment"),
        (["L2-L4"], "is not one segment"),
        (["C5-C6"], "is not in region 'lumbar'"),
    ],
)
def test_levels_come_from_the_table_of_vertebrae(levels: list[str], message: str) -> None:
    problems = _refused(_with_levels("lumbar", levels))
    assert "diagnoses.0" in problems and message in problems


@pytest.mark.parametrize(("region", "level"), [("lumbar", "L5-S1"), ("lumbar", "T12-L1"), ("cervical", "C8")])
def test_junction_segments_and_the_c8_root_are_accepted(region: str, level: str) -> None:
    case = _with_levels(region, [level])
    if region == "cervical":
        case["diagnoses"][0]["condition"] = "herniated_disc"
    evaluate(case)


@pytest.mark.parametrize("date", ["0001-01-01", "9999-12-31"])
def test_dates_outside_a_life_are_refused(date: str) -> None:
    case = {**GOOD, "imaging": [{**(GOOD.get("imaging") or [{}])[0], "date": date}]}
    problems = _refused(case)
    assert "imaging[0].date" in problems or "assessment_date" in problems


def test_an_assessment_in_the_future_is_refused() -> None:
    later = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    assert "assessment_date" in _refused({**GOOD, "assessment_date": later})


def test_imaging_before_birth_is_refused() -> None:
    assessed = dt.date.fromisoformat(GOOD["assessment_date"])
    before = assessed.replace(year=assessed.year - 50).isoformat()
    problems = _refused({**GOOD, "age": 30, "imaging": [{"modality": "mri", "date": before}]})
    assert "before the patient was born" in problems


def test_symptoms_longer_than_a_life_are_refused() -> None:
    case = {**GOOD, "age": 30, "symptoms": {**GOOD["symptoms"], "duration_weeks": 100 * 52}}
    assert "longer than the patient has lived" in _refused(case)


@pytest.mark.parametrize("field", ["pregnant", "breastfeeding"])
def test_pregnancy_at_age_zero_is_refused(field: str) -> None:
    assert field in _refused({**GOOD, "age": 0, "sex": "female", field: True})


def test_duplicated_diagnoses_are_refused() -> None:
    case = {**GOOD, "diagnoses": [GOOD["diagnoses"][0], GOOD["diagnoses"][0]]}
    assert "diagnoses[1] repeats diagnoses[0]" in _refused(case)


def test_more_positive_si_tests_than_the_cluster_holds_are_refused() -> None:
    case = {**GOOD, "exam": {"si_provocation_positive": 20, "si_provocation_tested": 20}}
    assert "exam.si_provocation_positive" in _refused(case)
