"""Cases evaluated together (one engine session per ruleset for all of them, as batch does) get
exactly the reports they get one at a time."""

from __future__ import annotations

from typing import Any

from decision.cli.casegen import generate_cases
from decision.evaluator import CaseEvaluator, InvalidCase, default_evaluator


def _cases(count: int) -> list[dict[str, Any]]:
    return list(generate_cases(default_evaluator().knowledge, count))


def test_cases_evaluated_together_get_the_reports_they_get_alone() -> None:
    evaluator = default_evaluator()
    cases = _cases(80)
    policies = sorted(evaluator.policies)
    for number, case in enumerate(cases):  # several policies in one call
        case["policy"] = policies[number % len(policies)]
    together = evaluator.evaluate_many(cases)
    alone = [evaluator.evaluate(case).model_dump_json() for case in cases]
    assert [report.model_dump_json() for report in together if not isinstance(report, InvalidCase)] == alone
    assert evaluator.engine.live_sessions == evaluator.engine.kept_sessions <= evaluator.engine.ruleset_count


def test_an_invalid_case_among_others_gets_its_refusal_and_the_others_their_reports() -> None:
    evaluator = default_evaluator()
    cases: list[Any] = _cases(5)
    cases.insert(2, {"age": "old"})
    cases.insert(4, {**cases[0], "policy": "no_such_policy"})
    outcomes = evaluator.evaluate_many(cases)
    assert len(outcomes) == len(cases)
    assert isinstance(outcomes[2], InvalidCase) and "age" in outcomes[2].problems[0]
    assert isinstance(outcomes[4], InvalidCase) and "unknown policy" in outcomes[4].problems[0]
    for case, outcome in zip(cases, outcomes, strict=True):
        if not isinstance(outcome, InvalidCase):
            assert outcome.model_dump_json() == evaluator.evaluate(case).model_dump_json()


def test_a_firing_is_handed_to_the_case_whose_fact_fired_it() -> None:
    """A case with a red flag next to cases without: only its own report carries the flag."""
    evaluator = default_evaluator()
    cases = _cases(60)
    flagged = [n for n, case in enumerate(cases) if evaluator.evaluate(case).red_flags]
    assert flagged and len(flagged) < len(cases), "the mix needs cases with and without a red flag"
    outcomes = evaluator.evaluate_many(cases)
    assert [
        n for n, report in enumerate(outcomes) if not isinstance(report, InvalidCase) and report.red_flags
    ] == flagged


def test_many_cases_per_session_work_on_a_fresh_evaluator_too() -> None:
    evaluator = CaseEvaluator(default_evaluator().knowledge)
    try:
        cases = _cases(3)
        assert [r.model_dump_json() for r in evaluator.evaluate_many(cases) if not isinstance(r, InvalidCase)] == [
            evaluator.evaluate(case).model_dump_json() for case in cases
        ]
        assert evaluator.evaluate_many([]) == []
    finally:
        evaluator.close()
