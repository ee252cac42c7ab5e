"""The only module that touches durable-rules.

What the engine needs, measured (see shared/notes/durable-rules.md): no background timer thread,
facts asserted rather than posted (a posted event fires only the first matching rule), a session
per ruleset serving at most SESSION_CASES evaluations in turn and then deleted, and deleted at once
after any failure (the engine holds only about a thousand live sessions), one lock around the C core
(it is not thread-safe), and no action error lost.

The C core (`durable_rules_engine`) is driven directly rather than through durable's Python
`Host` (issue 17): the host hands every firing the whole fact as JSON to parse and dumps the
session state again per firing, about 70 % of the engine's time. Here each fact is serialised once
with `ctx` as its first key; a firing's message echoes the fact's text verbatim, so the rule name
and context are read from its first bytes (with a full JSON parse if the text is ever laid out
otherwise). The recorder is called directly, so an error in it propagates instead of being parked
in the session state, as durable's host does with an action's exception.
"""

from __future__ import annotations

import contextlib
import itertools
import operator
import re
import threading
from collections.abc import Callable
from typing import Any

import durable_rules_engine
import orjson

from decision.case_facts import CaseFacts
from decision.compile import SEEN_ACTION, CompiledPolicy

Firing = tuple[str, int]
"""(engine action name, context index): one rule firing for one context."""

_HANDLED = 0
"""durable's status for a batch of facts that rules matched (1: a fact no rule matches)."""
_OBSERVED = 2
"""durable's status when it took a fact for one it already holds in the session (ERR_EVENT_OBSERVED)."""

FACT_IDS = 797_186
"""Fact ids are the facts' context numbers in their session, below this. durable keeps a session's
facts by a 32-bit FNV-1 hash of their id and takes a fact whose hash it already holds as seen before,
without weighing it; with no id given, the id is a hash of the fact's content, and among the ~400
facts of a batch session two such ids met that way about once in 100,000 cases (a batch stopped on
a valid case, measured in issue 17). The decimal numbers below FACT_IDS have distinct hashes (797,186
is the first to repeat one: pinned in tests/engine/test_engine_pitfalls.py). Their hash can still
meet that of the session's own record ("sid-<n>"): then the case is run again in a fresh session."""


class EngineError(RuntimeError):
    """The rules engine failed while evaluating; the evaluation's result must not be used."""


class EngineClosed(EngineError):
    """The engine's rulesets were freed (its knowledge was replaced); evaluate with the new one."""


class _IdTaken(EngineError):
    """durable took one of the case's facts for one it held already (see FACT_IDS)."""


class _Ruleset:
    """One ruleset registered in the C core: its handle, its rules' action names, its fact keys."""

    def __init__(
        self,
        name: str,
        definition: dict[str, Any],
        keys: tuple[str, ...] | None,
        first: bool,
        case_keys: frozenset[str] = frozenset(),
    ) -> None:
        self.name = name
        self.first = first
        """Run first, over every context (CompiledPolicy.first_rulesets)."""
        self.case_keys = tuple(key for key in keys or () if key in case_keys)
        """Its keys held in `CaseFacts.common` (narrowed once per case); `own_keys` the rest."""
        self.own_keys = tuple(key for key in keys or () if key not in case_keys)
        self.pick_case = _picker(self.case_keys)
        self.pick_own = _picker(self.own_keys)
        self.actions = {rule_name: str(rule["run"]) for rule_name, rule in definition.items()}
        rules = {rule_name: {k: v for k, v in rule.items() if k != "run"} for rule_name, rule in definition.items()}
        self.keys = keys
        self.pick: Callable[[dict[str, Any]], tuple[Any, ...]] = _picker(keys or ())
        self.kinds = frozenset(_kind(rule) for rule in definition.values() if rule["run"] != SEEN_ACTION)
        """The kinds of fact (case, cand) some rule here reads: only those are asserted here (most
        rulesets hold no case rule, and the case's fact would meet only the catch-all)."""
        self.handle: int = durable_rules_engine.create_ruleset(name, orjson.dumps(rules).decode())


