"""The parts of a report put together from the candidates' outcomes: the merged candidates, the
findings, the rules that fired, and why no guideline applies.

Apart from decision.verdict, which works out each candidate's outcome from what fired.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from decision.compile import CompiledRule, speaks_unweighed
from decision.facts import Context
from decision.report import Status, status_rank
from decision.rule_text import RuleText
from knowledge.loader import Knowledge


@dataclass
class Outcome:
    """What happened to one candidate context."""

    context: Context
    status: Status
    reasons: list[dict[str, Any]]  # Reason fields
    guidance: list[str]
    relevant: bool  # weighed for real: an indication was met or undecided
    missing: list[tuple[str, CompiledRule, tuple[str, ...]]] = field(default_factory=list)
    plans: list[dict[str, Any]] = field(default_factory=list)  # HoldPlanStep fields


def fired_rules(outcomes: list[Outcome], per_context: dict[int, list[tuple[CompiledRule, str]]]) -> list[str]:
    """Rules met for the whole case, for candidates really weighed, or that ruled a candidate out."""
    fired = {c.entry.rule.id for c, t in per_context.get(0, []) if t == "T"}
    for outcome in outcomes:
        for compiled, truth in per_context.get(outcome.context.index, []):
            rule = compiled.entry.rule
            if truth == "T" and (outcome.relevant or speaks_unweighed(rule)):
                fired.add(rule.id)
    return sorted(fired)


def merged_candidates(outcomes: list[Outcome], knowledge: Knowledge) -> list[dict[str, Any]]:
    """One candidate per (procedure, approach, region): the best-supported diagnosis speaks for it."""
    groups: dict[Any, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[outcome.context.key].append(outcome)
    merged: list[dict[str, Any]] = []  # ReportCandidate fields
    for key, group in groups.items():
        best = min(group, key=lambda o: (status_rank(o.status), o.context.index))
        levels = sorted({lvl for o in group if o.status == best.status for lvl in o.context.levels})
        merged.append(
            {
                "procedure": key.procedure,
                "approach": key.approach,
                "region": key.region,
                "levels": levels,
                "bleeding_risk": _known(best.context.values.get("candidate.bleeding_risk")),
                "guidance": best.guidance,
                "status": best.status,
                "reasons": best.reasons,
                "antithrombotic_plan": best.plans,
            }
        )
    position = {(o.procedure, o.approach): i for i, o in enumerate(knowledge.options)}
    merged.sort(
        key=lambda c: (
            status_rank(c["status"]),
            position.get((c["procedure"], c["approach"]), 0),
            c["region"] or "",
        )
    )
    return merged


def findings(
    outcomes: list[Outcome],
    knowledge: Knowledge,
    texts: Mapping[str, RuleText],
    per_context: dict[int, list[tuple[CompiledRule, str]]],
    select: Any,
    case_only: bool = False,
) -> list[dict[str, Any]]:  # Finding fields
    found: dict[str, set[str]] = {}
    for compiled, truth in per_context.get(0, []):
        if truth == "T" and select(compiled.entry.rule):
            found.setdefault(compiled.entry.rule.id, set())
    for outcome in outcomes:
        if not outcome.relevant or case_only or outcome.context.key is None:
            continue
        for compiled, truth in per_context.get(outcome.context.index, []):
            if truth == "T" and select(compiled.entry.rule):
                found.setdefault(compiled.entry.rule.id, set()).add(outcome.context.key.label())
    out: list[dict[str, Any]] = []
    for rule_id, keys in sorted(found.items()):
        rule = knowledge.rule_index[rule_id].rule
        words = texts[rule_id]
        out.append(
            {
                "rule_id": rule_id,
                "text": words.text,
                "sources": words.sources,
                "severity": rule.then.contraindication,
                "candidates": sorted(keys),
                "recheck": words.recheck,
            }
        )
    return out


def no_guideline_reason(contexts: list[Context]) -> str | None:
    if len(contexts) > 1:
        return None
    if contexts[0].lists.get("diagnoses") is None:
        return "No diagnosis was given, so no guideline in the knowledge can be applied; record the working diagnosis."
    return (
        "No diagnosis within the knowledge's scope (with a region its procedures are considered for) "
        "was given, so no guideline applies."
    )


def _known(value: Any) -> str | None:
    return value if isinstance(value, str) else None
