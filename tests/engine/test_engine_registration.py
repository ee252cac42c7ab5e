"""A policy's rulesets reach durable's C core when that policy is first evaluated.

Registering every policy up front held about 9 MB and took about 17 ms per policy, for policies a
batch worker or an app session mostly never evaluates. What must hold: the same reports as with
every policy registered beforehand, a refusal by the C core reported as an engine error with
nothing half-registered, and a closed engine registering nothing.
"""

from __future__ import annotations

import threading

import durable_rules_engine
import pytest
from vignette_format import SHARED_VIGNETTES, load_vignette

from decision.engine import EngineClosed, EngineError
from decision.evaluator import CaseEvaluator
from knowledge.loader import load_knowledge

KNOWLEDGE = load_knowledge()
CASE = load_vignette(SHARED_VIGNETTES / "esi-apixaban-24h-deferred.yaml")["case"]


def test_only_the_policies_evaluated_are_registered_and_the_reports_do_not_change() -> None:
    lazy, eager = CaseEvaluator(KNOWLEDGE), CaseEvaluator(KNOWLEDGE)
    try:
        for policy in eager.policies:
            eager.engine.register(policy)
        assert lazy.engine.registered_policies == frozenset()
        assert lazy.evaluate(CASE).model_dump_json() == eager.evaluate(CASE).model_dump_json()
        assert lazy.engine.registered_policies == {KNOWLEDGE.manifest.default_policy}
        for policy in sorted(lazy.policies):
            assert lazy.evaluate(CASE, policy).model_dump_json() == eager.evaluate(CASE, policy).model_dump_json()
        assert lazy.engine.registered_policies == set(lazy.policies)
        assert lazy.engine.ruleset_count == eager.engine.ruleset_count
    finally:
        lazy.close()
        eager.close()


def test_a_ruleset_the_core_refuses_is_an_engine_error_and_nothing_stays_registered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    evaluator = CaseEvaluator(KNOWLEDGE)
    created: list[int] = []
    deleted: list[int] = []
    real_create, real_delete = durable_rules_engine.create_ruleset, durable_rules_engine.delete_ruleset

    def create(name: str, rules: str) -> int:
        if created:  # the policy's second ruleset is refused
            raise RuntimeError("refused")
        created.append(real_create(name, rules))
        return created[-1]

    def delete(handle: int) -> None:
        deleted.append(handle)
        real_delete(handle)

    monkeypatch.setattr(durable_rules_engine, "create_ruleset", create)
    monkeypatch.setattr(durable_rules_engine, "delete_ruleset", delete)
    with pytest.raises(EngineError, match="refused the rules of policy 'clinic'"):
        evaluator.evaluate(CASE, "clinic")
    assert deleted == created and len(created) == 1
    assert evaluator.engine.registered_policies == frozenset()
    monkeypatch.setattr(durable_rules_engine, "create_ruleset", real_create)
    try:
        assert evaluator.evaluate(CASE, "clinic").candidates  # registered on the next try
        assert evaluator.engine.registered_policies == {"clinic"}
    finally:
        evaluator.close()


def test_a_closed_engine_registers_nothing() -> None:
    evaluator = CaseEvaluator(KNOWLEDGE)
    evaluator.close()
    with pytest.raises(EngineClosed):
        evaluator.engine.register("clinic")
    with pytest.raises(EngineClosed):
        evaluator.evaluate(CASE, "nice")
    assert evaluator.engine.registered_policies == frozenset()


def test_threads_evaluating_new_policies_at_once_each_register_them_once() -> None:
    evaluator = CaseEvaluator(KNOWLEDGE)
    eager = CaseEvaluator(KNOWLEDGE)
    expected = {policy: eager.evaluate(CASE, policy).model_dump_json() for policy in evaluator.policies}
    eager.close()
    results: dict[str, list[str]] = {policy: [] for policy in evaluator.policies}
    errors: list[BaseException] = []

    def run(policy: str) -> None:
        try:
            for _ in range(5):
                results[policy].append(evaluator.evaluate(CASE, policy).model_dump_json())
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(policy,)) for policy in evaluator.policies for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert not errors
        assert all(reports == [expected[policy]] * 10 for policy, reports in results.items())
        assert evaluator.engine.registered_policies == set(evaluator.policies)
        assert evaluator.engine.ruleset_count == max(len(p.rulesets) for p in evaluator.policies.values())
    finally:
        evaluator.close()
