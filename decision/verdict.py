"""From the rules that fired to the report: statuses, guidance, reasons, findings.

Statuses are computed here from everything that fired, never from firing order: a candidate
starts from its indication (met: indicated; undecided: needs information; none: not indicated)
and then takes the worst status that any restricting rule gives it. A rule left undecided by an
unknown answer makes the candidate at best "needs information" and names the missing fields.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

from decision.case import vocabulary
from decision.compile import CompiledPolicy, CompiledRule, speaks_unweighed, weighs_candidate
from decision.facts import UNKNOWN, Context
from decision.per_object import PerObject
from decision.report import (
    ReasonKind,
    Report,
    Status,
    status_rank,
)
from decision.report_parts import Outcome, findings, fired_rules, merged_candidates, no_guideline_reason
from decision.rule_text import rule_text
from decision.truth import RISK_FIELDS, Evaluator, candidate_fields, dedupe
from decision.wording import not_met_text, undecided_text
from knowledge.conditions import AllOf, AnyOf, Compare, ConditionNode, Count, NotOf, walk
from knowledge.loader import Knowledge
from knowledge.schema import Rule, Vocabulary

_KIND_ORDER: dict[str, int] = {
    "red_flag": 0,
    "restriction": 1,
    "unknown": 2,
    "indication": 3,
    "warning": 4,
    "guidance": 5,
    "not_met": 6,
}


def worst(a: Status, b: Status) -> Status:
    return a if status_rank(a) >= status_rank(b) else b


def _plan_only(rule: Rule) -> bool:
    then = rule.then
    return then.plan is not None and not (
        then.status or then.warning or then.guidance or then.red_flag or then.indicate
    )


def _rules_out(rule: Rule) -> bool:
    """A restriction (`_effect_kind`) that makes its candidate not indicated."""
    return speaks_unweighed(rule) and _effect_kind(rule) == "restriction"


def _effect_kind(rule: Rule) -> ReasonKind:
    then = rule.then
    if then.red_flag:
        return "red_flag"
    if then.indicate:
        return "indication"
    if then.status:
        return "restriction"
    if then.guidance:
        return "guidance"
    return "warning"


SETTLED_KEPT = 4096
"""The most entries each cross-case store of a verdict builder keeps, per vocabulary in use (the
undecided rules, `_settled_rule`, and the unmet indications, `_why_not`; about 1 KB each): a store
starts again when full, so a long run's memory stays bounded. A key holds the exact values the rule
reads (an INR of 1.31 and one of 1.32 are two entries), so on real data a store fills and starts
again; the rules undecided the same way in case after case are back in it within a few cases."""


_Kept = TypeVar("_Kept")


def _kept(store: dict[Any, _Kept], key: Any, work_out: Callable[[], _Kept]) -> _Kept:
    """`work_out()`, remembered in `store` under `key` (at most SETTLED_KEPT entries: the store
    starts again when full). Read in one lookup: another thread may empty the store meanwhile. A
    key that cannot be hashed (a value no store can hold) is worked out every time."""
    try:
        found = store.get(key)
    except TypeError:
        return work_out()
    if found is None:
        if len(store) >= SETTLED_KEPT:
            store.clear()
        found = store[key] = work_out()
    return found


def _outer_reads(node: ConditionNode) -> tuple[tuple[str, ...], tuple[Count, ...]]:
    """The context fields a condition reads outside count filters, and its counts: the truth of
    every part follows from those fields' values and those counts' ranges."""
    fields: set[str] = set()
    counts: list[Count] = []

    def visit(part: ConditionNode) -> None:
        if isinstance(part, (AllOf, AnyOf)):
            for child in part.items:
                visit(child)
        elif isinstance(part, NotOf):
            visit(part.item)
        elif isinstance(part, Count):
            counts.append(part)
        else:
            fields.add(part.field)

    visit(node)
    return tuple(sorted(fields)), tuple(counts)


def targets_procedure(node: ConditionNode, procedure: str) -> bool:
    """Whether an indication rule can speak of this procedure (for "why not" lists)."""
    parts = node.items if isinstance(node, AllOf) else (node,)
    for part in parts:
        if isinstance(part, Compare) and part.field == "candidate.procedure":
            allowed = part.value if isinstance(part.value, tuple) else (part.value,)
            if part.op == "eq" and part.value != procedure:
                return False
            if part.op == "in" and procedure not in allowed:
                return False
    return True


_Undecided = tuple[list[tuple[str, CompiledRule, tuple[str, ...]]], dict[str, Any]]
"""An undecided rule's questions (field, rule, list entries concerned) and its reason."""


