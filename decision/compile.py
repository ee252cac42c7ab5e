"""Knowledge rules to durable-rules rulesets, one per policy profile, built once per process.

Each knowledge rule becomes up to two engine actions over a single fact: one that fires when its
condition is met (T) and one that fires when the case leaves it undecided (U), so that an
unknown answer is reported, never read as "no". Counts over case lists are worked out before the
engine runs (it matches facts, it does not count) and reach it as `q<n>.min`/`q<n>.max` fields.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
from dataclasses import dataclass, field
from typing import Any

from decision.alpha_stack import DURABLE_ALPHA_STACK, fact_keys, stack_bound
from decision.case import using_vocabulary
from decision.facts import CANDIDATE_PATHS
from decision.fields import check_rules
from decision.truth import ItemTest, compares_with_candidate, compile_item, same_as_targets
from knowledge.conditions import AllOf, AnyOf, Compare, ConditionNode, Count, IsUnknown, NotOf, ParamRef
from knowledge.loader import Knowledge, KnowledgeError, RuleEntry
from knowledge.schema import PolicyParam, Rule

MISSING = "?"
"""How an unknown value is written in an engine fact (never a valid value of any field)."""

Atom = tuple[str, str, Any]
"""(operator, fact key, value): one comparison the engine makes on a fact."""
Conj = tuple[Atom, ...]
Dnf = list[Conj]
"""A condition as alternatives of conjunctions; [] never holds, [()] always holds."""

SEEN_ACTION = "seen"
MAX_RULES_PER_RULESET = 3000
"""durable-rules holds at most 4096 actions per ruleset (ERR_RULE_LIMIT_EXCEEDED, code 106);
larger knowledge is split into several rulesets, each asserted with the same facts."""
MAX_FACT_KEYS = 60
"""Fact keys per ruleset. durable-rules stores at most 255 properties per fact (MAX_OBJECT_PROPERTIES
in its state.h) and writes past its table beyond that (a segmentation fault, measured), so rules are
packed into rulesets whose facts stay well under it; and since every firing hands the action the
whole fact as JSON, narrower facts are also faster (measured: 60 keys ~18 ms per case against ~22 ms
for one 220-key ruleset on the bench mix)."""
MAX_BRANCHES = 12
"""Conjunctions per engine rule (as `$or` branches). durable-rules records two expression entries per
`$and` branch and two for the `$or` in a rule node of at most 32 (ERR_EXPRESSION_LIMIT_EXCEEDED, 113):
14 branches is its limit, measured and pinned in tests/engine/test_engine_pitfalls.py."""
MAX_CONJUNCTIONS = 256
MAX_ATOMS = 24
BUILD_LIMIT = 16 * MAX_CONJUNCTIONS
"""While a condition is multiplied out, the alternatives it may reach before absorption prunes them;
past it the rule is refused at once (twenty two-way choices would otherwise build a million)."""
"""Every condition is flattened into conjunctions of engine comparisons (at most MAX_CONJUNCTIONS of
at most MAX_ATOMS each), registered MAX_BRANCHES to an engine rule."""

_NEGATE = {"lt": "gte", "lte": "gt", "gt": "lte", "gte": "lt"}
_ruleset_serial = itertools.count(1)


@dataclass(frozen=True)
class CompiledRule:
    entry: RuleEntry
    action_true: str | None
    action_unknown: str | None


@dataclass(frozen=True)
class CompiledPolicy:
    policy_id: str
    rulesets: dict[str, dict[str, Any]]
    """Ruleset name -> engine rules; one ruleset unless the rules exceed MAX_RULES_PER_RULESET."""
    rules: tuple[CompiledRule, ...]
    counts: tuple[Count, ...]
    fact_keys: tuple[str, ...]
    params: dict[str, PolicyParam]
    ruleset_keys: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Ruleset name -> the fact keys its rules read: each ruleset gets only those (see MAX_FACT_KEYS)."""
    case_plan: tuple[tuple[str, str, str], ...] = ()
    """(fact key, context path, list member) of the keys that are the same in every context of a case."""
    candidate_plan: tuple[tuple[str, str, str], ...] = ()
    """The same for the keys that differ from candidate to candidate (candidate.*, diagnosis.*)."""
    count_kinds: dict[int, bool] = field(default_factory=dict)
    """id of each count node -> whether its filter compares with the candidate (then it is counted
    per context; otherwise once per case)."""
    count_tests: dict[int, ItemTest] = field(default_factory=dict)
    """id of each count's filter -> the filter compiled under this policy's parameters."""
    case_counts: tuple[tuple[Count, str, str, str], ...] = ()
    """(count, its three fact keys) for the counts worked out once per case."""
    case_keys: frozenset[str] = frozenset()
    """The fact keys of `CaseFacts.common`: those of `case_plan` and `case_counts`."""
    count_lookups: dict[int, tuple[str, Any]] = field(default_factory=dict)
    """id of a count -> (item field, value) when its filter holds only for items whose field equals
    the value or is unknown (`lookup_of`): such a count tests only those items."""
    case_count_groups: tuple[tuple[str, tuple[Count, ...], tuple[tuple[str, str, str], ...]], ...] = ()
    """The counts of `case_counts` by the list they count: (list, counts, their three fact keys)."""
    context_counts: tuple[tuple[Count, str, str, str], ...] = ()
    """The same for the counts that compare with the candidate (worked out per context)."""
    context_count_groups: tuple[tuple[tuple[str, ...], tuple[tuple[Count, str, str, str], ...]], ...] = ()
    """`context_counts` by the context fields they compare with (`same_as_targets`): (those
    fields, the counts with their three fact keys). A case's contexts that hold the same values
    of those fields get the same part of their fact (decision.case_facts)."""
    count_targets: dict[int, tuple[str, ...]] = field(default_factory=dict)
    """id of a count that compares with the candidate -> the context fields its filter compares
    entries with (`same_as`), sorted: see `SharedMemo.count_targets`."""
    case_nodes: frozenset[int] = frozenset()
    """ids of the rules' condition nodes that read nothing of the candidate: their truth is the same
    in every context of a case (decision.truth.SharedMemo)."""
    first_rulesets: frozenset[str] = frozenset()
    """The rulesets run first, over every context: those of the rules that decide whether a
    candidate is weighed at all or still speak for one that is not (`weighs_candidate`,
    `speaks_unweighed`). The other rulesets get the case's fact and only the candidates' facts
    that an opening action fired for (`opening_actions`; decision.engine)."""
    opening_actions: frozenset[str] = frozenset()
    """The engine actions that make a candidate weighed: an indication met or left undecided. One
    firing for the case's own fact opens every candidate."""

    @property
    def engine_rule_count(self) -> int:
        return sum(len(chunk) for chunk in self.rulesets.values())

    def param_values(self) -> dict[str, Any]:
        return {name: p.value for name, p in self.params.items()}


