"""The durable-rules behaviours the engine depends on (shared/notes/durable-rules.md), pinned.

If an upgrade of durable-rules changes one of these, a test here fails before a patient case does.
"""

from __future__ import annotations

import copy
import itertools
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import durable_rules_engine
import pytest
import yaml
from durable.engine import Host, MessageNotHandledException
from vignette_format import SHARED_VIGNETTES, load_vignette, vignette_files

from decision.compile import MAX_BRANCHES, compile_knowledge
from decision.engine import FACT_IDS, SESSION_CASES, EngineError, RulesEngine, _firing
from decision.evaluator import CaseEvaluator, default_evaluator
from knowledge.loader import load_knowledge

_names = itertools.count()


class _RecordingHost(Host):  # type: ignore[misc]
    def __init__(self, fired: list[str]) -> None:
        self.fired = fired
        super().__init__()

    def _run(self) -> None:
        pass

    def get_action(self, name: str) -> Callable[[Any], None]:
        return lambda closure: self.fired.append(name)


def _host(rules: dict[str, Any]) -> tuple[_RecordingHost, str, list[str]]:
    fired: list[str] = []
    host = _RecordingHost(fired)
    name = f"pin_{next(_names)}"
    host.register_rulesets({name: rules})
    return host, name, fired


TWO_RULES = {
    "first": {"all": [{"m": {"kind": "case"}}], "run": "first"},
    "second": {"all": [{"m": {"kind": "case"}}], "run": "second"},
}


def test_post_lets_only_the_first_matching_rule_see_an_event() -> None:
    host, name, fired = _host(copy.deepcopy(TWO_RULES))
    host.post(name, {"sid": "1", "kind": "case"})
    assert len(fired) == 1


def test_assert_fact_lets_every_matching_rule_fire() -> None:
    host, name, fired = _host(copy.deepcopy(TWO_RULES))
    host.assert_fact(name, {"sid": "1", "kind": "case"})
    assert sorted(fired) == ["first", "second"]


def test_a_rule_over_an_absent_field_silently_does_not_fire() -> None:
    rules = {
        "r": {"all": [{"m": {"$and": [{"kind": "case"}, {"$lt": {"weeks": 4}}]}}], "run": "r"},
        "seen": {"all": [{"m": {"kind": "case"}}], "run": "seen"},
    }
    host, name, fired = _host(rules)
    host.assert_fact(name, {"sid": "1", "kind": "case"})
    assert fired == ["seen"]


def test_the_engine_compares_a_numeric_string_with_a_number_weak_typing() -> None:
    host, name, fired = _host({"r": {"all": [{"m": {"$lt": {"weeks": 4}}}], "run": "r"}})
    host.assert_fact(name, {"sid": "1", "weeks": "3"})
    assert fired == ["r"]  # so types must be settled by pydantic before the engine


def test_a_disjunction_can_fire_once_per_satisfied_branch() -> None:
    rules = {"r": {"all": [{"m": {"$or": [{"a": 1}, {"b": 2}]}}], "run": "r"}}
    host, name, fired = _host(rules)
    host.assert_fact(name, {"sid": "1", "a": 1, "b": 2})
    assert fired == ["r", "r"]


def _or_rule(branches: int) -> str:
    """One rule whose match is `branches` conjunctions of three comparisons, as compile writes them."""
    match = {"$or": [{"$and": [{"k": "cand"}, {"a": i}, {"$lt": {"b": i}}]} for i in range(branches)]}
    return json.dumps({"r": {"all": [{"m": match}]}})


def test_a_rule_holds_at_most_fourteen_or_branches_which_bounds_max_branches() -> None:
    handle = durable_rules_engine.create_ruleset(f"pin_{next(_names)}", _or_rule(14))
    durable_rules_engine.delete_ruleset(handle)
    with pytest.raises(Exception, match="113"):  # ERR_EXPRESSION_LIMIT_EXCEEDED
        durable_rules_engine.create_ruleset(f"pin_{next(_names)}", _or_rule(15))
    assert MAX_BRANCHES <= 14
    for policy in compile_knowledge(load_knowledge()).values():
        for chunk in policy.rulesets.values():
            for rule in chunk.values():
                assert len(rule["all"][0]["m"].get("$or", ())) <= MAX_BRANCHES


