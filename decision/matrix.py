"""The condition x procedure matrix, read off the indication rules (never drawn by hand).

A cell lists the indication rules that can make the procedure a candidate for the condition, so
the matrix changes when the knowledge does.
"""

from __future__ import annotations

from dataclasses import dataclass

from decision.compile import CompiledPolicy
from decision.rule_text import rule_text
from knowledge.conditions import AllOf, AnyOf, Compare, ConditionNode, NotOf
from knowledge.loader import Knowledge


@dataclass(frozen=True)
class MatrixCell:
    condition: str
    procedure: str
    rule_ids: tuple[str, ...]
    titles: tuple[str, ...] = ()
    """The rules' titles as the policy words them: what a reader sees instead of the ids."""


def _values(node: ConditionNode, field: str) -> set[str] | None:
    """Values a condition allows for a field (None: it does not constrain the field)."""
    if isinstance(node, Compare) and node.field == field:
        if node.op == "eq":
            return {str(node.value)}
        if node.op == "in" and isinstance(node.value, tuple):
            return {str(v) for v in node.value}
        return None
    if isinstance(node, AllOf):
        found: set[str] | None = None
        for child in node.items:
            allowed = _values(child, field)
            if allowed is not None:
                found = allowed if found is None else found & allowed
        return found
    if isinstance(node, AnyOf):
        parts = [_values(child, field) for child in node.items]
        if any(p is None for p in parts):
            return None
        return set().union(*[p for p in parts if p is not None])
    if isinstance(node, NotOf):
        return None
    return None


def indication_matrix(knowledge: Knowledge, policy_id: str | None = None) -> list[MatrixCell]:
    policy = policy_id or knowledge.manifest.default_policy
    conditions = sorted(knowledge.vocabulary.conditions)
    procedures = sorted(knowledge.vocabulary.procedures)
    cells: dict[tuple[str, str], list[str]] = {(c, p): [] for c in conditions for p in procedures}
    for entry in knowledge.rules_for(policy):
        rule = entry.rule
        if not rule.then.indicate:
            continue
        for condition in sorted(_values(rule.when, "diagnosis.condition") or set(conditions)):
            for procedure in sorted(_values(rule.when, "candidate.procedure") or set(procedures)):
                cells[(condition, procedure)].append(rule.id)
    return [MatrixCell(c, p, tuple(ids)) for (c, p), ids in cells.items()]


def readable_matrix(knowledge: Knowledge, policy: CompiledPolicy) -> list[MatrixCell]:
    """The matrix with each cell's indications as the rules' titles (figures from the policy), so a
    trainee reads "Epidural steroid injection for radicular pain from a herniated disc", not an id."""
    return [
        MatrixCell(
            cell.condition,
            cell.procedure,
            cell.rule_ids,
            tuple(rule_text(knowledge.rule_index[rule_id].rule, policy).title for rule_id in cell.rule_ids),
        )
        for cell in indication_matrix(knowledge, policy.policy_id)
    ]