def _consistent(atoms: Conj) -> bool:
    """False when the conjunction can never hold (k = 1 and k = 2; k = ? and k != ?; 3 <= k < 3)."""
    equal: dict[str, Any] = {}
    for op, key, value in atoms:
        if op == "eq":
            if key in equal and equal[key] != value:
                return False
            equal[key] = value
    for op, key, value in atoms:
        if key not in equal:
            continue
        known = equal[key]
        if op == "neq" and known == value:
            return False
        if op in _NEGATE and (known == MISSING or isinstance(known, (bool, str))):
            return False
        if op in _NEGATE and isinstance(known, (int, float)) and isinstance(value, (int, float)):
            holds = {"lt": known < value, "lte": known <= value, "gt": known > value, "gte": known >= value}[op]
            if not holds:
                return False
    low: dict[str, tuple[float, bool]] = {}
    high: dict[str, tuple[float, bool]] = {}
    for op, key, value in atoms:
        if op in ("gt", "gte") and isinstance(value, (int, float)) and not isinstance(value, bool):
            bound = (float(value), op == "gt")
            if key not in low or bound > low[key]:
                low[key] = bound
        if op in ("lt", "lte") and isinstance(value, (int, float)) and not isinstance(value, bool):
            bound = (float(value), op == "lt")
            if key not in high or (bound[0], not bound[1]) < (high[key][0], not high[key][1]):
                high[key] = bound
    for key in low.keys() & high.keys():
        (lo, lo_strict), (hi, hi_strict) = low[key], high[key]
        if lo > hi or (lo == hi and (lo_strict or hi_strict)):
            return False
    return True


