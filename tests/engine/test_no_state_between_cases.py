"""Nothing one case leaves behind changes another case's report.

An evaluator keeps engine sessions for several cases in turn and remembers worked-out words and
undecided rules from case to case. Each report must be what a verdict built afresh for that case
alone gives, whatever was evaluated before it, under every policy.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from typing import Any

import pytest

from decision.cli.casegen import generate_cases
from decision.evaluator import CaseEvaluator, default_evaluator
from decision.verdict import VerdictBuilder
from knowledge.conditions import AllOf, Compare, Count

HOLD_OPEN = {
    "assessment_date": "2026-11-01",
    "medications": None,  # every hold rule undecided
    "symptoms": {"pain_pattern": "radicular", "duration_weeks": 10, "pain_score": 7},
    "conservative_care": {"weeks": 8, "failed": True},
    "imaging": [{"modality": "mri", "date": "2026-10-01", "concordant": True}],
}
RISK_BY_LEVEL = {  # the class is unknown because the levels are (asked as diagnoses.levels)
    **HOLD_OPEN,
    "comorbidities": {"bleeding_disorder": False, "renal_disease": False, "liver_disease": False},
    "diagnoses": [{"condition": "herniated_disc", "region": "lumbar", "side": "left", "prior_surgery_at_site": False}],
}
RISK_BY_FACTORS = {  # the class is unknown because a patient factor is
    **HOLD_OPEN,
    "diagnoses": [
        {"condition": "herniated_disc", "region": "lumbar", "side": "left", "levels": ["L4-L5"]},
    ],
}


def _fresh(evaluator: CaseEvaluator, case: dict[str, Any], policy: str | None) -> str:
    prepared = evaluator.prepare(case, policy)
    firings = evaluator.engine.fire(prepared.policy_id, prepared.facts)
    builder = VerdictBuilder(evaluator.knowledge, prepared.policy, evaluator.version)
    return builder.build(prepared.case.case_id, prepared.contexts, firings, prepared.evaluators).model_dump_json()


@pytest.mark.parametrize("policy", ["clinic", "asipp", "nice", "cms"])
def test_each_report_is_what_the_case_alone_gives(policy: str) -> None:
    evaluator = default_evaluator()
    generated = list(generate_cases(evaluator.knowledge, 120, seed=17))
    # each followed by itself with a list left empty or unknown: the same fields, other counts
    varied = [
        {**case, name: value}
        for case in generated[:30]
        for name in ("imaging", "prior_injections", "diagnostic_blocks", "medications")
        for value in ([], None)
    ]
    cases = [RISK_BY_FACTORS, RISK_BY_LEVEL, *generated, *varied, RISK_BY_LEVEL, RISK_BY_FACTORS]
    for number, case in enumerate(cases):
        shared = evaluator.evaluate(case, policy).model_dump_json()
        assert shared == _fresh(evaluator, case, policy), f"case {number} after {number} others"


def _indications_counting_imaging() -> CaseEvaluator:
    """The shipped knowledge with the facet, sacroiliac and CRPS indications also needing concordant
    imaging, counted: the shipped indications count nothing, and why an indication is not met must
    follow its counts too."""
    knowledge = default_evaluator().knowledge
    needs_imaging = Count(list="imaging", where=Compare(field="concordant", op="eq", value=True), op="gte", value=1)
    rules = [
        dataclasses.replace(
            entry, rule=entry.rule.model_copy(update={"when": AllOf(items=(entry.rule.when, needs_imaging))})
        )
        if entry.rule.then.indicate and entry.rule.id.startswith(("facet.", "si.", "crps."))
        else entry
        for entry in knowledge.rules
    ]
    return CaseEvaluator(
        dataclasses.replace(knowledge, rules=tuple(rules), rule_index={entry.rule.id: entry for entry in rules})
    )


def test_why_an_indication_is_not_met_follows_its_counts() -> None:
    evaluator = _indications_counting_imaging()
    try:
        generated = list(generate_cases(evaluator.knowledge, 40, seed=5))
        imaging = [{"modality": "mri", "date": "2026-09-01", "concordant": True}]
        cases = [{**case, "imaging": value} for case in generated for value in (imaging, [], None)]
        for number, case in enumerate(cases):
            shared = evaluator.evaluate(case).model_dump_json()
            assert shared == _fresh(evaluator, case, None), f"case {number} after {number} others"
    finally:
        evaluator.close()


def test_stores_that_fill_and_start_again_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A store that starts again on every second entry: the reports do not change, alone or with
    four threads sharing the evaluator (one thread may empty a store while another reads it)."""
    import decision.verdict

    monkeypatch.setattr(decision.verdict, "SETTLED_KEPT", 2)
    evaluator = default_evaluator()
    cases = list(generate_cases(evaluator.knowledge, 60, seed=23))
    expected = [_fresh(evaluator, case, None) for case in cases]
    assert [evaluator.evaluate(case).model_dump_json() for case in cases] == expected
    errors: list[BaseException] = []
    results: dict[int, list[str]] = {}

    def run(number: int) -> None:
        try:
            results[number] = [evaluator.evaluate(case).model_dump_json() for case in cases]
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(number,)) for number in range(4)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns as often as they can
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors
    assert all(reports == expected for reports in results.values())
