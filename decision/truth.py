"""Three-valued evaluation of the condition language in plain Python.

It serves three purposes: counting list items for `count`/`exists`/`none` (the rules engine
matches single facts and cannot count), naming the unknown fields that leave a rule undecided, and
acting as a reference evaluator that tests compare with the durable-rules engine, so a compile
bug or an identifier hash collision in the engine shows up as a disagreement.

Kleene logic: `all` is false if any part is false, true if all are true, else unknown; `any` is
the mirror; `not` swaps true and false and keeps unknown.
"""

from __future__ import annotations

import calendar
import datetime as dt
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from decision.facts import CANDIDATE_PATHS, UNKNOWN, Context, case_path
from knowledge.conditions import AllOf, AnyOf, Compare, ConditionNode, Count, IsUnknown, NotOf, ParamRef, walk

Truth = Literal["T", "F", "U"]
RISK_FIELDS = frozenset({"candidate.bleeding_risk", "candidate.intermediate_or_high_risk", "candidate.high_risk"})
UNBOUNDED = 1_000_000_000
_PER_CONTEXT = object()
"""Marks, in a case's count memo, a count that compares with the candidate (differs per context)."""
"""Stands for "no upper bound" in an item count over a list that was never asked."""


def months_before(day: dt.date, months: int) -> dt.date:
    """The same calendar day `months` earlier, clamped to the month's end (31 Aug - 6 months = 28 Feb)."""
    years, month0 = divmod(day.month - 1 - months, 12)
    year = day.year + years
    month = month0 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def resolve(value: Any, params: Mapping[str, Any]) -> Any:
    return params[value.param] if isinstance(value, ParamRef) else value


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if op == "eq":
        return bool(actual == expected)
    if op == "neq":
        return bool(actual != expected)
    if op == "lt":
        return bool(actual < expected)
    if op == "lte":
        return bool(actual <= expected)
    if op == "gt":
        return bool(actual > expected)
    if op == "gte":
        return bool(actual >= expected)
    if op == "in":
        return actual in expected
    if op == "not_in":
        return actual not in expected
    if op == "contains":
        return expected in actual
    raise ValueError(f"operator {op} is not a plain comparison")


def _combine_all(results: list[Truth]) -> Truth:
    if "F" in results:
        return "F"
    return "U" if "U" in results else "T"


def _combine_any(results: list[Truth]) -> Truth:
    if "T" in results:
        return "T"
    return "U" if "U" in results else "F"


def _count_truth(op: str, low: int, high: int, n: Any) -> Truth:
    """Whether "count op n" holds, knowing only that the count lies in [low, high]."""

    def holds(k: int) -> bool:
        return _compare(op, k, n)

    if low == high:
        return "T" if holds(low) else "F"
    if op in ("gte", "gt"):
        return "T" if holds(low) else ("F" if not holds(high) else "U")
    if op in ("lt", "lte"):
        return "T" if holds(high) else ("F" if not holds(low) else "U")
    # eq: true only when the count is known and equal; false when n lies outside the range
    return "F" if not (low <= n <= high) else "U"


ItemTest = Callable[[Mapping[str, Any], "Evaluator"], Truth]
"""A list filter compiled for one policy: the truth of `where` for one list item, in a context."""

_SWAP: dict[Truth, Truth] = {"T": "F", "F": "T", "U": "U"}
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "neq": operator.ne,
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
    "in": lambda actual, expected: actual in expected,
    "not_in": lambda actual, expected: actual not in expected,
    "contains": lambda actual, expected: expected in actual,
}


