"""The reference evaluator: the same knowledge and the same reports, with no durable-rules.

It decides every rule with the plain-Python three-valued evaluator and hands the result to the
same verdict builder, so a report from it must equal the engine's byte for byte. It is the
baseline in the benchmark and the oracle in the differential tests: a disagreement is a bug in
one of the two, and the rule and context it names say where to look.
"""

from __future__ import annotations

from typing import Any

from decision.case import Case
from decision.compile import CompiledPolicy
from decision.evaluator import CaseEvaluator
from decision.facts import Context
from decision.report import Report
from decision.truth import Evaluator


def reference_firings(
    policy: CompiledPolicy, contexts: list[Context], evaluators: list[Evaluator]
) -> set[tuple[str, int]]:
    """What the engine would fire: (action name, context index) for every rule met or undecided."""
    fired: set[tuple[str, int]] = set()
    for context, evaluator in zip(contexts, evaluators, strict=True):
        for compiled in policy.rules:
            if (compiled.entry.rule.scope == "case") != (context.kind == "case"):
                continue
            truth = evaluator.truth(compiled.entry.rule.when)
            if truth == "T" and compiled.action_true:
                fired.add((compiled.action_true, context.index))
            elif truth == "U" and compiled.action_unknown:
                fired.add((compiled.action_unknown, context.index))
    return fired


def reference_evaluate(case_evaluator: CaseEvaluator, case: Case | dict[str, Any], policy: str | None = None) -> Report:
    prepared = case_evaluator.prepare(case, policy)
    firings = reference_firings(prepared.policy, prepared.contexts, prepared.evaluators)
    return case_evaluator.report(prepared, firings)
