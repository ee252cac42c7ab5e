"""durable-rules' alpha stack holds 64 nodes and an assert that needs more fails (error 303): the
compiler bounds every ruleset's stack from the rules' shape and splits a ruleset that could overflow,
so a valid case is never refused for it."""

from __future__ import annotations

import itertools
import json
from typing import Any

import durable_rules_engine
import pytest

import decision.compile
from decision.alpha_stack import DURABLE_ALPHA_STACK, stack_bound
from decision.cli.bench import _multiplied
from decision.cli.casegen import generate_cases
from decision.engine import EngineError
from decision.evaluator import CaseEvaluator, default_evaluator
from knowledge.loader import load_knowledge

_names = itertools.count()


def _assert_one(ruleset: dict[str, Any], fact: dict[str, Any]) -> None:
    """Register the ruleset and assert the fact in a fresh session, its firings drained. The ruleset
    is not freed: durable aborts the process when a ruleset is freed with a firing not drained."""
    handle = durable_rules_engine.create_ruleset(f"stack_{next(_names)}", json.dumps(ruleset))
    state = durable_rules_engine.assert_facts(handle, json.dumps([{**fact, "sid": "1"}]))[1]
    message = durable_rules_engine.start_action_for_state(handle, state)
    while message:
        message = durable_rules_engine.complete_and_start_action(handle, state)
    durable_rules_engine.delete_state(handle, "1")


def _siblings(count: int) -> dict[str, Any]:
    """`count` rules whose comparisons after the kind all hold for the fact {"k": "cand", "a": 1000}."""
    return {f"r{i}": {"all": [{"m": {"$and": [{"k": "cand"}, {"$gt": {"a": i}}]}}]} for i in range(count)}


def _forwards(count: int) -> dict[str, Any]:
    """`count` `$or` rules whose branches end on the same node: each pushes its own forward node."""
    branch = {"$and": [{"k": "cand"}, {"a": 1}]}
    return {f"r{i}": {"all": [{"m": {"$or": [branch, {"$and": [{"k": "cand"}, {"a": 2 + i}]}]}}]} for i in range(count)}


@pytest.mark.parametrize("shape", [_siblings, _forwards])
def test_the_stack_holds_sixty_four_nodes_and_the_bound_says_so(shape: Any) -> None:
    fact = {"k": "cand", "a": 1000} if shape is _siblings else {"k": "cand", "a": 1}
    fits, overflows = shape(DURABLE_ALPHA_STACK), shape(DURABLE_ALPHA_STACK + 1)
    _assert_one(fits, fact)
    with pytest.raises(Exception, match="303"):  # ERR_MAX_STACK_SIZE
        _assert_one(overflows, fact)
    assert stack_bound(fits) == DURABLE_ALPHA_STACK
    assert stack_bound(overflows) == DURABLE_ALPHA_STACK + 1


def test_numbers_of_two_types_are_two_nodes_each_on_the_stack() -> None:
    """durable shares a node only for a value of the same JSON type: `a > 3` and `a > 3.0` are two
    nodes, both met by one fact, so the bound counts both."""
    rules = {
        f"r{i}": {"all": [{"m": {"$and": [{"k": "cand"}, {"$gt": {"a": i // 2 if i % 2 else float(i // 2)}}]}}]}
        for i in range(DURABLE_ALPHA_STACK + 1)
    }
    with pytest.raises(Exception, match="303"):
        _assert_one(rules, {"k": "cand", "a": 1000})
    assert stack_bound(rules) >= DURABLE_ALPHA_STACK + 1


def _equal_to(values: list[Any]) -> dict[str, Any]:
    return {f"r{i}": {"all": [{"m": {"$and": [{"k": "cand"}, {"a": v}]}}]} for i, v in enumerate(values)}


def _met_by(ruleset: dict[str, Any], value: Any) -> int:
    """How many of the ruleset's rules one fact with `a` = value fires (so how many nodes it pushed)."""
    handle = durable_rules_engine.create_ruleset(f"stack_{next(_names)}", json.dumps(ruleset))
    state = durable_rules_engine.assert_facts(handle, json.dumps([{"k": "cand", "a": value, "sid": "1"}]))[1]
    fired = 0
    message = durable_rules_engine.start_action_for_state(handle, state)
    while message:
        fired += 1
        message = durable_rules_engine.complete_and_start_action(handle, state)
    durable_rules_engine.delete_state(handle, "1")
    return fired


def test_equal_values_durable_compares_across_types_are_all_counted() -> None:
    """One fact meets several equality nodes when their values are of different types (1, 1.0,
    true, "1"); strings that read as neither a number nor true/false only meet themselves."""
    mixed = [1, 1.0, True, "1", "low"]
    most = max(_met_by(_equal_to(mixed), value) for value in (1, 1.0, True, "1", "low"))
    assert most >= 3  # measured with 2.0.28: the fact 1 meets 1, 1.0, true and "1"
    assert stack_bound(_equal_to(mixed)) >= most
    one_type = [True, False, "?"]  # how compile writes a yes/no field and its unknown
    assert max(_met_by(_equal_to(one_type), value) for value in (True, False, "?")) == 1
    assert stack_bound(_equal_to(one_type)) == 1


def test_every_shipped_ruleset_is_within_the_stack() -> None:
    for policy in default_evaluator().policies.values():
        for ruleset in policy.rulesets.values():
            assert stack_bound(ruleset) <= DURABLE_ALPHA_STACK


def test_knowledge_that_could_overflow_is_split_and_every_case_is_evaluated(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sixteen copies of the rules share their comparisons, so one node gets sixteen times the
    children: unsplit, some generated cases overflow the stack; split, none does."""
    knowledge = load_knowledge()
    crowded = _multiplied(knowledge, 16)
    cases = list(generate_cases(knowledge, 100))

    def refused(evaluator: CaseEvaluator) -> int:
        count = 0
        for case in cases:
            try:
                evaluator.evaluate(case, "clinic")
            except EngineError:
                count += 1
        evaluator.close()
        return count

    split = CaseEvaluator(crowded)
    assert all(stack_bound(r) <= DURABLE_ALPHA_STACK for r in split.policies["clinic"].rulesets.values())
    assert refused(split) == 0
    with monkeypatch.context() as unsplit:
        unsplit.setattr(decision.compile, "DURABLE_ALPHA_STACK", 10**6)
        assert refused(CaseEvaluator(crowded)) > 0