@functools.lru_cache(maxsize=65536)
def _typed_rank(atom: Atom, kind: str) -> str:
    return repr(atom)


def _atom_rank(atom: Atom) -> str:
    """An atom's place in the canonical order of a conjunction: its repr, worked out once per atom
    (sorting by repr was a fifth of the knowledge's compile time), remembered apart for values equal
    across types (1, 1.0, True) so that the order never depends on which was compiled first."""
    return _typed_rank(atom, type(atom[2]).__name__)


def _conj(atoms: list[Atom]) -> Conj:
    return tuple(sorted(set(atoms), key=_atom_rank))


class _TooComplex(Exception):
    """A condition's alternatives outgrew the build limit while they were being multiplied out."""


def _and(*parts: Dnf) -> Dnf:
    result: Dnf = [()]
    for part in parts:
        if len(result) * len(part) > BUILD_LIMIT:  # checked before multiplying, not after
            raise _TooComplex(len(result) * len(part))
        result = [_conj([*a, *b]) for a in result for b in part]
        result = [c for c in dict.fromkeys(result) if _consistent(c)]
    return _absorb(result)


def _or(*parts: Dnf) -> Dnf:
    return _absorb([c for part in parts for c in part])


def _absorb(dnf: Dnf) -> Dnf:
    """Drop duplicates and any conjunction that a shorter one already covers."""
    unique = list(dict.fromkeys(dnf))
    keep: Dnf = []
    for conj in sorted(unique, key=len):
        if not any(set(kept) <= set(conj) for kept in keep):
            keep.append(conj)
    return keep


def _atom_json(atom: Atom) -> dict[str, Any]:
    op, key, value = atom
    return {key: value} if op == "eq" else {f"${op}": {key: value}}


def _engine_match(kind: str, alternatives: Dnf) -> dict[str, Any]:
    """One engine rule's match over a single fact: the fact's kind and one conjunction, or several
    conjunctions as `$or` branches (one engine rule for them all: durable-rules sets up every rule's
    join state in each new session, which was most of the engine's time per case; measured in
    issue 17). A fact meeting two branches fires the rule twice; the engine collects firings as a
    set, so that changes nothing."""
    branches = [{"$and": [{"k": kind}, *[_atom_json(a) for a in conj]]} for conj in alternatives]
    return branches[0] if len(branches) == 1 else {"$or": branches}


