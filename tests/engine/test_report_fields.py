"""The report batch writes from the verdict's plain data is the report itself, byte for byte.

`spine-cds batch` writes `orjson.dumps(VerdictBuilder.fields(...))` without building the pydantic
report (`CaseEvaluator.evaluate_json`). That is only sound while the plain data is already exactly
what validation makes of it: every field present, in the models' order, each value of its type.
These tests hold it to `Report.model_validate(fields).model_dump_json()` over every vignette, the
demo cases, generated cases under every policy, and free text that JSON writers escape differently.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import cases
from vignette_format import vignette_files

from decision.cli.batch import evaluate_line, evaluate_lines
from decision.cli.casegen import generate_cases
from decision.evaluator import CaseEvaluator, InvalidCase, default_evaluator
from decision.report import Report

POLICIES = ["clinic", "asipp", "nice", "cms"]


def _fields(evaluator: CaseEvaluator, case: dict[str, Any], policy: str | None) -> dict[str, Any]:
    prepared = evaluator.prepare(case, policy)
    firings = evaluator.engine.fire(prepared.policy_id, prepared.facts)
    builder = evaluator._builders[prepared.policy_id]
    return builder.fields(prepared.case.case_id, prepared.contexts, firings, prepared.evaluators)


def _same_report(evaluator: CaseEvaluator, case: dict[str, Any], policy: str | None = None) -> None:
    fields = _fields(evaluator, case, policy)
    validated = Report.model_validate(fields)
    assert orjson.dumps(fields) == validated.model_dump_json().encode()
    # the plain data holds nothing validation would drop or change (a dump gives it back)
    assert validated.model_dump() == fields
    assert evaluator.evaluate_json(case, policy) == evaluator.evaluate(case, policy).model_dump_json().encode()


@pytest.mark.parametrize("path", vignette_files(), ids=lambda p: p.stem)
def test_every_vignette_report_is_the_same_bytes(path: Any) -> None:
    case = yaml.safe_load(path.read_text(encoding="utf-8"))["case"]
    _same_report(default_evaluator(), json.loads(json.dumps(case, default=str)))


@pytest.mark.parametrize("policy", POLICIES)
def test_generated_reports_are_the_same_bytes_under_every_policy(policy: str) -> None:
    evaluator = default_evaluator()
    for case in generate_cases(evaluator.knowledge, 150, seed=41):
        _same_report(evaluator, case, policy)


@settings(max_examples=60)
@given(cases(), st.text(min_size=1, max_size=30), st.text(max_size=30))
def test_free_text_is_written_as_pydantic_writes_it(case: dict[str, Any], drug: str, case_id: str) -> None:
    """A drug name the vocabulary cannot place is echoed in the report (`about`), and the case id
    always is: any character the case accepts (quotes, backslashes, non-ASCII, line and paragraph
    separators) must be escaped or not exactly as pydantic's writer does."""
    evaluator = default_evaluator()
    case = {**case, "case_id": case_id, "medications": [{"name": drug, "last_dose_hours_ago": None}]}
    try:
        evaluator.prepare(case)
    except InvalidCase:
        return  # refused input is an error record, never a report
    _same_report(evaluator, case)


def test_batch_records_are_the_report_with_its_line_number() -> None:
    evaluator = default_evaluator()
    generated = list(generate_cases(evaluator.knowledge, 40, seed=5))
    items: list[tuple[int, bytes | None]] = [
        (n, json.dumps(case).encode()) for n, case in enumerate(generated, start=3)
    ]
    records = evaluate_lines(evaluator, items, None)
    for (number, raw), (record, valid) in zip(items, records, strict=True):
        expected = {"line": number, **evaluator.evaluate(json.loads(raw)).model_dump(mode="json")}
        assert valid and json.loads(record) == expected
        assert list(json.loads(record)) == list(expected)  # the line number first, then the report's order
        assert evaluate_line(evaluator, number, raw, None) == (record, True)
