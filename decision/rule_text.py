"""A rule's words and sources as one policy fills them in: its figures quoted, their sources cited.

Apart from the verdict because the app, the policy comparison and the matrix quote rules too.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

from decision.compile import CompiledPolicy
from knowledge.conditions import ConditionNode, ParamRef, walk
from knowledge.schema import Rule


class _Params(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _format_number(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@dataclass
class RuleText:
    """A rule's words and sources as the active policy fills them in."""

    title: str
    text: str
    statement: str
    sources: list[str]
    recheck: bool


def params_used(rule: Rule) -> set[str]:
    """Policy params a rule compares with or quotes in its words."""
    return {
        name
        for text in (rule.title, rule.statement, rule.then.text)
        for _, name, _, _ in string.Formatter().parse(text)
        if name
    } | _params_in(rule.when)


def rule_text(rule: Rule, policy: CompiledPolicy) -> RuleText:
    values = _Params({name: _format_number(p.value) for name, p in policy.params.items()})
    used = params_used(rule)
    sources = list(rule.sources) + [policy.params[name].source for name in sorted(used) if name in policy.params]
    return RuleText(
        title=rule.title.format_map(values),
        text=rule.then.text.format_map(values),
        statement=" ".join(rule.statement.format_map(values).split()),
        sources=list(dict.fromkeys(sources)),
        recheck=rule.recheck or any(policy.params[n].recheck for n in used if n in policy.params),
    )


def _params_in(node: ConditionNode) -> set[str]:
    found: set[str] = set()
    for part in walk(node):
        value = getattr(part, "value", None)
        if isinstance(value, ParamRef):
            found.add(value.param)
    return found