class _Translator:
    """T/F/U forms of one condition, under one policy's parameters, as conjunction lists."""

    def __init__(self, params: dict[str, Any], counts: list[Count], keys: set[str]) -> None:
        self.params = params
        self.counts = counts
        self.keys = keys
        self.count_index: dict[Count, int] = {}

    def _count_index(self, node: Count) -> int:
        """The count's position among those compiled so far (an equal count shares its fact keys);
        looked up by hash: comparing each new count with every earlier one took most of the
        compile time."""
        try:
            found = self.count_index.get(node)
        except TypeError:  # a count that cannot be hashed is compared one by one
            found = self.counts.index(node) if node in self.counts else None
        if found is None:
            found = len(self.counts)
            self.counts.append(node)
            with contextlib.suppress(TypeError):
                self.count_index[node] = found
        return found

    def _value(self, value: Any) -> Any:
        return self.params[value.param] if isinstance(value, ParamRef) else value

    def _known(self, key: str) -> Atom:
        return ("neq", key, MISSING)

    def leaf(self, node: Compare, want: str) -> Dnf:
        key = node.field
        value = self._value(node.value)
        if node.op == "contains":
            key = f"{node.field}:{value}"
            self.keys.add(key)
            return [(("eq", key, {"T": True, "F": False, "U": MISSING}[want]),)]
        self.keys.add(key)
        if want == "U":
            return [(("eq", key, MISSING),)]
        op: str = node.op
        if want == "F":
            op = {"eq": "neq", "neq": "eq", "in": "not_in", "not_in": "in"}.get(op, _NEGATE.get(op, op))
        if op == "eq":
            return [(("eq", key, value),)]
        if op == "neq":
            return [_conj([self._known(key), ("neq", key, value)])]
        if op == "in":
            return [(("eq", key, v),) for v in value]
        if op == "not_in":
            return [_conj([self._known(key)] + [("neq", key, v) for v in value])]
        return [_conj([self._known(key), (op, key, value)])]

    def count(self, node: Count, want: str) -> Dnf:
        index = self._count_index(node)
        low, high, span = f"q{index}.min", f"q{index}.max", f"q{index}.span"
        self.keys.update((low, high, span))
        n = self._value(node.value)
        table: dict[str, dict[str, Dnf]] = {
            "gte": {
                "T": [(("gte", low, n),)],
                "F": [(("lt", high, n),)],
                "U": [_conj([("lt", low, n), ("gte", high, n)])],
            },
            "gt": {
                "T": [(("gt", low, n),)],
                "F": [(("lte", high, n),)],
                "U": [_conj([("lte", low, n), ("gt", high, n)])],
            },
            "lt": {
                "T": [(("lt", high, n),)],
                "F": [(("gte", low, n),)],
                "U": [_conj([("lt", low, n), ("gte", high, n)])],
            },
            "lte": {
                "T": [(("lte", high, n),)],
                "F": [(("gt", low, n),)],
                "U": [_conj([("lte", low, n), ("gt", high, n)])],
            },
            "eq": {
                "T": [_conj([("eq", low, n), ("eq", high, n)])],
                "F": [(("gt", low, n),), (("lt", high, n),)],
                "U": [_conj([("lte", low, n), ("gte", high, n), ("gt", span, 0)])],
            },
        }
        return table[node.op][want]

    def dnf(self, node: ConditionNode, want: str) -> Dnf:
        """Conjunctions of engine comparisons, one of which holds exactly when `node` is `want`."""
        if isinstance(node, Compare):
            return self.leaf(node, want)
        if isinstance(node, IsUnknown):
            self.keys.add(node.field)
            forms: dict[str, Dnf] = {"T": [(("eq", node.field, MISSING),)], "F": [(self._known(node.field),)], "U": []}
            return forms[want]
        if isinstance(node, Count):
            return self.count(node, want)
        if isinstance(node, NotOf):
            return self.dnf(node.item, {"T": "F", "F": "T", "U": "U"}[want])
        assert isinstance(node, (AllOf, AnyOf))
        items = node.items
        strong, weak = ("F", "T") if isinstance(node, AllOf) else ("T", "F")
        if want == weak:  # all: every part true; any: every part false
            return _and(*[self.dnf(i, weak) for i in items])
        if want == strong:  # all: some part false; any: some part true
            return _or(*[self.dnf(i, strong) for i in items])
        # unknown: no part decides it, and some part is unknown
        unknowns = [self.dnf(i, "U") for i in items]
        not_deciding = [_or(self.dnf(i, weak), u) for i, u in zip(items, unknowns, strict=True)]
        return _and(*not_deciding, _or(*unknowns))