def test_a_fact_no_rule_matches_is_rejected_which_is_why_every_ruleset_has_a_catch_all() -> None:
    host, name, _ = _host({"r": {"all": [{"m": {"a": 1}}], "run": "r"}})
    with pytest.raises(MessageNotHandledException):
        host.assert_fact(name, {"sid": "1", "a": 2})
    for policy in compile_knowledge(load_knowledge()).values():
        for chunk in policy.rulesets.values():
            assert {"seen_case", "seen_cand"} <= set(chunk)


def test_an_exception_inside_an_action_is_swallowed_by_the_engine() -> None:
    class Failing(_RecordingHost):
        def get_action(self, name: str) -> Callable[[Any], None]:
            def action(closure: Any) -> None:
                raise ValueError("boom")

            return action

    host = Failing([])
    host.register_rulesets({"pin_fail": {"r": {"all": [{"m": {"a": 1}}], "run": "r"}}})
    host.assert_fact("pin_fail", {"sid": "1", "a": 1})  # no exception here...
    assert "exception" in host.get_state("pin_fail", "1")  # ...it is parked in the session state


def test_an_exception_inside_an_action_surfaces_as_an_engine_error(monkeypatch: pytest.MonkeyPatch) -> None:
    evaluator = CaseEvaluator(load_knowledge())
    case = load_vignette(SHARED_VIGNETTES / "esi-lumbar-radicular-indicated.yaml")["case"]

    def broken(*recorded: Any) -> None:
        raise RuntimeError("action failed")

    monkeypatch.setattr(evaluator.engine, "_record", broken)
    with pytest.raises(EngineError, match="action failed"):
        evaluator.evaluate(case)
    assert evaluator.engine.live_sessions == 0  # the failed session is deleted, not kept


def test_a_ruleset_name_cannot_be_registered_twice_on_one_host() -> None:
    host, name, _ = _host({"r": {"all": [{"m": {"a": 1}}], "run": "r"}})
    with pytest.raises(Exception, match="already registered"):
        host.register_rulesets({name: {"r": {"all": [{"m": {"a": 1}}], "run": "r"}}})


def test_building_the_evaluator_twice_in_one_process_works_like_a_streamlit_rerun() -> None:
    case = load_vignette(SHARED_VIGNETTES / "esi-lumbar-radicular-indicated.yaml")["case"]
    first = CaseEvaluator(load_knowledge())
    second = CaseEvaluator(load_knowledge())
    assert first.evaluate(case).model_dump_json() == second.evaluate(case).model_dump_json()


def test_ten_thousand_evaluations_in_a_row_leave_no_live_session() -> None:
    evaluator = default_evaluator()
    # small cases (one or two contexts each): the session table is per evaluation, not per fact
    names = ("scope-no-diagnosis", "crps-upper-limb-budapest-met")
    cases = [load_vignette(SHARED_VIGNETTES / f"{name}.yaml")["case"] for name in names]
    rulesets = len(evaluator.policies[evaluator.knowledge.manifest.default_policy].rulesets)
    sessions_before = next(evaluator.engine._sessions)
    for i in range(10_000):
        evaluator.evaluate(cases[i % len(cases)])
        # one or none per ruleset between evaluations (of every policy this evaluator has served)
        assert evaluator.engine.live_sessions == evaluator.engine.kept_sessions <= evaluator.engine.ruleset_count
    used = next(evaluator.engine._sessions) - sessions_before - 1
    # each session deleted after SESSION_CASES cases: not one per case, nor one for ever
    assert 10_000 * rulesets // SESSION_CASES <= used <= (10_000 // SESSION_CASES + 1) * rulesets


def test_a_session_no_fact_reached_ends_without_error() -> None:
    """A case with no diagnosis has only its whole-case fact, which most rulesets do not read: their
    kept sessions never get a state in durable, and deleting one that has none is an error there."""
    evaluator = CaseEvaluator(load_knowledge())
    case = load_vignette(SHARED_VIGNETTES / "scope-no-diagnosis.yaml")["case"]
    expected = evaluator.evaluate(case).model_dump_json()
    for _ in range(3 * SESSION_CASES):
        assert evaluator.evaluate(case).model_dump_json() == expected
    assert evaluator.engine.live_sessions == evaluator.engine.kept_sessions <= evaluator.engine.ruleset_count
    evaluator.close()
    assert evaluator.engine.live_sessions == 0


