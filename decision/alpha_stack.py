"""How deep durable-rules' alpha-node stack can grow while one fact is matched against a ruleset.

durable's C core walks a ruleset's alpha network depth first with a fixed stack of 64 nodes
(MAX_STACK_SIZE in its events.c). Taking a node off the stack, it pushes every child whose test the
fact passes (and every `$or` branch's forward node), and when one more push would not fit, the whole
assert fails with error 303: a valid case could not be evaluated. 16 copies of this knowledge's rules
did it on 6 of 100 generated cases (measured in issue 17); the shipped rulesets reach 55-59 of 64.
So the compiler works out, for each ruleset, the deepest the stack could get for any fact and splits
a ruleset that could overflow (decision.compile): a guarantee from the rules' shape, not from the
cases tried.

The network is rebuilt here as durable builds it: a rule's comparisons, in order, are a path of
nodes from the root, and a node is shared by every rule reaching it with the same comparison. The
bound counts what durable could push, never less, as long as it compares values as measured in
tests/engine/test_alpha_stack.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

DURABLE_ALPHA_STACK = 64
"""The nodes durable's alpha stack holds (MAX_STACK_SIZE, durable-rules 2.0.28); pinned by
tests/engine/test_alpha_stack.py."""

_Test = tuple[str, str, str]
"""(operator, fact key, value's type and repr): one alpha node's comparison."""


class _Node:
    __slots__ = ("children", "forwards")

    def __init__(self) -> None:
        self.children: dict[_Test, _Node] = {}
        self.forwards = 0  # `$or` rules one of whose branches ends here: each pushes a forward node


def _test(atom: Mapping[str, Any]) -> _Test:
    """The comparison's node: durable shares a node only for the same operator, key, and value of
    the same JSON type (1, 1.0, true and "1" are four nodes)."""
    ((name, value),) = atom.items()
    if name.startswith("$"):
        ((key, compared),) = value.items()
        return name, key, _value_id(compared)
    return "$eq", name, _value_id(value)


def _value_id(value: Any) -> str:
    return f"{type(value).__name__}:{value!r}"


def _loose(value_text: str) -> bool:
    """Whether durable may find an equality node's value equal to a fact value of another type: it
    compares numbers, true/false and strings that read as either loosely (measured: the fact 1 meets
    the nodes 1, 1.0, true and "1"); any other string only meets itself."""
    kind, _, shown = value_text.partition(":")
    if kind != "str":
        return True
    text = shown[1:-1].strip().lower()
    if text in ("true", "false"):
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def _branches(match: Mapping[str, Any]) -> Iterator[list[Mapping[str, Any]]]:
    for branch in match.get("$or", (match,)):
        yield list(branch["$and"]) if "$and" in branch else [branch]


def _network(ruleset: Mapping[str, Any]) -> _Node:
    root = _Node()
    for rule in ruleset.values():
        match = rule["all"][0]["m"]
        for branch in _branches(match):
            node = root
            for atom in branch:
                test = _test(atom)
                node = node.children.get(test) or node.children.setdefault(test, _Node())
            if "$or" in match:
                node.forwards += 1
    return root


def _most_pushed(node: _Node) -> int:
    """The most nodes one visit of `node` can push: every comparison child other than equality,
    every forward node, and per fact key the most equality children one value can meet: one of the
    strings that only meet themselves, or else one of values of a single type, or all of values
    that durable may compare across types."""
    exact: dict[str, int] = {}
    loose: dict[str, set[str]] = {}
    loose_count: dict[str, int] = {}
    others = 0
    for op, key, value_text in node.children:
        if op != "$eq":
            others += 1
        elif _loose(value_text):
            loose.setdefault(key, set()).add(value_text.partition(":")[0])
            loose_count[key] = loose_count.get(key, 0) + 1
        else:
            exact[key] = 1
    equal = 0
    for key in exact.keys() | loose.keys():
        kinds = loose.get(key, set())
        meets_loose = 0 if not kinds else 1 if len(kinds) == 1 and "str" not in kinds else loose_count[key]
        equal += max(exact.get(key, 0), meets_loose)
    return equal + others + node.forwards


def _deepest(node: _Node) -> int:
    """The largest the stack can get from the moment `node` is taken off it: its pushes, then the
    last one pushed taken off with the others still waiting below it."""
    pushed = _most_pushed(node)
    if not node.children:
        return pushed
    return max(pushed, pushed - 1 + max(_deepest(child) for child in node.children.values()))


def stack_bound(ruleset: Mapping[str, Any]) -> int:
    """The most alpha nodes durable's stack can hold while any one fact is matched against the
    ruleset (engine rules as decision.compile writes them): an over-estimate, as long as durable
    compares values as measured in tests/engine/test_alpha_stack.py."""
    return max(1, _deepest(_network(ruleset)))


def fact_keys(rule: Mapping[str, Any]) -> set[str]:
    """The fact keys an engine rule compares (its kind key included)."""
    return {_test(atom)[1] for branch in _branches(rule["all"][0]["m"]) for atom in branch}