def _kind(rule: dict[str, Any]) -> str:
    """The kind of fact an engine rule reads (every branch of its match starts with it)."""
    match = rule["all"][0]["m"]
    first = match["$or"][0] if "$or" in match else match
    return str((first["$and"][0] if "$and" in first else first)["k"])


SESSION_CASES = 4
"""Cases one engine session serves in turn before it is deleted and a fresh one started. durable sets
up every rule's join state whenever a session starts (about 0.2 ms a case for this knowledge, a fifth
of the engine's time, measured in issue 17). Facts of different cases never meet: every rule reads a
single fact, and each case's contexts are numbered after the previous case's. A kept session holds its
join state and its cases' facts (about 7 KB each) between evaluations: measured over 6,000
evaluations, 4 cases a session was as fast as 16 and held 18 MB less. Sessions are kept for one
policy at a time (a case of another policy drops them), so between evaluations at most one session
per ruleset of that policy is alive, with at most 4 cases' facts."""


class _Session:
    """One engine session of one ruleset: its id, whether durable holds a state for it (its first
    assert creates one), the next context number free in it, and the cases it has served."""

    __slots__ = ("base", "cases", "name", "started")

    def __init__(self, name: str) -> None:
        self.name = name
        self.started = False
        self.base = 0
        self.cases = 0


