"""The durable-rules engine and the plain-Python reference evaluator must agree on every rule.

A disagreement means a compile bug (a wrong T/F/U translation), an identifier hash collision in
the engine, or an engine behaviour change: any of them would silently change advice.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from strategies import cases
from vignette_format import load_vignette, vignette_files

from decision.evaluator import default_evaluator


def _both(case_data: dict[str, Any]) -> tuple[set[tuple[str, int, str]], set[tuple[str, int, str]]]:
    evaluator = default_evaluator()
    prepared = evaluator.prepare(case_data)
    policy, contexts, evaluators = prepared.policy, prepared.contexts, prepared.evaluators
    by_action = {}
    for compiled in policy.rules:
        if compiled.action_true:
            by_action[compiled.action_true] = (compiled.entry.rule.id, "T")
        if compiled.action_unknown:
            by_action[compiled.action_unknown] = (compiled.entry.rule.id, "U")
    engine = {
        (by_action[a][0], ctx, by_action[a][1]) for a, ctx in evaluator.engine.fire(prepared.policy_id, prepared.facts)
    }
    reference = set()
    for context, ev in zip(contexts, evaluators, strict=True):
        for compiled in policy.rules:
            rule = compiled.entry.rule
            if (rule.scope == "case") != (context.kind == "case"):
                continue
            truth = ev.truth(rule.when)
            if truth != "F":
                reference.add((rule.id, context.index, truth))
    return engine, reference


def test_engine_and_reference_agree_on_every_vignette() -> None:
    for path in vignette_files():
        engine, reference = _both(load_vignette(path)["case"])
        assert engine == reference, (
            f"{path.stem}: engine-only {engine - reference}, reference-only {reference - engine}"
        )


@settings()
@given(cases())
def test_engine_and_reference_agree_on_generated_cases(case: dict[str, Any]) -> None:
    engine, reference = _both(case)
    assert engine == reference, f"engine-only {engine - reference}, reference-only {reference - engine}"


def test_engine_and_reference_reports_are_identical_for_every_vignette() -> None:
    from decision.reference import reference_evaluate

    evaluator = default_evaluator()
    for path in vignette_files():
        case = load_vignette(path)["case"]
        assert reference_evaluate(evaluator, case).model_dump_json() == evaluator.evaluate(case).model_dump_json()


@settings()
@given(cases())
def test_engine_and_reference_reports_are_identical_for_generated_cases(case: dict[str, Any]) -> None:
    from decision.reference import reference_evaluate

    evaluator = default_evaluator()
    assert reference_evaluate(evaluator, case).model_dump_json() == evaluator.evaluate(case).model_dump_json()