def compile_item(node: ConditionNode, params: Mapping[str, Any]) -> ItemTest:
    """`Evaluator.item` for one filter, worked out once per policy: the same answers, without
    dispatching on the node's type and resolving its parameters for every item of every count."""
    if isinstance(node, (AllOf, AnyOf)):
        parts = tuple(compile_item(child, params) for child in node.items)
        decisive: Truth = "F" if isinstance(node, AllOf) else "T"
        other: Truth = "T" if isinstance(node, AllOf) else "F"

        def combined(item: Mapping[str, Any], ev: Evaluator) -> Truth:
            unknown = False
            for part in parts:
                result = part(item, ev)
                if result == decisive:
                    return decisive
                unknown = unknown or result == "U"
            return "U" if unknown else other

        return combined
    if isinstance(node, NotOf):
        inner = compile_item(node.item, params)
        return lambda item, ev: _SWAP[inner(item, ev)]
    if isinstance(node, IsUnknown):
        unknown_field = node.field
        return lambda item, ev: "T" if item.get(unknown_field) is None else "F"
    if not isinstance(node, Compare):
        return lambda item, ev: ev.item(node, item)
    name = node.field
    value = resolve(node.value, params)
    if node.op == "within_months":
        months = int(value)

        def within(item: Mapping[str, Any], ev: Evaluator) -> Truth:
            actual = item.get(name)
            when = ev.context.assessment_date
            if actual is None or when is None:
                return "U"
            return "T" if months_before(when, months) <= actual <= when else "F"

        return within
    if node.op == "same_as":
        target_field = str(node.value)

        def same(item: Mapping[str, Any], ev: Evaluator) -> Truth:
            actual = item.get(name)
            if actual is None:
                return "U"
            target = ev.context.values.get(target_field, UNKNOWN)
            if target is UNKNOWN:
                return "U"
            return "T" if actual == target else "F"

        return same
    test = _OPS.get(node.op)
    if test is None:
        return lambda item, ev: ev.item(node, item)

    def compare(item: Mapping[str, Any], ev: Evaluator) -> Truth:
        actual = item.get(name)
        if actual is None:
            return "U"
        return "T" if test(actual, value) else "F"

    return compare


@dataclass
class SharedMemo:
    """The truths and unknown fields the evaluators of one case's contexts share: those of the nodes
    in `nodes` (ids of conditions that read nothing of the candidate, found at compile time)."""

    nodes: frozenset[int]
    count_targets: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    """id of a count that compares with the candidate -> the context fields it compares with
    (`same_as`): its range in a context follows from their values (`CompiledPolicy.count_targets`)."""
    truths: dict[int, Truth] = field(default_factory=dict)
    fields: dict[int, list[str]] = field(default_factory=dict)
    counts: dict[tuple[Any, ...], tuple[int, int]] = field(default_factory=dict)


