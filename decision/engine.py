"""The only module that touches durable-rules.

What the engine needs, measured (see shared/notes/durable-rules.md): a private host (the global
one refuses a second registration, which a Streamlit rerun does), no background timer thread,
facts asserted rather than posted (a posted event fires only the first matching rule), a fresh
session per evaluation deleted afterwards (the engine holds only about a thousand live sessions),
one lock around the C core (it is not thread-safe), and a check for exceptions that the engine
swallows inside actions.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

import durable_rules_engine
from durable.engine import Host

from decision.compile import SEEN_ACTION, CompiledPolicy

Firing = tuple[str, int]
"""(engine action name, context index): one rule firing for one context."""


class EngineError(RuntimeError):
    """The rules engine failed while evaluating; the evaluation's result must not be used."""


class EngineClosed(EngineError):
    """The engine's rulesets were freed (its knowledge was replaced); evaluate with the new one."""


class _PrivateHost(Host):  # type: ignore[misc]
    """A host of our own: actions resolved by name to one recorder, and no timer threads."""

    def __init__(self, record: Callable[[str, Any], None]) -> None:
        self._record = record
        super().__init__()

    def _run(self) -> None:
        """The base class starts timer threads that poll the engine; nothing here uses timers."""

    def get_action(self, action_name: str) -> Callable[[Any], None]:
        def action(closure: Any) -> None:
            self._record(action_name, closure)

        return action


class RulesEngine:
    """Holds the registered rulesets and runs one case's facts through one of them at a time."""

    def __init__(self, policies: dict[str, CompiledPolicy]) -> None:
        self._lock = threading.Lock()
        self._sessions = itertools.count(1)
        self._collected: set[Firing] | None = None
        self._live_sessions = 0
        self._closed = False
        self._host = _PrivateHost(self._record)
        self._names = {pid: tuple(policy.rulesets) for pid, policy in policies.items()}
        self._keys = {name: keys for policy in policies.values() for name, keys in policy.ruleset_keys.items()}
        for policy in policies.values():
            for name, definition in policy.rulesets.items():
                self._host.register_rulesets({name: _copy(definition)})

    @property
    def live_sessions(self) -> int:
        """Sessions not yet deleted; 0 between evaluations (the engine's session table is bounded)."""
        return self._live_sessions

    def _record(self, action_name: str, closure: Any) -> None:
        if self._collected is None:
            raise EngineError(f"action {action_name} fired outside an evaluation")
        self._collected.add((action_name, int(closure.m.ctx)))

    def fire(self, policy_id: str, facts: list[dict[str, Any]]) -> set[Firing]:
        """Assert every fact in a fresh session of each ruleset; return what fired for which context."""
        fired: set[Firing] = set()
        with self._lock:
            if self._closed:
                raise EngineClosed("this knowledge was replaced; its rulesets are freed")
            for ruleset in self._names[policy_id]:
                fired |= self._fire_one(ruleset, facts)
        return fired

    def _fire_one(self, ruleset: str, facts: list[dict[str, Any]]) -> set[Firing]:
        session = str(next(self._sessions))
        collected: set[Firing] = set()
        self._collected = collected
        self._live_sessions += 1
        try:
            keys = self._keys.get(ruleset)
            narrowed = facts if keys is None else [_narrow(fact, keys) for fact in facts]
            self._host.assert_facts(ruleset, [{**fact, "sid": session} for fact in narrowed])
            state = self._host.get_state(ruleset, session)
            if "exception" in state:
                raise EngineError(f"a rule action failed inside the engine: {state['exception']}")
            seen = {ctx for action, ctx in collected if action == SEEN_ACTION}
            if seen != {int(fact["ctx"]) for fact in facts}:
                raise EngineError("the rules engine did not process every fact of the case")
        except EngineError:
            raise
        except Exception as exc:  # the C core reports its errors as bare exceptions
            raise EngineError(f"the rules engine failed: {exc}") from exc
        finally:
            self._collected = None
            try:
                self._host.delete_state(ruleset, session)
            finally:
                self._live_sessions -= 1
        return {firing for firing in collected if firing[0] != SEEN_ACTION}

    def close(self) -> None:
        """Free the rulesets in the C core (they are never freed otherwise: each reload of the
        knowledge would keep the old ones). Waits for an evaluation in progress to finish."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for ruleset in list(self._host._ruleset_list):
                durable_rules_engine.delete_ruleset(ruleset._handle)
            self._host._ruleset_list.clear()
            self._host._ruleset_directory.clear()


def _narrow(fact: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """Only the keys one ruleset reads: a durable-rules fact holds at most 255 properties."""
    narrowed = {"k": fact["k"], "ctx": fact["ctx"]}
    for key in keys:
        narrowed[key] = fact[key]
    return narrowed


def _copy(value: Any) -> Any:
    """durable-rules edits the definition it is given (it pops `run`), so give it a copy."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