def lookup_of(where: ConditionNode, params: dict[str, Any]) -> tuple[str, Any] | None:
    """(item field, value) when a list filter can hold only for an item whose field equals the
    value or is unknown: the filter is that comparison, or all of several parts one of which is.
    Any other item fails it (its field is known and different), so a count need not test it."""
    parts = where.items if isinstance(where, AllOf) else (where,)
    for part in parts:
        if isinstance(part, Compare) and part.op == "eq":
            value = params[part.value.param] if isinstance(part.value, ParamRef) else part.value
            try:
                hash(value)
            except TypeError:
                continue
            return part.field, value
    return None


def weighs_candidate(rule: Rule) -> bool:
    """An indication: met or left undecided, it makes its candidate weighed (decision.verdict);
    a candidate none speaks for is not indicated, whatever else holds."""
    return bool(rule.then.indicate)


def speaks_unweighed(rule: Rule) -> bool:
    """A rule the report still names for a candidate no indication speaks for: one that makes it
    not indicated (its reasons and the fired rules list it; decision.verdict)."""
    return rule.then.status == "not_indicated"


def compile_policy(knowledge: Knowledge, policy_id: str) -> CompiledPolicy:
    params = knowledge.params_for(policy_id)
    values = {name: p.value for name, p in params.items()}
    counts: list[Count] = []
    keys: set[str] = set()
    translator = _Translator(values, counts, keys)
    first_packs: list[tuple[dict[str, Any], set[str]]] = []
    packs: list[tuple[dict[str, Any], set[str]]] = []
    opening: set[str] = set()
    compiled: list[CompiledRule] = []
    for number, entry in enumerate(knowledge.rules_for(policy_id)):
        kind = "case" if entry.rule.scope == "case" else "cand"
        actions: dict[str, str | None] = {}
        ruleset: dict[str, Any] = {}
        rule_keys: set[str] = set()
        for want in ("T", "U"):
            try:
                alternatives = translator.dnf(entry.rule.when, want)
            except _TooComplex as exc:
                raise KnowledgeError(
                    [
                        f"{entry.file}: rule {entry.rule.id}: when: too complex for the rules engine "
                        f"(more than {exc.args[0]:,} alternatives while building); split it into simpler rules"
                    ]
                ) from None
            if not alternatives:
                actions[want] = None
                continue
            if len(alternatives) > MAX_CONJUNCTIONS or max(len(c) for c in alternatives) > MAX_ATOMS:
                raise KnowledgeError(
                    [
                        f"{entry.file}: rule {entry.rule.id}: when: too complex for the rules engine "
                        f"({len(alternatives)} alternatives); split it into simpler rules"
                    ]
                )
            action = f"r{number}{want.lower()}"
            for j in range(0, len(alternatives), MAX_BRANCHES):
                ruleset[f"{action}_{j // MAX_BRANCHES}"] = {
                    "all": [{"m": _engine_match(kind, alternatives[j : j + MAX_BRANCHES])}],
                    "run": action,
                }
            rule_keys.update(_atom_key(a) for conj in alternatives for a in conj)
            actions[want] = action
        if len(rule_keys) > MAX_FACT_KEYS:
            raise KnowledgeError(
                [f"{entry.file}: rule {entry.rule.id}: when: reads too many facts for the rules engine; split it"]
            )
        first = weighs_candidate(entry.rule) or speaks_unweighed(entry.rule)
        _pack(first_packs if first else packs, ruleset, rule_keys)
        if weighs_candidate(entry.rule):
            opening.update(action for action in actions.values() if action is not None)
        compiled.append(CompiledRule(entry, actions["T"], actions["U"]))
    serial = next(_ruleset_serial)
    chunks: dict[str, dict[str, Any]] = {}
    ruleset_keys: dict[str, tuple[str, ...]] = {}
    first_rulesets: set[str] = set()
    if not first_packs and not packs:
        packs = [({}, set())]  # no rules: a ruleset of the catch-all rules still proves each fact arrived
    for is_first, phase in ((True, first_packs), (False, packs)):
        for packed, packed_keys in phase:
            for chunk, chunk_keys in _within_stack(packed, packed_keys):
                chunk.update(_SEEN)
                name = f"spine_{policy_id}_{knowledge.content_hash[:8]}_{serial}_{len(chunks)}"
                chunks[name] = chunk
                ruleset_keys[name] = tuple(sorted(chunk_keys))
                if is_first:
                    first_rulesets.add(name)
    fact_keys = tuple(sorted(keys))
    plan = [(key, *key.partition(":")[::2]) for key in fact_keys if not key.startswith("q")]
    case_plan = tuple(step for step in plan if not step[1].startswith(CANDIDATE_PATHS))
    keyed_counts = _count_keys(counts)
    targets = {id(node): same_as_targets(node) for node in counts}  # none: the same in every context
    case_counts = [keyed for keyed in keyed_counts if not targets[id(keyed[0])]]
    context_counts = [keyed for keyed in keyed_counts if targets[id(keyed[0])]]
    return CompiledPolicy(
        policy_id=policy_id,
        rulesets=chunks,
        rules=tuple(compiled),
        counts=tuple(counts),
        fact_keys=fact_keys,
        params=params,
        ruleset_keys=ruleset_keys,
        case_plan=case_plan,
        candidate_plan=tuple(step for step in plan if step[1].startswith(CANDIDATE_PATHS)),
        count_kinds={key: bool(found) for key, found in targets.items()},
        count_tests={id(node.where): compile_item(node.where, values) for node in counts if node.where is not None},
        count_lookups={
            id(node): found for node in counts if node.where is not None and (found := lookup_of(node.where, values))
        },
        case_counts=tuple(case_counts),
        case_count_groups=_by_list(case_counts),
        case_keys=frozenset([key for key, path, _ in case_plan] + [key for keyed in case_counts for key in keyed[1:]]),
        context_counts=tuple(context_counts),
        context_count_groups=_by_targets(context_counts, targets),
        count_targets={key: found for key, found in targets.items() if found},
        case_nodes=frozenset(
            id(node) for compiled_rule in compiled for node in _same_in_every_context(compiled_rule.entry.rule.when)
        ),
        first_rulesets=frozenset(first_rulesets),
        opening_actions=frozenset(opening),
    )