def test_a_failure_deletes_the_session_it_happened_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """A kept session is never reused after anything failed in it (its state may be half-done)."""
    evaluator = CaseEvaluator(load_knowledge())
    case = load_vignette(SHARED_VIGNETTES / "esi-lumbar-radicular-indicated.yaml")["case"]
    expected = evaluator.evaluate(case).model_dump_json()
    assert evaluator.engine.live_sessions == evaluator.engine.kept_sessions > 0
    kept = {handle: kept.name for handle, kept in evaluator.engine._kept.items()}

    def broken(*recorded: Any) -> None:
        raise RuntimeError("action failed")

    with monkeypatch.context() as patched:
        patched.setattr(evaluator.engine, "_record", broken)
        with pytest.raises(EngineError):
            evaluator.evaluate(case)
    assert evaluator.evaluate(case).model_dump_json() == expected
    first = next(iter(kept))
    assert evaluator.engine._kept[first].name != kept[first]  # a fresh session after the failure
    evaluator.close()
    assert evaluator.engine.live_sessions == 0


def test_the_session_table_is_bounded_so_sessions_must_be_deleted() -> None:
    """Without delete_state the engine runs out of sessions; this pins why the evaluator deletes."""
    host, name, _ = _host({"r": {"all": [{"m": {"a": 1}}], "run": "r"}})
    with pytest.raises(MemoryError):
        for sid in range(20_000):
            host.assert_fact(name, {"sid": str(sid), "a": 1})
    assert sid == 1024  # measured with 2.0.28: the 1025th live session fails


def test_eight_threads_give_the_same_reports_as_one_thread() -> None:
    evaluator = default_evaluator()
    cases = [load_vignette(p)["case"] for p in vignette_files()]
    expected = [evaluator.evaluate(c).model_dump_json() for c in cases]
    results: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            results[worker] = [evaluator.evaluate(c).model_dump_json() for c in cases[worker:] + cases[:worker]]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for worker, got in results.items():
        assert got == expected[worker:] + expected[:worker]
    assert evaluator.engine.live_sessions == evaluator.engine.kept_sessions <= evaluator.engine.ruleset_count


def test_the_engine_has_no_background_timer_threads() -> None:
    before = {t.name for t in threading.enumerate()}
    RulesEngine(compile_knowledge(load_knowledge()))
    after = {t.name for t in threading.enumerate()}
    assert after == before


def test_engine_facts_carry_every_key_the_rules_read() -> None:
    from decision.case import Case
    from decision.case_facts import engine_fact
    from decision.contexts import build_contexts
    from decision.truth import Evaluator

    evaluator = default_evaluator()
    case = Case.model_validate(yaml.safe_load((SHARED_VIGNETTES / "scope-no-diagnosis.yaml").read_text())["case"])
    for policy in evaluator.policies.values():
        for context in build_contexts(case, evaluator.knowledge):
            fact = engine_fact(context, policy, Evaluator(context, policy.param_values()))
            assert set(policy.fact_keys) <= set(fact)


_WIDE_FACT = """
from durable.engine import Host


class _Host(Host):
    def get_action(self, name):
        return lambda closure: None


host = _Host()
host.register_rulesets({"wide": {"r": {"all": [{"m": {"k": "x"}}], "run": "noop"}}})
host.assert_facts("wide", [{"sid": "1", "k": "x", **{f"p{i}": i for i in range(%d)}}])
print("survived")
"""


def _assert_wide_fact(properties: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _WIDE_FACT % properties], capture_output=True, text=True, timeout=60)