class Evaluator:
    """Evaluates conditions in one context under one policy's parameters."""

    def __init__(
        self,
        context: Context,
        params: Mapping[str, Any],
        case_memo: dict[int, Any] | None = None,
        count_kinds: Mapping[int, bool] | None = None,
        count_tests: Mapping[int, ItemTest] | None = None,
        shared: SharedMemo | None = None,
        count_lookups: Mapping[int, tuple[str, Any]] | None = None,
    ) -> None:
        """`case_memo` is shared by the evaluators of one case: a count whose filter never compares
        with the candidate is the same in every context, so it is worked out once per case.
        `count_kinds` (id of a compiled count -> whether it compares with the candidate) is worked
        out once at compile time. Given it, the evaluator also remembers each condition's truth:
        its context must then no longer change (the verdict asks the same parts again and again).
        `count_tests` (id of a filter -> `compile_item` of it) are the policy's compiled filters.
        `shared` is shared by the evaluators of one case too: a condition that reads nothing of the
        candidate comes out the same in every context, so its truth and unknown fields are worked out
        once per case (the verdict asks them of every candidate)."""
        self.context = context
        self.params = params
        self._case_memo: dict[int, Any] = {} if case_memo is None else case_memo
        self._own: dict[int, tuple[int, int]] = {}
        self._kinds: Mapping[int, bool] = count_kinds or {}
        self._truths: dict[int, Truth] | None = None if count_kinds is None else {}
        self._fields: dict[int, list[str]] | None = None if count_kinds is None else {}
        self._tests: Mapping[int, ItemTest] = count_tests or {}
        self._shared = shared if self._truths is not None else None
        self._lookups: Mapping[int, tuple[str, Any]] = count_lookups or {}

    # -- items of a case list -------------------------------------------------------------
    def item(self, node: ConditionNode, item: Mapping[str, Any]) -> Truth:
        if isinstance(node, AllOf):
            return _combine_all([self.item(child, item) for child in node.items])
        if isinstance(node, AnyOf):
            return _combine_any([self.item(child, item) for child in node.items])
        if isinstance(node, NotOf):
            inner = self.item(node.item, item)
            return {"T": "F", "F": "T", "U": "U"}[inner]  # type: ignore[return-value]
        if isinstance(node, IsUnknown):
            return "T" if item.get(node.field) is None else "F"
        assert isinstance(node, Compare)
        actual = item.get(node.field)
        if actual is None:
            return "U"
        if node.op == "within_months":
            when = self.context.assessment_date
            if when is None:
                return "U"
            start = months_before(when, int(resolve(node.value, self.params)))
            return "T" if start <= actual <= when else "F"
        if node.op == "same_as":
            target = self.context.values.get(str(node.value), UNKNOWN)
            if target is UNKNOWN:
                return "U"
            return "T" if actual == target else "F"
        return "T" if _compare(node.op, actual, resolve(node.value, self.params)) else "F"

    def count_range(self, node: Count) -> tuple[int, int]:
        """How many items surely match, and how many might (unknown fields counted as may-match)."""
        key = id(node)  # nodes belong to the loaded knowledge, alive for the whole case
        per_context = self._kinds.get(key)
        if per_context is not None:
            if per_context:
                found = self._by_targets(node)
                if found is not None:
                    return found
            memo = self._own if per_context else self._case_memo
            found = memo.get(key)
            if found is None:
                found = memo[key] = self._count(node)
            return found
        shared = self._case_memo.get(key)
        if shared is _PER_CONTEXT:
            if key not in self._own:
                self._own[key] = self._count(node)
            return self._own[key]
        if shared is not None:
            return shared  # type: ignore[no-any-return]
        result = self._count(node)
        if compares_with_candidate(node):
            self._case_memo[key] = _PER_CONTEXT
            self._own[key] = result
        else:
            self._case_memo[key] = result
        return result

    def _by_targets(self, node: Count) -> tuple[int, int] | None:
        """A count that compares with the candidate, worked out once per case for each set of
        values of the context fields it compares with (`SharedMemo.count_targets`): the rest of
        what it reads (the list, the policy's parameters, the assessment date) is the same in
        every context of the case, and a case's candidates mostly share those values (a region, a
        procedure), so it need not be counted again for each. None: not shared (no SharedMemo, or
        a value that cannot be a key); the caller counts it."""
        shared = self._shared
        targets = None if shared is None else shared.count_targets.get(id(node))
        if shared is None or targets is None:
            return None
        values = self.context.values
        key = (id(node), *[values.get(name, UNKNOWN) for name in targets])
        try:
            found = shared.counts.get(key)
        except TypeError:  # a value that cannot be a key
            return None
        if found is None:
            found = shared.counts[key] = self._count(node)
        return found

    def case_count_ranges(self, list_name: str, nodes: Sequence[Count]) -> list[tuple[int, int]]:
        """`count_range` of each of the counts over one list, in one pass, for counts that are the
        same in every context of the case (compiled so: `count_kinds` False). A case has some 80
        of them, most over a list that is unknown or empty, and calling `count_range` for each was
        most of their cost. Kept as `count_range` keeps them, for the verdict."""
        items = self.context.lists.get(list_name)
        ranges: list[tuple[int, int]]
        if items is None:
            ranges = [(0, UNBOUNDED)] * len(nodes)
        elif not items:
            ranges = [(0, 0)] * len(nodes)
        else:
            memo, kinds, lookups = self._case_memo, self._kinds, self._lookups
            indexes: dict[tuple[str, str], tuple[dict[Any, list[Mapping[str, Any]]], list[Mapping[str, Any]]]] = {}
            ranges = []
            for node in nodes:
                key = id(node)
                found = memo.get(key)
                if found is None:
                    if kinds.get(key) is not False:  # an evaluator without the compiled count kinds
                        found = self.count_range(node)
                    elif node.where is None:
                        found = (len(items), len(items))
                    elif key in lookups:
                        found = self._count_looked_up(node, items, lookups[key], indexes)
                    else:
                        found = self._count(node)
                ranges.append(found)
        self._case_memo.update(zip(map(id, nodes), ranges, strict=True))
        return ranges

    def _count_looked_up(
        self,
        node: Count,
        items: Sequence[Mapping[str, Any]],
        lookup: tuple[str, Any],
        indexes: dict[tuple[str, str], tuple[dict[Any, list[Mapping[str, Any]]], list[Mapping[str, Any]]]],
    ) -> tuple[int, int]:
        """`_count` testing only the items whose field (`lookup`, `lookup_of`) equals the value or
        is unknown: the hold rules' 70-odd counts over the medication list each name one drug, and
        testing every entry for each was most of a case's counting. The list is indexed by that
        field once per case."""
        field_name, value = lookup
        index = indexes.get((node.list, field_name))
        if index is None:
            by_value: dict[Any, list[Mapping[str, Any]]] = {}
            always: list[Mapping[str, Any]] = []  # unknown, or a value no index can hold
            for item in items:
                actual = item.get(field_name)
                if actual is None:
                    always.append(item)
                    continue
                try:
                    by_value.setdefault(actual, []).append(item)
                except TypeError:  # unhashable
                    always.append(item)
            index = indexes[(node.list, field_name)] = (by_value, always)
        by_value, always = index
        named = by_value.get(value)
        if named is None and not always:
            return 0, 0  # no entry names the drug, none leaves its name unknown: most counts of most cases
        assert node.where is not None
        return self._tally(node.where, (*(named or ()), *always))

    def _count(self, node: Count) -> tuple[int, int]:
        items = self.context.lists.get(node.list)
        if items is None:
            return 0, UNBOUNDED
        if node.where is None:
            return len(items), len(items)
        return self._tally(node.where, items)

    def _tally(self, where: ConditionNode, items: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
        """How many of `items` surely pass the filter, and how many might (unknown fields)."""
        test = self._tests.get(id(where))
        low = high = 0
        for item in items:
            result = self.item(where, item) if test is None else test(item, self)
            if result == "T":
                low += 1
                high += 1
            elif result == "U":
                high += 1
        return low, high

    # -- the whole condition -----------------------------------------------------------------
    def truth(self, node: ConditionNode) -> Truth:
        shared = self._shared
        if shared is not None and id(node) in shared.nodes:
            return _memoised(shared.truths, node, self._truth)
        return _memoised(self._truths, node, self._truth)

    def _truth(self, node: ConditionNode) -> Truth:
        if isinstance(node, AllOf):
            return _combine_all([self.truth(child) for child in node.items])
        if isinstance(node, AnyOf):
            return _combine_any([self.truth(child) for child in node.items])
        if isinstance(node, NotOf):
            inner = self.truth(node.item)
            return {"T": "F", "F": "T", "U": "U"}[inner]  # type: ignore[return-value]
        if isinstance(node, IsUnknown):
            return "T" if self.context.values.get(node.field, UNKNOWN) is UNKNOWN else "F"
        if isinstance(node, Count):
            low, high = self.count_range(node)
            return _count_truth(node.op, low, high, resolve(node.value, self.params))
        assert isinstance(node, Compare)
        actual = self.context.values.get(node.field, UNKNOWN)
        if actual is UNKNOWN:
            return "U"
        return "T" if _compare(node.op, actual, resolve(node.value, self.params)) else "F"

    # -- explanations ------------------------------------------------------------------------
    def unknown_fields(self, node: ConditionNode) -> list[str]:
        """The case fields whose answers would decide an unknown condition."""
        shared = self._shared
        memo = shared.fields if shared is not None and id(node) in shared.nodes else self._fields
        found: list[str] = _memoised(memo, node, self._unknown_fields)
        return list(found)

    def _unknown_fields(self, node: ConditionNode) -> list[str]:
        if self.truth(node) != "U":
            return []
        if isinstance(node, (AllOf, AnyOf)):
            return [f for child in node.items for f in self.unknown_fields(child)]
        if isinstance(node, NotOf):
            return self.unknown_fields(node.item)
        if isinstance(node, Count):
            items = self.context.lists.get(node.list)
            if items is None:
                return [node.list]
            found: list[str] = []
            for item in items:
                if node.where is not None and self.item(node.where, item) == "U":
                    found.extend(self._unknown_item_fields(node.list, node.where, item))
            return found
        assert isinstance(node, Compare)
        if node.field in RISK_FIELDS and self.context.risk_questions:
            return list(self.context.risk_questions)
        return [case_path(node.field)]

    def _unknown_item_fields(self, list_name: str, node: ConditionNode, item: Mapping[str, Any]) -> list[str]:
        if self.item(node, item) != "U":
            return []
        if isinstance(node, (AllOf, AnyOf)):
            return [f for child in node.items for f in self._unknown_item_fields(list_name, child, item)]
        if isinstance(node, NotOf):
            return self._unknown_item_fields(list_name, node.item, item)
        assert isinstance(node, Compare)
        if item.get(node.field) is None:
            return [case_path(f"{list_name}.{node.field}")]
        if node.op == "same_as":
            return [case_path(str(node.value))]
        return ["assessment_date"]

    def unmet(self, node: ConditionNode) -> list[ConditionNode]:
        """The parts of a false condition that made it false (for "why not")."""
        if self.truth(node) != "F":
            return []
        if isinstance(node, AllOf):
            return [n for child in node.items for n in self.unmet(child)]
        if isinstance(node, AnyOf):
            return [node]
        return [node]


_Found = TypeVar("_Found")


def _memoised(
    memo: dict[int, _Found] | None, node: ConditionNode, compute: Callable[[ConditionNode], _Found]
) -> _Found:
    """`compute(node)`, remembered by the node's identity when the evaluator remembers (`memo` not
    None): the knowledge's nodes live as long as the evaluator, and the verdict asks the same
    parts again and again."""
    if memo is None:
        return compute(node)
    key = id(node)
    found = memo.get(key)
    if found is None:
        found = memo[key] = compute(node)
    return found


def dedupe(paths: list[str]) -> list[str]:
    return sorted(set(paths))


def compares_with_candidate(node: Count) -> bool:
    """Whether a count's filter compares an entry with the candidate (`same_as`): such a count
    differs from context to context; any other is the same in every context of a case."""
    return bool(same_as_targets(node))


def same_as_targets(node: Count) -> tuple[str, ...]:
    """The context fields a count's filter compares entries with (`same_as`), sorted."""
    if node.where is None:
        return ()
    found = {str(part.value) for part in walk(node.where) if isinstance(part, Compare) and part.op == "same_as"}
    return tuple(sorted(found))


def candidate_fields(node: ConditionNode) -> tuple[str, ...] | None:
    """The candidate and diagnosis fields a rule's condition reads, or None when a count's filter
    compares with the candidate (`same_as`).

    Every candidate's context holds the case's own fields and lists unchanged (decision.contexts),
    so the rest of the condition comes out the same in each of them: whether the rule is undecided,
    for which fields, and which list entries concern them, follow from these fields' values (and the
    bleeding-risk questions, when it reads the risk class) in the candidate's context."""
    found: set[str] = set()
    for part in walk(node):
        if isinstance(part, Count):
            if compares_with_candidate(part):
                return None
        elif isinstance(part, (Compare, IsUnknown)) and part.field.startswith(CANDIDATE_PATHS):
            found.add(part.field)
    return tuple(sorted(found))