class RulesEngine:
    """Holds the registered rulesets and runs one case's facts through one of them at a time."""

    def __init__(self, policies: dict[str, CompiledPolicy]) -> None:
        self._lock = threading.Lock()
        self._sessions = itertools.count(1)
        self._live_sessions = 0
        self._kept: dict[int, _Session] = {}
        self._kept_policy: str | None = None
        self._closed = False
        self._policies = policies
        self._rulesets: dict[str, tuple[_Ruleset, ...]] = {}
        """The policies' rulesets registered in the C core so far: a policy's are registered when
        it is first evaluated (`register`). Each policy's rulesets hold about 9 MB in the C core
        and take about 17 ms to register; a batch worker or an app session mostly evaluates one
        policy, and held every policy's (issue 17: a batch worker's RSS 111 -> 91 MB over 30,000
        cases)."""

    @property
    def live_sessions(self) -> int:
        """Sessions opened and not yet deleted: between evaluations, the kept ones (at most one per
        ruleset of one policy, each for at most SESSION_CASES cases); durable's session table is
        bounded."""
        return self._live_sessions

    @property
    def ruleset_count(self) -> int:
        """The most rulesets of one policy: the most sessions kept between evaluations."""
        return max((len(policy.rulesets) for policy in self._policies.values()), default=0)

    @property
    def registered_policies(self) -> frozenset[str]:
        """The policies whose rulesets the C core holds now."""
        return frozenset(self._rulesets)

    def register(self, policy_id: str) -> tuple[_Ruleset, ...]:
        """The policy's rulesets, registered in the C core now if they are not yet (a caller that
        wants the first evaluation as fast as the next calls this beforehand). Raises KeyError for
        a policy the knowledge does not hold, EngineError if the C core refuses a ruleset."""
        with self._lock:
            return self._registered(policy_id)

    def _registered(self, policy_id: str) -> tuple[_Ruleset, ...]:
        """`register`, with the lock held."""
        if self._closed:
            raise EngineClosed("this knowledge was replaced; its rulesets are freed")
        found = self._rulesets.get(policy_id)
        if found is None:
            policy = self._policies[policy_id]
            made: list[_Ruleset] = []
            try:
                for name, definition in policy.rulesets.items():
                    made.append(
                        _Ruleset(
                            name,
                            definition,
                            policy.ruleset_keys.get(name),
                            name in policy.first_rulesets,
                            policy.case_keys,
                        )
                    )
            except Exception as exc:  # none registered, or the policy would run with rules missing
                for ruleset in made:
                    with contextlib.suppress(Exception):
                        durable_rules_engine.delete_ruleset(ruleset.handle)
                raise EngineError(f"the rules engine refused the rules of policy {policy_id!r}: {exc}") from exc
            found = self._rulesets[policy_id] = tuple(made)
        return found

    @property
    def kept_sessions(self) -> int:
        """Sessions kept for the next evaluations; between evaluations every live session is one."""
        return len(self._kept)

    def _record(self, collected: set[Firing], action_name: str, ctx: int) -> None:
        collected.add((action_name, ctx))

    def fire(self, policy_id: str, facts: CaseFacts | list[dict[str, Any]], every_context: bool = False) -> set[Firing]:
        """Assert the facts in a session of each ruleset; return what fired for which context.

        The policy's first rulesets (`CompiledPolicy.first_rulesets`) get every fact; the others
        get the case's fact and the candidates' facts that an opening action fired for
        (`weighed_facts`): for a candidate no indication speaks for, the report names only what
        the first rulesets decide, and its facts were three quarters of the engine's work.
        `every_context`: every ruleset gets every fact (what each rule decides in every context,
        as the differential tests check the compiled rules against the reference evaluator).
        `facts`: a case's `CaseFacts`, or whole facts (each holding every key its rules read)."""
        case = facts if isinstance(facts, CaseFacts) else CaseFacts({}, facts)
        fired: set[Firing] = set()
        with self._lock:
            rulesets = self._registered(policy_id)
            if self._kept_policy != policy_id:  # sessions are kept for one policy at a time
                self._drop_kept()
                self._kept_policy = policy_id
            for ruleset in rulesets:
                if ruleset.first:
                    fired |= self._fire_kept(ruleset, [case])
            if not every_context:
                case = CaseFacts(
                    case.common, weighed_facts(case.facts, fired, self._policies[policy_id].opening_actions)
                )
            for ruleset in rulesets:
                if not ruleset.first:
                    fired |= self._fire_kept(ruleset, [case])
        return fired

    def _drop_kept(self) -> None:
        for rulesets in self._rulesets.values():
            for ruleset in rulesets:
                kept = self._kept.pop(ruleset.handle, None)
                if kept is not None:
                    self._delete(ruleset, kept, failing=True)

    def fire_many(self, policy_id: str, cases: list[CaseFacts]) -> list[set[Firing]]:
        """`fire` for several cases at once, in one fresh session per ruleset: each case's contexts
        are numbered after the previous case's, so its firings are told apart and handed back per
        case. Facts never meet across cases (every rule reads a single fact), so each case fires
        exactly what `fire` would fire for it; the session and its serialisation are paid once."""
        owner: list[tuple[int, int]] = []
        offsets: list[int] = []
        for number, case in enumerate(cases):
            offsets.append(len(owner))
            owner.extend((number, local) for local in range(len(case.facts)))

        def batch(per_case: list[list[dict[str, Any]]]) -> list[CaseFacts]:
            return [
                CaseFacts(cases[n].common, [{**fact, "ctx": offsets[n] + fact["ctx"]} for fact in facts])
                for n, facts in enumerate(per_case)
            ]

        def by_case(fired: set[Firing]) -> list[set[Firing]]:
            out: list[set[Firing]] = [set() for _ in cases]
            for action, ctx in fired:
                number, local = owner[ctx]
                out[number].add((action, local))
            return out

        fired: set[Firing] = set()
        with self._lock:
            rulesets = self._registered(policy_id)
            everything = batch([case.facts for case in cases])
            for ruleset in rulesets:
                if ruleset.first:
                    fired |= self._fire_fresh(ruleset, everything)
            opening = self._policies[policy_id].opening_actions
            first = by_case(fired)
            weighed = batch([weighed_facts(case.facts, first[n], opening) for n, case in enumerate(cases)])
            for ruleset in rulesets:
                if not ruleset.first:
                    fired |= self._fire_fresh(ruleset, weighed)
        return by_case(fired)

    def _fire_fresh(self, ruleset: _Ruleset, facts: list[CaseFacts], again: bool = True) -> set[Firing]:
        """The facts in a session of their own, deleted afterwards; run again once in another
        session if durable took a fact for one it held (see FACT_IDS)."""
        session = self._open()
        try:
            fired = self._fire_one(ruleset, facts, session)
        except _IdTaken:
            self._delete(ruleset, session, failing=True)
            if not again:
                raise
            return self._fire_fresh(ruleset, facts, again=False)
        except BaseException:
            self._delete(ruleset, session, failing=True)
            raise
        self._delete(ruleset, session)
        return fired

    def _open(self) -> _Session:
        self._live_sessions += 1
        return _Session(str(next(self._sessions)))

    def _delete(self, ruleset: _Ruleset, session: _Session, failing: bool = False) -> None:
        """Delete the session's state in durable, if it has one. While another error is on its way
        (`failing`), an error deleting it is dropped, so the caller sees the error that matters."""
        try:
            if session.started:
                durable_rules_engine.delete_state(ruleset.handle, session.name)
        except Exception:
            if not failing:
                raise
        finally:
            self._live_sessions -= 1

    def _fire_kept(self, ruleset: _Ruleset, facts: list[CaseFacts]) -> set[Firing]:
        """One case in the ruleset's kept session (a new one when none is kept); the session is
        deleted after SESSION_CASES cases, or at once if anything fails in it."""
        kept = self._kept.get(ruleset.handle)
        if kept is None:
            kept = self._kept[ruleset.handle] = self._open()
        try:
            try:
                fired = self._fire_one(ruleset, facts, kept)
            except _IdTaken:  # a fresh session has another record id (see FACT_IDS)
                del self._kept[ruleset.handle]
                self._delete(ruleset, kept, failing=True)
                kept = self._kept[ruleset.handle] = self._open()
                fired = self._fire_one(ruleset, facts, kept)
        except BaseException:
            del self._kept[ruleset.handle]
            self._delete(ruleset, kept, failing=True)
            raise
        kept.base += 1 + max((int(fact["ctx"]) for case in facts for fact in case.facts), default=-1)
        kept.cases += 1
        if kept.cases >= SESSION_CASES:
            del self._kept[ruleset.handle]
            self._delete(ruleset, kept)
        return fired

    def _fire_one(self, ruleset: _Ruleset, cases: list[CaseFacts], session: _Session) -> set[Firing]:
        """Assert the facts of the kinds the ruleset reads in `session`, their contexts numbered from
        the session's base there; the firings, with the facts' own context numbers. Raises
        EngineError (the session is then unusable)."""
        collected: set[Firing] = set()
        handle, base = ruleset.handle, session.base
        chosen = [CaseFacts(case.common, [f for f in case.facts if f["k"] in ruleset.kinds]) for case in cases]
        asserted = {int(fact["ctx"]) for case in chosen for fact in case.facts}
        if not asserted:
            return collected
        if base + max(asserted) >= FACT_IDS:
            raise EngineError(f"more than {FACT_IDS:,} contexts in one engine session")
        try:
            batch = payload(ruleset, chosen, session.name, base)
            session.started = True
            status = durable_rules_engine.assert_facts(handle, batch)
            if status[0] == _OBSERVED:
                raise _IdTaken("the rules engine took a fact of the case for one it held already")
            if status[0] != _HANDLED:
                raise EngineError(f"the rules engine did not accept the case's facts (status {status[0]})")
            state = status[1]
            started = durable_rules_engine.start_action_for_state(handle, state)
            message = started[1] if started else None
            try:
                while message:
                    rule_name, ctx = _firing(message)
                    if ctx - base not in asserted:  # never seen; a firing must be one of this case's facts
                        raise EngineError("the rules engine answered for a fact that is not this case's")
                    try:
                        self._record(collected, ruleset.actions[rule_name], ctx - base)
                    except Exception as exc:
                        raise EngineError(f"a rule action failed inside the engine: {exc}") from exc
                    message = durable_rules_engine.complete_and_start_action(handle, state)
            except BaseException:
                durable_rules_engine.abandon_action(handle, state)
                raise
            if {ctx for action, ctx in collected if action == SEEN_ACTION} != asserted:
                raise EngineError("the rules engine did not process every fact of the case")
        except EngineError:
            raise
        except Exception as exc:  # the C core reports its errors as bare exceptions
            raise EngineError(f"the rules engine failed: {exc}") from exc
        return {firing for firing in collected if firing[0] != SEEN_ACTION}

    def close(self) -> None:
        """Free the rulesets in the C core (they are never freed otherwise: each reload of the
        knowledge would keep the old ones). Waits for an evaluation in progress to finish."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._drop_kept()
            for rulesets in self._rulesets.values():  # every one freed, whatever fails on the way
                for ruleset in rulesets:
                    with contextlib.suppress(Exception):
                        durable_rules_engine.delete_ruleset(ruleset.handle)
            self._rulesets.clear()


def weighed_facts(facts: list[dict[str, Any]], fired: set[Firing], opening: frozenset[str]) -> list[dict[str, Any]]:
    """The facts the rulesets after the first get: the case's own, and each candidate's that an
    opening action fired for; every fact when one fired for the case's own fact."""
    opened = {ctx for action, ctx in fired if action in opening}
    if any(fact["k"] == "case" and fact["ctx"] in opened for fact in facts):
        return facts
    return [fact for fact in facts if fact["k"] == "case" or fact["ctx"] in opened]


