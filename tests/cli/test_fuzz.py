"""Hostile and broken input: every malformed case gets a clear error naming the field, never a
traceback, a hang or a report. `make test` runs a fast sample; `make test-long` the full count."""

from __future__ import annotations

import io
import json
import os
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import cases

from decision.case import with_field
from decision.cli.command import main
from decision.evaluator import InvalidCase, default_evaluator, parse_case

LONG = os.environ.get("SPINE_CDS_HYPOTHESIS") == "long"
API_EXAMPLES = 12_000 if LONG else 600
CLI_EXAMPLES = 2_000 if LONG else 150

NUMBER_FIELDS = [
    ("age", None),
    ("symptoms", "duration_weeks"),
    ("symptoms", "pain_score"),
    ("labs", "inr"),
    ("labs", "platelets"),
    ("exam", "si_provocation_positive"),
    ("crps_criteria", "sign_categories"),
]
BOOL_FIELDS = [
    ("pregnant", None),
    ("comorbidities", "active_infection"),
    ("symptoms", "cauda_equina_signs"),
    ("conservative_care", "failed"),
]
ENUM_FIELDS = [("sex", None), ("comorbidities", "diabetes"), ("symptoms", "pain_pattern")]
OUT_OF_RANGE = [
    ("age", None, -1),
    ("age", None, 400),
    ("labs", "inr", 80),
    ("symptoms", "pain_score", 11),
    ("crps_criteria", "symptom_categories", 5),
    ("labs", "platelets", -3),
]


def _set(case: dict[str, Any], head: str, tail: str | None, value: Any) -> dict[str, Any]:
    return with_field(case, f"{head}.{tail}" if tail else head, value)


@st.composite
def malformed(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A case made invalid in one way, and the field the error must name."""
    case = draw(cases())
    kind = draw(
        st.sampled_from(
            [
                "type_number",
                "type_bool",
                "enum",
                "range",
                "unknown_field",
                "huge_list",
                "deep",
                "container",
                "future",
                "relief",
            ]
        )
    )
    if kind == "type_number":
        head, tail = draw(st.sampled_from(NUMBER_FIELDS))
        bad = draw(st.sampled_from(["seven", "", True, [1], {"v": 1}]))
        return _set(case, head, tail, bad), head
    if kind == "type_bool":
        head, tail = draw(st.sampled_from(BOOL_FIELDS))
        return _set(case, head, tail, draw(st.sampled_from(["no", "yes", 0, 1, "false", 2.5]))), head
    if kind == "enum":
        head, tail = draw(st.sampled_from(ENUM_FIELDS))
        return _set(
            case,
            head,
            tail,
            draw(
                st.text(min_size=1, max_size=12).filter(
                    lambda s: (
                        s
                        not in (
                            "female",
                            "male",
                            "other",
                            "none",
                            "controlled",
                            "uncontrolled",
                            "radicular",
                            "axial",
                            "mixed",
                            "regional_limb",
                        )
                    )
                )
            ),
        ), head
    if kind == "range":
        head, tail, value = draw(st.sampled_from(OUT_OF_RANGE))
        return _set(case, head, tail, value), head
    if kind == "unknown_field":
        name = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=3, max_size=12))
        if name in case:
            name += "_x"
        return {**case, name: 1}, name
    if kind == "huge_list":
        return {**case, "medications": [{"name": "aspirin"}] * 201}, "medications"
    if kind == "deep":
        nested: Any = {}
        for _ in range(draw(st.integers(20, 200))):
            nested = {"x": nested}
        return {**case, "symptoms": nested}, "symptoms"
    if kind == "container":
        field = draw(st.sampled_from(["diagnoses", "imaging", "medications", "allergies", "labs"]))
        return {**case, field: draw(st.sampled_from(["abc", 7, True]))}, field
    if kind == "future":
        return {
            **case,
            "assessment_date": "2026-10-01",
            "imaging": [{"modality": "mri", "date": "2027-01-01"}],
        }, "imaging"
    return {**case, "diagnostic_blocks": [{"relief_percent": 150}]}, "diagnostic_blocks"


@settings(max_examples=API_EXAMPLES, deadline=None)
@given(malformed())
def test_the_python_api_rejects_every_malformed_case_naming_the_field(bad: tuple[dict[str, Any], str]) -> None:
    payload, field = bad
    with pytest.raises(InvalidCase) as caught:
        default_evaluator().evaluate(payload)
    assert caught.value.problems
    assert any(field in problem for problem in caught.value.problems), caught.value.problems


@settings(max_examples=CLI_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.one_of(malformed().map(lambda b: json.dumps(b[0]).encode()), st.binary(max_size=300)))
def test_the_cli_answers_every_malformed_input_with_exit_2_and_a_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], raw: bytes
) -> None:
    try:
        if isinstance(json.loads(raw.decode("utf-8-sig")), dict):
            parse_case(json.loads(raw.decode("utf-8-sig")))
            return  # random bytes that happen to be a valid case are not malformed
    except (ValueError, UnicodeDecodeError, InvalidCase, RecursionError):
        pass
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    out = io.StringIO()
    code = main(["evaluate", "-", "--format", "json"], out=out)
    err = capsys.readouterr().err
    assert code == 2, err
    assert out.getvalue() == "" and "Traceback" not in err and err.startswith("invalid input:")


def test_fuzz_counts_are_what_the_readme_says() -> None:
    assert (10_000 if LONG else 700) <= API_EXAMPLES + CLI_EXAMPLES
