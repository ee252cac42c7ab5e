"""A case's engine facts: each context's values and count ranges under the keys the rules read.

What is the same in every context of a case (its own fields, the counts that do not compare with
the candidate) is worked out and held once per case (`CaseFacts.common`); decision.engine narrows
it once per ruleset and splices it into each context's fact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from decision.compile import MISSING, CompiledPolicy
from decision.facts import UNKNOWN, Context
from decision.truth import Evaluator
from knowledge.conditions import Count


@dataclass(frozen=True)
class CaseFacts:
    """One case's engine facts. `common`: the keys whose values are the same in every context's
    fact (the case's own fields, the counts that do not compare with the candidate), held once;
    `facts`: each context's own keys, with its kind `k` and number `ctx`. A context's whole fact
    is `{**common, **fact}`; the engine narrows `common` once per ruleset rather than per context
    (copying it into every fact and narrowing every copy was a tenth of a case's time)."""

    common: dict[str, Any]
    facts: list[dict[str, Any]]

    def whole(self) -> list[dict[str, Any]]:
        """Each context's whole fact, every key its rules read."""
        return [{**self.common, **fact} for fact in self.facts]


def engine_fact(context: Context, policy: CompiledPolicy, evaluator: Evaluator) -> dict[str, Any]:
    """One context's whole engine fact: exactly the keys the policy's rules read, unknowns written
    as MISSING."""
    return engine_facts([context], policy, [evaluator]).whole()[0]


def _fact_values(fact: dict[str, Any], values: dict[str, Any], plan: tuple[tuple[str, str, str], ...]) -> None:
    for key, path, member in plan:
        value = values.get(path, UNKNOWN)
        if value is UNKNOWN:
            fact[key] = MISSING
        elif member:
            fact[key] = member in value
        else:
            fact[key] = value


def _fact_counts(fact: dict[str, Any], counts: tuple[tuple[Count, str, str, str], ...], evaluator: Evaluator) -> None:
    for node, low_key, high_key, span_key in counts:
        low, high = evaluator.count_range(node)
        fact[low_key] = low
        fact[high_key] = high
        fact[span_key] = high - low


def _case_fact_counts(fact: dict[str, Any], policy: CompiledPolicy, evaluator: Evaluator) -> None:
    """`_fact_counts` for the counts worked out once per case, a list at a time (`case_count_ranges`)."""
    for list_name, nodes, keys in policy.case_count_groups:
        for (low_key, high_key, span_key), (low, high) in zip(
            keys, evaluator.case_count_ranges(list_name, nodes), strict=True
        ):
            fact[low_key] = low
            fact[high_key] = high
            fact[span_key] = high - low


def _context_fact_counts(
    fact: dict[str, Any],
    policy: CompiledPolicy,
    context: Context,
    evaluator: Evaluator,
    worked_out: dict[tuple[Any, ...], dict[str, Any]],
) -> None:
    """`_fact_counts` for the counts that compare with the candidate, a group at a time
    (`CompiledPolicy.context_count_groups`): a group's part of the fact follows from the values of
    the context fields its counts compare with (the list, the parameters and the assessment date
    are the case's), so contexts of the case that hold the same values share it (`worked_out`)
    rather than asking each count in each context (a vignette case's facts: 89 -> 80 µs)."""
    values = context.values
    for number, (targets, counts) in enumerate(policy.context_count_groups):
        key = (number, *[values.get(name, UNKNOWN) for name in targets])
        try:
            part = worked_out.get(key)
            shared = True
        except TypeError:  # a value that cannot be a key
            part, shared = None, False
        if part is None:
            part = {}
            _fact_counts(part, counts, evaluator)
            if shared:
                worked_out[key] = part
        fact.update(part)


def engine_facts(contexts: list[Context], policy: CompiledPolicy, evaluators: list[Evaluator]) -> CaseFacts:
    """The engine facts of a case's contexts (`engine_fact` for each is `{**common, **fact}`), with
    what is the same in every context (the case's own fields, the counts that do not compare with
    the candidate) worked out and held once per case rather than once per context."""
    common: dict[str, Any] = {}
    _fact_values(common, contexts[0].values, policy.case_plan)
    _case_fact_counts(common, policy, evaluators[0])
    facts = []
    worked_out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for context, evaluator in zip(contexts, evaluators, strict=True):
        fact: dict[str, Any] = {"k": context.kind, "ctx": context.index}
        _fact_values(fact, context.values, policy.candidate_plan)
        _context_fact_counts(fact, policy, context, evaluator, worked_out)
        facts.append(fact)
    return CaseFacts(common, facts)