def _count_keys(counts: list[Count]) -> list[tuple[Count, str, str, str]]:
    return [(node, f"q{i}.min", f"q{i}.max", f"q{i}.span") for i, node in enumerate(counts)]


def _by_list(
    keyed: list[tuple[Count, str, str, str]],
) -> tuple[tuple[str, tuple[Count, ...], tuple[tuple[str, str, str], ...]], ...]:
    groups: dict[str, list[tuple[Count, str, str, str]]] = {}
    for entry in keyed:
        groups.setdefault(entry[0].list, []).append(entry)
    return tuple(
        (name, tuple(node for node, *_ in members), tuple((low, high, span) for _, low, high, span in members))
        for name, members in groups.items()
    )


def _by_targets(
    keyed: list[tuple[Count, str, str, str]], targets: dict[int, tuple[str, ...]]
) -> tuple[tuple[tuple[str, ...], tuple[tuple[Count, str, str, str], ...]], ...]:
    groups: dict[tuple[str, ...], list[tuple[Count, str, str, str]]] = {}
    for entry in keyed:
        groups.setdefault(targets[id(entry[0])], []).append(entry)
    return tuple((targets, tuple(members)) for targets, members in groups.items())


def _same_in_every_context(node: ConditionNode) -> list[ConditionNode]:
    """The nodes of a condition (itself included) that read no candidate or diagnosis field and
    count nothing compared with the candidate. Every context of a case holds the case's own fields,
    lists and date unchanged (decision.contexts), so such a node comes out the same in all of them."""
    found: list[ConditionNode] = []

    def visit(part: ConditionNode) -> bool:
        if isinstance(part, (AllOf, AnyOf)):
            results = [visit(child) for child in part.items]
            same = all(results)
        elif isinstance(part, NotOf):
            same = visit(part.item)
        elif isinstance(part, Count):
            same = not compares_with_candidate(part)
        else:
            same = not part.field.startswith(CANDIDATE_PATHS)
        if same:
            found.append(part)
        return same

    visit(node)
    return found


