"""Safety invariants over generated cases (hypothesis): the fast subset that `make test` runs."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import cases

from decision.case import Case
from decision.evaluate import default_evaluator
from decision.report import Report, status_rank

SETTINGS = settings()
TOP_LEVEL = set(Case.model_fields)


def _statuses(report: Report) -> dict[tuple[str, str | None, str | None], str]:
    return {(c.procedure, c.approach, c.region): c.status for c in report.candidates}


@SETTINGS
@given(cases())
def test_every_valid_case_gets_a_report_and_the_same_json_twice(case: dict[str, Any]) -> None:
    evaluator = default_evaluator()
    first = evaluator.evaluate(case).model_dump_json()
    assert evaluator.evaluate(copy.deepcopy(case)).model_dump_json() == first


@SETTINGS
@given(cases())
def test_every_reason_names_a_rule_and_sources_that_exist(case: dict[str, Any]) -> None:
    evaluator = default_evaluator()
    knowledge = evaluator.knowledge
    report = evaluator.evaluate(case)
    for candidate in report.candidates:
        if candidate.status != "not_indicated":
            assert candidate.reasons, candidate
        for reason in candidate.reasons:
            assert reason.rule_id in knowledge.rule_index
            assert reason.sources
            for ref in reason.sources:
                source_id, _, section = ref.partition("#")
                assert section in knowledge.sources[source_id].sections
    for item in report.missing_information:
        assert item.field.split(".")[0].split("[")[0] in TOP_LEVEL, item.field
        assert item.rule_id in knowledge.rule_index


@SETTINGS
@given(cases())
def test_an_absolute_contraindication_never_leaves_a_candidate_indicated(case: dict[str, Any]) -> None:
    report = default_evaluator().evaluate(case)
    statuses = {f"{c.procedure}/{c.approach or '-'}/{c.region or '-'}": c.status for c in report.candidates}
    for finding in report.contraindications:
        if finding.severity == "absolute":
            for key in finding.candidates:
                assert statuses[key] not in ("indicated", "indicated_with_caution"), (finding.rule_id, key)


def _never_better(before: Report, after: Report) -> None:
    old, new = _statuses(before), _statuses(after)
    for key, status in old.items():
        if key in new:
            assert status_rank(new[key]) >= status_rank(status), (key, status, new[key])  # type: ignore[arg-type]


CONTRAINDICATING = [
    {"comorbidities": {"active_infection": True}},
    {"comorbidities": {"bleeding_disorder": True}},
    {"symptoms": {"cauda_equina_signs": True}},
    {"allergies": ["local_anaesthetic"]},
    {"medications": [{"name": "apixaban", "last_dose_hours_ago": 1}]},
    {
        "prior_injections": [
            {"procedure": "epidural_steroid_injection", "region": r, "date": "2026-09-01", "steroid": True}
            for r in ("cervical", "thoracic", "lumbar", "sacral")
        ]
        * 4
    },
]


def _add(case: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(case)
    for key, value in extra.items():
        if isinstance(value, dict):
            out[key] = {**(out.get(key) or {}), **value}
        else:
            out[key] = list(out.get(key) or []) + value
    return out


@SETTINGS
@given(cases(), st.sampled_from(CONTRAINDICATING))
def test_adding_a_contraindication_or_red_flag_never_improves_a_candidate(
    case: dict[str, Any], extra: dict[str, Any]
) -> None:
    evaluator = default_evaluator()
    _never_better(evaluator.evaluate(case), evaluator.evaluate(_add(case, extra)))


@SETTINGS
@given(cases(), st.sampled_from(sorted(TOP_LEVEL - {"case_id", "policy", "assessment_date"})))
def test_forgetting_an_answer_never_turns_needs_information_into_indicated(case: dict[str, Any], field: str) -> None:
    evaluator = default_evaluator()
    before = _statuses(evaluator.evaluate(case))
    forgotten = {**case, field: None}
    after = _statuses(evaluator.evaluate(forgotten))
    for key, status in before.items():
        if status == "needs_information" and key in after:
            assert after[key] not in ("indicated", "indicated_with_caution"), (key, field, after[key])


@SETTINGS
@given(cases())
def test_a_closer_anticoagulant_dose_never_improves_a_candidate(case: dict[str, Any]) -> None:
    evaluator = default_evaluator()
    far = _add(case, {"medications": [{"name": "rivaroxaban", "last_dose_hours_ago": 200}]})
    near = _add(case, {"medications": [{"name": "rivaroxaban", "last_dose_hours_ago": 10}]})
    _never_better(evaluator.evaluate(far), evaluator.evaluate(near))
