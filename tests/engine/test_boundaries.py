"""Every threshold in the knowledge, tested at, one unit below and one unit above its value.

Generated from the rules, so a new threshold is covered automatically: for each comparison with a
policy param, the case of the rule's own vignette is set to value-1, value and value+1 (on the
case field, or on every item of the list the rule counts) and the engine must agree with the
reference evaluator on the rule, and the comparison must fall on the side its operator says.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from vignette_format import load_vignette, vignette_files

from decision.case import with_field
from decision.evaluator import InvalidCase, default_evaluator
from decision.truth import _compare
from knowledge.conditions import Compare, Count, ParamRef, walk

OPS = ("lt", "lte", "gt", "gte", "eq")


def _thresholds() -> list[tuple[str, str, str | None, str, str, Any]]:
    """(rule id, policy, list or None, field, op, value) for every numeric param comparison."""
    evaluator = default_evaluator()
    found = []
    for policy_id, policy in sorted(evaluator.policies.items()):
        params = policy.param_values()
        for compiled in policy.rules:
            rule = compiled.entry.rule
            inside_counts = {id(n) for c in walk(rule.when) if isinstance(c, Count) and c.where for n in walk(c.where)}
            for node in walk(rule.when):
                if id(node) in inside_counts:
                    continue
                if isinstance(node, Count):
                    for inner in walk(node.where) if node.where else []:
                        if isinstance(inner, Compare) and isinstance(inner.value, ParamRef) and inner.op in OPS:
                            found.append(
                                (rule.id, policy_id, node.list, inner.field, inner.op, params[inner.value.param])
                            )
                elif (
                    isinstance(node, Compare)
                    and isinstance(node.value, ParamRef)
                    and node.op in OPS
                    and not node.field.startswith(("candidate.", "diagnosis."))
                ):
                    found.append((rule.id, policy_id, None, node.field, node.op, params[node.value.param]))
    return sorted(set(found), key=repr)


THRESHOLDS = _thresholds()
VIGNETTES = {load_vignette(p)["id"]: load_vignette(p) for p in vignette_files()}


def _with_value(case: dict[str, Any], list_name: str | None, field: str, value: Any) -> dict[str, Any] | None:
    if list_name is None:
        return with_field(case, field, value)
    out = copy.deepcopy(case)
    items = out.get(list_name)
    if not items:
        return None
    for item in items:
        item[field] = value
    return out


def test_every_param_threshold_is_found() -> None:
    assert len(THRESHOLDS) >= 15
    # hold periods now come from the hold table (literal figures with their row's source), tested by
    # at/below/above vignettes named for them; the policy thresholds include the age scope
    assert any(field == "age" for _, _, _, field, _, _ in THRESHOLDS)


@pytest.mark.parametrize("threshold", THRESHOLDS, ids=lambda t: f"{t[0]}-{t[1]}-{t[3]}")
def test_threshold_at_below_and_above(threshold: tuple[str, str, str | None, str, str, Any]) -> None:
    rule_id, policy_id, list_name, field, op, value = threshold
    evaluator = default_evaluator()
    entry = evaluator.knowledge.rule_index[rule_id]
    policy = evaluator.policies[policy_id]
    tested = 0
    for vignette_id in entry.rule.tests:
        base = VIGNETTES[vignette_id]["case"]
        for delta in (-1, 0, 1):
            case_data = _with_value(base, list_name, field, value + delta)
            if case_data is None:
                continue
            try:
                prepared = evaluator.prepare(case_data, policy_id)
            except InvalidCase:
                continue  # the neighbour is outside the field's valid range (e.g. relief 101 %)
            contexts, evaluators = prepared.contexts, prepared.evaluators
            fired = evaluator.engine.fire(policy_id, prepared.facts)
            compiled = next(c for c in policy.rules if c.entry.rule.id == rule_id)
            for context, ev in zip(contexts, evaluators, strict=True):
                if (entry.rule.scope == "case") != (context.kind == "case"):
                    continue
                truth = ev.truth(entry.rule.when)
                engine_truth = (
                    "T"
                    if (compiled.action_true, context.index) in fired
                    else "U"
                    if (compiled.action_unknown, context.index) in fired
                    else "F"
                )
                assert engine_truth == truth, (vignette_id, delta, context.index)
            assert (
                _compare(op, value + delta, value)
                == {"lt": delta < 0, "lte": delta <= 0, "gt": delta > 0, "gte": delta >= 0, "eq": delta == 0}[op]
            )
            tested += 1
    assert tested, f"no vignette of {rule_id} could carry {field} for its threshold"