def _picker(keys: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """The values of `keys` in a fact, in their order, read in one C call (itemgetter): narrowing
    every fact for every ruleset key by key was a tenth of the engine's Python time."""
    if len(keys) == 1:
        only = operator.itemgetter(keys[0])
        return lambda fact: (only(fact),)
    if not keys:
        return lambda fact: ()
    return operator.itemgetter(*keys)


def payload(ruleset: _Ruleset, cases: list[CaseFacts], session: str, base: int) -> str:
    """The facts as one ruleset sees them, as the JSON array durable asserts: each fact's `ctx`
    first (see `_firing`; numbered from `base` in its session), its id, the session, its kind, and
    only the keys the ruleset reads (a durable-rules fact holds at most 255 properties). A case's
    common keys are narrowed and serialised once, and spliced into each of its facts' text."""
    texts: list[bytes] = []
    for case in cases:
        common = b""
        if ruleset.keys is not None and case.common:
            common = orjson.dumps(dict(zip(ruleset.case_keys, ruleset.pick_case(case.common), strict=True)))[1:-1]
        for fact in case.facts:
            ctx = fact["ctx"] + base
            narrowed = {"ctx": ctx, "id": ctx, "sid": session, "k": fact["k"]}
            if ruleset.keys is None:  # every key of the whole fact
                whole = {**case.common, **fact}
                narrowed.update((key, value) for key, value in whole.items() if key not in narrowed)
            elif case.common:
                narrowed.update(zip(ruleset.own_keys, ruleset.pick_own(fact), strict=True))
            else:  # whole facts: every key the ruleset reads is the fact's own
                narrowed.update(zip(ruleset.keys, ruleset.pick(fact), strict=True))
            text = orjson.dumps(narrowed)
            texts.append(text[:-1] + b"," + common + b"}" if common else text)
    return (b"[" + b",".join(texts) + b"]").decode()


_HEAD = re.compile(r'\{"([^"\\]*)":\{"m":\{"ctx":([0-9]+),').match
"""A firing message's first bytes: rule name and context number (one C call, not six)."""


def _firing(message: str) -> tuple[str, int]:
    """(rule name, context) of a firing message `{"<rule>":{"m":{"ctx":<n>,...}}}`: the core echoes
    the asserted fact's text, so both are read from the message's first bytes."""
    head = _HEAD(message)
    if head is not None:
        rule_name, digits = head.groups()
        return rule_name, int(digits)
    parsed = orjson.loads(message)
    ((rule_name, content),) = parsed.items()
    return str(rule_name), int(content["m"]["ctx"])