def test_a_fact_over_255_properties_crashes_the_engine_so_rulesets_get_narrow_facts() -> None:
    """durable-rules 2.0.28 keeps at most 255 properties per fact (MAX_OBJECT_PROPERTIES) and writes
    past its table beyond that: measured as a segmentation fault. Pinned in child processes (250 +
    k/sid survives, 300 does not); the compiler keeps every ruleset's facts far under the limit."""
    from decision.compile import MAX_FACT_KEYS
    from decision.evaluator import default_evaluator

    within = _assert_wide_fact(250)
    assert within.returncode == 0 and "survived" in within.stdout, within.stderr
    beyond = _assert_wide_fact(300)
    assert beyond.returncode == -signal.SIGSEGV and "survived" not in beyond.stdout
    for policy in default_evaluator().policies.values():
        for keys in policy.ruleset_keys.values():
            assert len(keys) <= MAX_FACT_KEYS < 255 - 3  # room for k, ctx and sid


def _fnv1_32(text: str) -> int:
    """durable's fnv1Hash32 (state.c), the hash it keeps a session's facts by."""
    value = 0x811C9DC5
    for byte in text.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def test_fact_ids_below_the_limit_have_distinct_hashes_and_the_limit_repeats_one() -> None:
    seen: dict[int, int] = {}
    for number in range(FACT_IDS):
        assert seen.setdefault(_fnv1_32(str(number)), number) == number
    assert _fnv1_32(str(FACT_IDS)) in seen


def test_durable_skips_a_fact_whose_id_hash_it_holds_which_is_why_ids_are_context_numbers() -> None:
    first = next(n for n in range(FACT_IDS) if _fnv1_32(str(n)) == _fnv1_32(str(FACT_IDS)))
    rules = {name: {"all": rule["all"]} for name, rule in TWO_RULES.items()}  # the C core takes no "run"
    handle = durable_rules_engine.create_ruleset(f"pin_{next(_names)}", json.dumps(rules))
    facts = [{"id": first, "sid": "1", "kind": "case"}, {"id": FACT_IDS, "sid": "1", "kind": "case", "x": 1}]
    status = durable_rules_engine.assert_facts(handle, json.dumps(facts))
    assert status[0] == 2  # ERR_EVENT_OBSERVED: the second, different fact was taken as seen
    message = durable_rules_engine.start_action_for_state(handle, status[1])
    fired = 0
    while message:
        fired += 1
        message = durable_rules_engine.complete_and_start_action(handle, status[1])
    assert fired == 2  # both rules, for the first fact only
    durable_rules_engine.delete_state(handle, "1")


def test_a_fact_taken_for_one_already_held_is_run_again_in_a_fresh_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """If a fact's id hash meets the session's own record, the case runs again in another session
    (once): the same report; twice in a row is an engine error, never a report without the fact."""
    evaluator = CaseEvaluator(load_knowledge())
    case = load_vignette(SHARED_VIGNETTES / "esi-lumbar-radicular-indicated.yaml")["case"]
    expected = evaluator.evaluate(case).model_dump_json()
    real = durable_rules_engine.assert_facts
    refusals = {"left": 1}

    def once_taken(handle: int, batch: str) -> Any:
        if refusals["left"]:
            refusals["left"] -= 1
            return (2, 0)
        return real(handle, batch)

    monkeypatch.setattr(durable_rules_engine, "assert_facts", once_taken)
    for _ in range(2):  # the kept session and, the second time, batch
        refusals["left"] = 1
        assert evaluator.evaluate(case).model_dump_json() == expected
        refusals["left"] = 1
        (alone,) = evaluator.evaluate_many([case])
        assert not isinstance(alone, Exception) and alone.model_dump_json() == expected
    refusals["left"] = 2
    with pytest.raises(EngineError, match="held already"):
        evaluator.evaluate(case)
    assert evaluator.engine.live_sessions == evaluator.engine.kept_sessions
    evaluator.close()
    assert evaluator.engine.live_sessions == 0


@pytest.mark.parametrize(
    "message",
    [
        '{"r_3_T":{"m":{"ctx":12,"id":12,"sid":"4","k":"cand"}}}',
        '{"r_3_T": {"m": {"ctx": 12, "id": 12}}}',
        '{"r_3_T":{"m":{"id":12,"ctx":12}}}',
        '{"r_3_T":{"m":{"ctx":12}}}',
    ],
)
def test_a_firing_is_read_from_the_message_however_the_core_lays_it_out(message: str) -> None:
    """The rule and context are read from the message's first bytes; any other layout is parsed whole."""
    assert _firing(message) == ("r_3_T", 12)