def _atom_key(atom: Atom) -> str:
    return atom[1]


_SEEN = {f"seen_{kind}": {"all": [{"m": {"k": kind}}], "run": SEEN_ACTION} for kind in ("case", "cand")}
"""Every fact must be handled by some rule, or durable-rules rejects the whole batch; these catch-all
rules, in every ruleset, also prove each context reached the engine."""


def _within_stack(rules: dict[str, Any], keys: set[str]) -> list[tuple[dict[str, Any], set[str]]]:
    """The rules as one ruleset, or halved until no part could overflow durable's alpha stack
    (decision.alpha_stack): a fact's assert would otherwise fail on a valid case. Each part gets
    the fact keys its own rules compare."""
    if stack_bound({**rules, **_SEEN}) <= DURABLE_ALPHA_STACK:
        return [(rules, keys)]
    names = list(rules)
    if len(names) < 2:
        raise KnowledgeError([f"engine rule {names}: too many comparisons at one point for the rules engine"])
    parts: list[tuple[dict[str, Any], set[str]]] = []
    for group in (names[: len(names) // 2], names[len(names) // 2 :]):
        part = {name: rules[name] for name in group}
        part_keys = set().union(*(fact_keys(rule) for rule in part.values())) - {"k"}
        parts.extend(_within_stack(part, part_keys))
    return parts


def _pack(packs: list[tuple[dict[str, Any], set[str]]], rules: dict[str, Any], rule_keys: set[str]) -> None:
    """Add one knowledge rule's engine rules to the first ruleset with room for its rules and keys."""
    for chunk, chunk_keys in packs:
        if len(chunk) + len(rules) <= MAX_RULES_PER_RULESET and len(chunk_keys | rule_keys) <= MAX_FACT_KEYS:
            chunk.update(rules)
            chunk_keys.update(rule_keys)
            return
    packs.append((dict(rules), set(rule_keys)))


def compile_knowledge(knowledge: Knowledge) -> dict[str, CompiledPolicy]:
    """Check every rule against the case model, then compile one ruleset per policy profile."""
    with using_vocabulary(knowledge.vocabulary):
        problems = check_rules(knowledge) + _check_texts(knowledge)
    if problems:
        raise KnowledgeError(problems)
    return {pid: compile_policy(knowledge, pid) for pid in sorted(knowledge.policies)}


def _check_texts(knowledge: Knowledge) -> list[str]:
    """Placeholders such as {mri_max_age_months} in rule texts must name a param of every policy."""
    import string

    problems: list[str] = []
    for entry in knowledge.rules:
        rule = entry.rule
        for pid in rule.policies or tuple(knowledge.policies):
            params = knowledge.params_for(pid)
            for label, text in (
                ("title", rule.title),
                ("statement", rule.statement),
                ("then.text", rule.then.text),
            ):
                try:
                    names = [name for _, name, _, _ in string.Formatter().parse(text) if name]
                except ValueError as exc:
                    problems.append(f"{entry.file}: rule {rule.id}: {label}: {exc}")
                    continue
                for name in names:
                    if name not in params:
                        problems.append(
                            f"{entry.file}: rule {rule.id}: {label}: {{{name}}} is not a param of policy {pid!r}"
                        )
    return problems


__all__ = ["CompiledPolicy", "CompiledRule", "compile_knowledge"]