def entries_concerned(
    evaluator: Evaluator, rule: Rule, path: str, want: str, counts: tuple[Count, ...] | None = None
) -> tuple[str, ...]:
    """The list entries (as the case wrote them) that make a rule's count over `path`'s list hold
    (`want` T) or leave it undecided (U): the drug a question is about, named in the question.
    `counts`: the rule's filtered counts, if already found (`filtered_counts`)."""
    list_name = path.partition(".")[0]
    items = evaluator.context.lists.get(list_name)
    if not items:
        return ()
    found: list[str] = []
    for node in filtered_counts(rule) if counts is None else counts:
        if node.list == list_name and node.where is not None:
            for index, item in enumerate(items):
                if evaluator.item(node.where, item) == want:
                    found.append(str(item.get("written") or item.get("name") or f"entry {index + 1}"))
    return tuple(dict.fromkeys(found))


def filtered_counts(rule: Rule) -> tuple[Count, ...]:
    """The counts with a filter in a rule's condition (those whose entries a question can name)."""
    return tuple(node for node in walk(rule.when) if isinstance(node, Count) and node.where is not None)


class VerdictBuilder:
    def __init__(self, knowledge: Knowledge, policy: CompiledPolicy, engine_version: str) -> None:
        self.knowledge = knowledge
        self.policy = policy
        self.engine_version = engine_version
        self.params = policy.param_values()
        self.by_action: dict[str, tuple[CompiledRule, str]] = {}
        for compiled in policy.rules:
            if compiled.action_true:
                self.by_action[compiled.action_true] = (compiled, "T")
            if compiled.action_unknown:
                self.by_action[compiled.action_unknown] = (compiled, "U")
        self.texts = {c.entry.rule.id: rule_text(c.entry.rule, policy) for c in policy.rules}
        self._counts = {c.entry.rule.id: filtered_counts(c.entry.rule) for c in policy.rules}
        self._indications: dict[str, list[CompiledRule]] = {}
        self._words: PerObject[Vocabulary, dict[tuple[Any, ...], str]] = PerObject(lambda vocab: {})
        self._candidate_fields = {c.entry.rule.id: candidate_fields(c.entry.rule.when) for c in policy.rules}
        self._outer_reads = {c.entry.rule.id: _outer_reads(c.entry.rule.when) for c in policy.rules}
        self._reads = {
            rule_id: (fields, tuple(sorted({node.list for node in counts})))
            for rule_id, (fields, counts) in self._outer_reads.items()
        }
        self._not_met: PerObject[Vocabulary, dict[Any, tuple[dict[str, Any] | None]]] = PerObject(lambda vocab: {})
        window = self.params.get("repeat_window_months")
        self._steroids = (  # built once: it is the same count for every case under this policy
            None
            if window is None
            else Count(
                list="prior_injections",
                where=AllOf(
                    items=(
                        Compare(field="steroid", op="eq", value=True),
                        Compare(field="date", op="within_months", value=int(window)),
                    )
                ),
                op="gte",
                value=1,
            )
        )
        self._settled: PerObject[Vocabulary, dict[Any, _Undecided]] = PerObject(lambda vocab: {})

    def _reason(
        self,
        rule: Rule,
        kind: ReasonKind,
        status: Status | None,
        missing: list[str] | None = None,
        text: str | None = None,
    ) -> dict[str, Any]:
        """A `Reason` as the dict it is validated from when its candidate is built."""
        words = self.texts[rule.id]
        return {
            "rule_id": rule.id,
            "kind": kind,
            "status": status,
            "text": text or words.text,
            "sources": words.sources,
            "missing": missing or [],
            "recheck": words.recheck,
        }

    def _undecided_text(self, title: str, fields: list[str]) -> str:
        """`undecided_text`, remembered: naming the fields in words looks each up in the field
        catalogue, and the same rule is undecided for the same fields in case after case."""
        return self._remembered(("undecided", title, *fields), lambda: undecided_text(title, fields))

    def _not_met_text(self, rule: Rule, unmet: list[ConditionNode]) -> str:
        """`not_met_text`, remembered: the same indication is unmet by the same parts of its
        condition for candidate after candidate (a 20-diagnosis case has some 90), and putting
        those parts in words was most of the verdict's time for such a case. The parts are the
        knowledge's own nodes, alive as long as this builder, so their identities name them."""
        return self._remembered(
            ("not_met", rule.id, *map(id, unmet)),
            lambda: not_met_text(self.knowledge, self.texts[rule.id].title, unmet, self.params),
        )

    def _remembered(self, key: tuple[Any, ...], words: Callable[[], str]) -> str:
        """Words kept per vocabulary in use (fields and values are named from it)."""
        kept = self._words(vocabulary())
        text = kept.get(key)
        if text is None:
            text = kept[key] = words()
        return text

    def _entries(self, evaluator: Evaluator, rule: Rule, path: str, want: str) -> tuple[str, ...]:
        return entries_concerned(evaluator, rule, path, want, self._counts[rule.id])

    def _undecided_rule(
        self, compiled: CompiledRule, evaluator: Evaluator, changes_status: bool, undecided: dict[Any, _Undecided]
    ) -> _Undecided:
        """What an undecided rule asks in a candidate's context (field, rule, list entries concerned)
        and its reason. `undecided` holds those already worked out for the case: a rule undecided in
        several candidates' contexts (a hold rule, when the medication list leaves it open) is worked
        out once for each set of values of the candidate fields it reads (`candidate_fields`), not
        once per candidate."""
        rule = compiled.entry.rule
        settled = self._settled_rule(compiled, evaluator, changes_status)
        if settled is not None:
            return settled
        fields_read = self._candidate_fields[rule.id]
        key: Any = None
        if fields_read is not None:
            values = evaluator.context.values
            risk = evaluator.context.risk_questions if RISK_FIELDS.intersection(fields_read) else ()
            key = (rule.id, tuple(values.get(name, UNKNOWN) for name in fields_read), risk)
            found = undecided.get(key)
            if found is not None:
                return found
        asked, reason = self._work_out(compiled, evaluator, changes_status)
        if key is not None:
            undecided[key] = (asked, reason)
        return asked, reason

    def _settled_rule(self, compiled: CompiledRule, evaluator: Evaluator, changes_status: bool) -> _Undecided | None:
        """`_undecided_rule` remembered from case to case when no list the rule counts has an entry
        (each is unknown or empty): what it asks then follows from the values of the fields it
        reads, whether each list is unknown, and the bleeding-risk questions if it reads the risk
        class. A case whose medication list is unknown leaves every hold rule undecided, the same
        way in case after case. None: a counted list has entries (their own fields decide)."""
        rule_id = compiled.entry.rule.id
        fields_read, lists_read = self._reads[rule_id]
        context = evaluator.context
        if any(context.lists.get(name) for name in lists_read):
            return None
        values = context.values
        key = (
            rule_id,
            tuple(values.get(name, UNKNOWN) for name in fields_read),
            tuple(context.lists.get(name) is None for name in lists_read),
            context.risk_questions if RISK_FIELDS.intersection(fields_read) else (),
        )
        # its reason names the fields in that vocabulary's words
        return _kept(self._settled(vocabulary()), key, lambda: self._work_out(compiled, evaluator, changes_status))

    def _work_out(self, compiled: CompiledRule, evaluator: Evaluator, changes_status: bool) -> _Undecided:
        rule = compiled.entry.rule
        fields = dedupe(evaluator.unknown_fields(rule.when))
        asked = (
            [(path, compiled, self._entries(evaluator, rule, path, "U")) for path in fields] if changes_status else []
        )
        text = self._undecided_text(self.texts[rule.id].title, fields)
        reason = self._reason(rule, "unknown", "needs_information" if changes_status else None, fields, text)
        return asked, reason

    def _outcome(
        self,
        context: Context,
        fired: list[tuple[CompiledRule, str]],
        evaluator: Evaluator,
        undecided: dict[Any, _Undecided],
    ) -> Outcome:
        # weighs_candidate: the engine runs a candidate's later rulesets only when one of these fired
        indication_true = [c for c, t in fired if t == "T" and weighs_candidate(c.entry.rule)]
        indication_unknown = [c for c, t in fired if t == "U" and weighs_candidate(c.entry.rule)]
        reasons: list[dict[str, Any]] = []
        missing: list[tuple[str, CompiledRule, tuple[str, ...]]] = []
        plans: list[dict[str, Any]] = []
        status: Status
        if indication_true:
            status = "indicated"
        elif indication_unknown:
            status = "needs_information"
        else:
            status = "not_indicated"
        relevant = status != "not_indicated"
        if not relevant:
            return self._not_weighed(context, fired, evaluator)
        guidance_rules: list[Rule] = []
        for compiled, truth in sorted(fired, key=lambda f: (f[0].entry.order, f[1])):
            rule = compiled.entry.rule
            then = rule.then
            if truth == "T":
                if then.indicate and not indication_true:
                    continue
                kind = _effect_kind(rule)
                if then.status:
                    status = worst(status, then.status)  # not indicated stays not indicated: it is the worst
                for path in then.require:
                    missing.append((path, compiled, self._entries(evaluator, rule, path, "T")))
                if then.plan is not None:
                    plans.append(self._plan(rule))
                if then.guidance:
                    guidance_rules.append(rule)
                if _plan_only(rule):
                    continue  # shown once, as a step of the candidate's antithrombotic plan
                reasons.append(self._reason(rule, kind, then.status, list(then.require)))
            else:
                changes_status = bool(then.indicate or then.status or then.red_flag)
                asked, reason = self._undecided_rule(compiled, evaluator, changes_status, undecided)
                if changes_status:
                    if relevant:
                        status = worst(status, "needs_information")
                    missing.extend(asked)
                reasons.append(reason)
        reasons.sort(key=lambda r: (_KIND_ORDER[r["kind"]], r["rule_id"]))
        open_status = status not in ("not_indicated", "contraindicated")
        guidance = self._guidance(guidance_rules) if open_status else []
        plans = sorted(plans, key=lambda p: (p["medication"], p["rule_id"])) if open_status else []
        return Outcome(context, status, reasons, guidance, relevant, missing, plans)

    def _not_weighed(self, context: Context, fired: list[tuple[CompiledRule, str]], evaluator: Evaluator) -> Outcome:
        """A candidate no indication speaks for: not indicated, and the report says why (the
        indications not met, and any rule that rules it out as not indicated), nothing more. Its
        other rules (an unknown medication list leaves every hold rule undecided in every context)
        would be worked out only to be dropped: the engine does not run them for it
        (`speaks_unweighed`, `CompiledPolicy.first_rulesets`), and they are not looked at here."""
        reasons = [
            self._reason(c.entry.rule, "restriction", "not_indicated", list(c.entry.rule.then.require))
            for c, truth in fired
            if truth == "T" and _rules_out(c.entry.rule)
        ]
        reasons += self._why_not(context, evaluator)
        reasons.sort(key=lambda r: (_KIND_ORDER[r["kind"]], r["rule_id"]))
        return Outcome(context, "not_indicated", reasons, [], False)

    def _plan(self, rule: Rule) -> dict[str, Any]:
        """A `HoldPlanStep` as the dict it is validated from with the whole report."""
        plan = rule.then.plan
        assert plan is not None
        words = self.texts[rule.id]
        restart = plan.restart_after_hours
        return {
            "medication": plan.medication,
            "medication_label": self.knowledge.vocabulary.medications[plan.medication].label,
            "action": plan.action,
            "stop_before_hours": plan.stop_before_hours,
            "restart_after_hours": None
            if restart is None
            else ([restart] if isinstance(restart, int) else list(restart)),
            "normal_inr": plan.normal_inr,
            "text": words.text,
            "rule_id": rule.id,
            "sources": words.sources,
            "recheck": words.recheck,
        }

    def _why_not(self, context: Context, evaluator: Evaluator) -> list[dict[str, Any]]:
        """The indications for the candidate's procedure that are not met, each with the parts of
        its condition that failed. Which parts fail follows from the values of the fields the
        condition reads and the ranges of its counts, so the reason is remembered from candidate to
        candidate and case to case under those (per vocabulary: it is worded in its terms)."""
        assert context.option is not None
        out: list[dict[str, Any]] = []
        kept = self._not_met(vocabulary())
        values = context.values
        for compiled in self._indications_for(context.option.procedure):
            rule = compiled.entry.rule
            fields_read, counts = self._outer_reads[rule.id]
            key = (
                rule.id,
                tuple(values.get(name, UNKNOWN) for name in fields_read),
                tuple(evaluator.count_range(node) for node in counts),
            )
            (found,) = _kept(kept, key, functools.partial(self._why_not_rule, rule, evaluator))
            if found is not None:
                out.append(found)
        return out

    def _why_not_rule(self, rule: Rule, evaluator: Evaluator) -> tuple[dict[str, Any] | None]:
        """The rule's "not met" reason, or None when it is met; in a 1-tuple, so that a store tells
        "met" from "not worked out yet"."""
        unmet = evaluator.unmet(rule.when)
        if not unmet:
            return (None,)
        return (self._reason(rule, "not_met", None, text=self._not_met_text(rule, unmet)),)

    def _indications_for(self, procedure: str) -> list[CompiledRule]:
        """The indication rules that can speak of a procedure, in knowledge order (found once)."""
        found = self._indications.get(procedure)
        if found is None:
            found = self._indications[procedure] = [
                c
                for c in self.policy.rules
                if c.entry.rule.then.indicate and targets_procedure(c.entry.rule.when, procedure)
            ]
        return found

    @staticmethod
    def _guidance(rules: list[Rule]) -> list[str]:
        order: list[str] = []
        for rule in rules:
            change = rule.then.guidance
            assert change is not None
            for modality in change.offer:
                if modality not in order:
                    order.append(modality)
        for rule in rules:
            change = rule.then.guidance
            assert change is not None
            if change.prefer:
                order = [change.prefer] + [m for m in order if m != change.prefer]
        for rule in rules:
            change = rule.then.guidance
            assert change is not None
            if change.avoid and change.avoid in order:
                order = [m for m in order if m != change.avoid] + [change.avoid]
        return order

    def build(
        self,
        case_id: str | None,
        contexts: list[Context],
        firings: set[tuple[str, int]],
        evaluators: list[Evaluator],
    ) -> Report:
        return Report.model_validate(self.fields(case_id, contexts, firings, evaluators))

    def fields(
        self,
        case_id: str | None,
        contexts: list[Context],
        firings: set[tuple[str, int]],
        evaluators: list[Evaluator],
    ) -> dict[str, Any]:
        """The report as plain data: every field of `Report` and of its parts, in the models'
        order, each value already what validation would make it, so `orjson.dumps` of it is the
        report's JSON byte for byte (`Report.model_dump_json`). Batch writes it so: validating a
        report and dumping it again was about a tenth of a case's time. Kept so by
        tests/engine/test_report_fields.py, over the vignettes and generated cases."""
        per_context: dict[int, list[tuple[CompiledRule, str]]] = defaultdict(list)
        for action, ctx in firings:
            per_context[ctx].append(self.by_action[action])
        case_fired = per_context.get(0, [])
        undecided: dict[Any, _Undecided] = {}
        outcomes: list[Outcome] = []
        for context in contexts[1:]:
            outcomes.append(
                self._outcome(
                    context, per_context.get(context.index, []) + case_fired, evaluators[context.index], undecided
                )
            )
        candidates = merged_candidates(outcomes, self.knowledge)
        # The report is validated once, whole, from plain dicts (`build`): validating its parts
        # one by one as they were built was about a third of the verdict's time.
        return {
            "case_id": case_id,
            "knowledge_version": self.knowledge.version,
            "knowledge_hash": self.knowledge.content_hash,
            "policy": self.policy.policy_id,
            "policy_title": self.knowledge.policies[self.policy.policy_id].title,
            "engine_version": self.engine_version,
            "candidates": candidates,
            "contraindications": findings(
                outcomes, self.knowledge, self.texts, per_context, lambda r: r.then.contraindication is not None
            ),
            "warnings": findings(outcomes, self.knowledge, self.texts, per_context, lambda r: r.then.warning),
            "missing_information": self._missing(outcomes, case_fired, evaluators[0]),
            "fired_rules": fired_rules(outcomes, per_context),
            "red_flags": findings(
                outcomes, self.knowledge, self.texts, per_context, lambda r: r.then.red_flag, case_only=True
            ),
            "no_guideline_applies": len(contexts) == 1,
            "no_guideline_reason": no_guideline_reason(contexts),
            "steroid_injections": self._steroid_count(contexts[0], evaluators[0]),
            "ignored_input": [],
        }

    def _steroid_count(self, case_context: Context, evaluator: Evaluator) -> dict[str, Any] | None:
        """All regions together, over the policy's repeat window (the rules limit them region by region)."""
        window = self.params.get("repeat_window_months")
        if window is None or self._steroids is None or case_context.lists.get("prior_injections") is None:
            return None
        low, high = evaluator.count_range(self._steroids)
        uncertain = high - low
        text = f"{low} steroid injection{'s' if low != 1 else ''} in the last {window} months, all regions together"
        if uncertain:
            text += f"; {uncertain} more recorded without a date or without saying whether steroid was given"
        return {"window_months": int(window), "counted": low, "uncertain": uncertain, "text": text + "."}

    def _missing(
        self, outcomes: list[Outcome], case_fired: list[tuple[CompiledRule, str]], case_evaluator: Evaluator
    ) -> list[dict[str, Any]]:  # MissingInformation fields
        """One entry per field to ask, from the first rule (in knowledge order) that needs it."""
        needed: dict[str, CompiledRule] = {}
        about: dict[str, set[str]] = defaultdict(set)

        def need(path: str, compiled: CompiledRule, entries: tuple[str, ...]) -> None:
            if path not in needed or compiled.entry.order < needed[path].entry.order:
                needed[path] = compiled
            about[path].update(entries)

        for compiled, truth in case_fired:
            rule = compiled.entry.rule
            then = rule.then
            if truth == "U" and (then.indicate or then.status or then.red_flag):
                for path in case_evaluator.unknown_fields(rule.when):
                    need(path, compiled, self._entries(case_evaluator, rule, path, "U"))
            for path in then.require if truth == "T" else ():
                need(path, compiled, self._entries(case_evaluator, rule, path, "T"))
        for outcome in outcomes:
            if outcome.relevant:
                for path, compiled, entries in outcome.missing:
                    need(path, compiled, entries)
        return [
            {
                "field": path,
                "why": self.texts[c.entry.rule.id].statement,
                "rule_id": c.entry.rule.id,
                "about": sorted(about[path]),
            }
            for path, c in sorted(needed.items())
        ]
