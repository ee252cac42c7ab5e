"""Clinical words for what the engine holds as ids and field paths.

The engine reasons over `comorbidities.active_infection`, `lateral_recess` and `seed_003#risks`;
a clinician reads "Does the patient have an active infection?", "lateral recess" and the
source's title. Every word comes from a declaration: questions from knowledge/questions.yaml,
field names from the case model's titles, value labels from the vocabulary, source titles
from sources.yaml. Nothing here judges a case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from decision.case import vocabulary
from decision.fields import LAB_JUDGEMENTS, field_catalogue, question_paths
from decision.per_object import PerObject
from decision.report import STATUS_ORDER, MissingInformation
from knowledge.conditions import AllOf, AnyOf, Compare, ConditionNode, Count, IsUnknown, NotOf, ParamRef, walk
from knowledge.loader import Knowledge, load_knowledge

STATUS_WORDS: dict[str, str] = {status: status.replace("_", " ").capitalize() for status in STATUS_ORDER}
"""A status as a clinician reads it in a sentence or a table cell ("Indicated with caution")."""

_CONTEXT_NAMES = {
    "diagnosis.condition": "the diagnosis",
    "diagnosis.level_count": "the number of levels",
    "candidate.procedure": "the procedure",
    "candidate.approach": "the approach",
    "candidate.region": "the region",
    "candidate.bleeding_risk": "the procedure's bleeding-risk class",
}
"""The candidate and diagnosis a rule is weighed for have no case-model title; these name them."""
_CANDIDATE_VOCABULARY = {
    "candidate.procedure": "procedures",
    "candidate.approach": "approaches",
    "candidate.region": "regions",
    "candidate.bleeding_risk": "bleeding_risks",
    "diagnosis.condition": "conditions",
    "diagnosis.region": "regions",
    "diagnosis.side": "sides",
}
_COMPARISONS = {
    "lt": "less than",
    "lte": "at most",
    "gt": "more than",
    "gte": "at least",
    "eq": "exactly",
    "neq": "other than",
}


_EXAMPLE = re.compile(r"\s*\(e\.g\.[^)]*\)")
"""An example in a title ("Levels (e.g. L4-L5, L5-S1)"): helps a form, clutters a sentence."""


def humanise(identifier: str) -> str:
    """An id with no label of its own, read as words (`lateral_recess`: "lateral recess")."""
    return identifier.replace("_", " ")


def _plain(title: str) -> str:
    """A model title as a noun phrase inside a sentence: no question mark, no capital unless an acronym."""
    words = _EXAMPLE.sub("", title).strip().rstrip("?").strip()
    if len(words) > 1 and words[1].islower():
        return words[:1].lower() + words[1:]
    return words


@cache
def shipped_knowledge() -> Knowledge:
    """The shipped knowledge, for words when a caller has no knowledge of its own (an export of a report)."""
    return load_knowledge()


def question(knowledge: Knowledge, path: str) -> str:
    """The clinician's question for a case path (`comorbidities.active_infection`)."""
    asked = knowledge.questions.questions if knowledge.questions is not None else {}
    if path in asked:
        return asked[path]
    head = path.partition(".")[0]
    return f"{field_name(path)[:1].upper()}{field_name(path)[1:]}?" if head else path


def asked(knowledge: Knowledge, path: str, case: dict[str, Any]) -> bool:
    """Whether a question applies to this patient: not when another answer rules it out (pregnancy
    for a male patient). An unknown answer rules nothing out, so the question stays."""
    if knowledge.questions is None:
        return True
    for other, values in knowledge.questions.not_asked_when.get(path, {}).items():
        head, _, tail = other.partition(".")
        answer = (case.get(head) or {}).get(tail) if tail else case.get(head)
        if answer is not None and answer in values:
            return False
    return True


def red_flag_fields(knowledge: Knowledge) -> tuple[str, ...]:
    """The case fields the red flag rules read, in the form's order: asked first, as one group.
    Found once per knowledge (every report's export asks), like the field catalogue."""
    return _red_flag_fields_of(knowledge)


def _read_red_flag_fields(knowledge: Knowledge) -> tuple[str, ...]:
    read = {
        node.field
        for entry in knowledge.rules
        if entry.rule.then.red_flag
        for node in walk(entry.rule.when)
        if isinstance(node, (Compare, IsUnknown))
    }
    return tuple(path for path in question_paths() if path in read)


_red_flag_fields_of: PerObject[Knowledge, tuple[str, ...]] = PerObject(_read_red_flag_fields)


def asking_order(knowledge: Knowledge, paths: list[str]) -> list[str]:
    """Paths in the order a clinician asks them: red flags first, then the form's order."""
    flags = red_flag_fields(knowledge)
    order = {path: index for index, path in enumerate(question_paths())}

    def key(path: str) -> tuple[int, int, str]:
        return (0 if path in flags else 1, order.get(path, len(order)), path)

    return sorted(paths, key=key)


def in_asking_order(knowledge: Knowledge, items: list[MissingInformation]) -> list[MissingInformation]:
    """Missing information in the order a clinician asks it: red flags first, then the form's order."""
    order = asking_order(knowledge, list(dict.fromkeys(item.field for item in items)))
    return sorted(items, key=lambda item: order.index(item.field))


_names_of: PerObject[object, dict[str, str]] = PerObject(lambda vocab: {})


def field_name(path: str) -> str:
    """A case path as a short noun phrase ("severe kidney disease", "hours since the last dose (medication history)").

    Remembered per vocabulary in use (the field catalogue's titles are that vocabulary's): reports
    name the same fields case after case, and finding a name reads the catalogue and the layout."""
    names = _names_of(vocabulary())
    name = names.get(path)
    if name is None:
        if len(names) > 4096:  # paths come from knowledge and the case model; bound it all the same
            names.clear()
        name = names[path] = _field_name(path)
    return name


def _field_name(path: str) -> str:
    if path in _CONTEXT_NAMES:
        return _CONTEXT_NAMES[path]
    catalogue = field_catalogue()
    spec = catalogue.scalars.get(path)
    if path.startswith("labs.") and path.endswith("_vs_range"):
        lab = path.removeprefix("labs.").removesuffix("_vs_range")
        lab_spec = catalogue.scalars.get(f"labs.{lab}")
        return f"{_plain(lab_spec.title) if lab_spec else humanise(lab)} against its reference range"
    if spec is not None and spec.title:
        return _plain(spec.title)
    head, _, item = path.partition(".")
    group = next((g for g in _layout() if g.path == head), None)
    if group is not None:
        if not item:
            return _plain(group.title)
        spec = next((f for f in group.fields if f.path == item), None)
        if spec is not None and spec.title:
            return f"{_plain(spec.title)} ({_plain(group.title)})"
    own = next((f for f in _layout()[0].fields if f.path == path), None)
    return _plain(own.title) if own is not None and own.title else humanise(path.rsplit(".", 1)[-1])


def _layout() -> tuple[Any, ...]:
    from decision.fields import case_layout

    return case_layout()


def value_label(knowledge: Knowledge, path: str, value: Any) -> str:
    """A value as a clinician reads it: the vocabulary's label for an id, yes/no, a number with its unit."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        spec = field_catalogue().scalars.get(path)
        shown = f"{value:g}"
        return f"{shown} {spec.unit}" if spec is not None and spec.unit and spec.unit != "%" else shown
    text = str(value)
    if text in LAB_JUDGEMENTS:
        return humanise(text)
    spec = field_catalogue().scalars.get(path)
    vocabulary_name = _CANDIDATE_VOCABULARY.get(path) or (spec.vocabulary if spec is not None else "")
    return id_label(knowledge, vocabulary_name, text)


def id_label(knowledge: Knowledge, vocabulary_name: str, identifier: str) -> str:
    """The label of a vocabulary id (`conditions`, `lateral_recess` when the list has no labels)."""
    terms = getattr(knowledge.vocabulary, vocabulary_name, None) if vocabulary_name else None
    term = terms.get(identifier) if isinstance(terms, dict) else None
    label = getattr(term, "label", None)
    return str(label) if label else humanise(identifier)


def any_label(knowledge: Knowledge, identifier: str) -> str:
    """An id whose list is not known to the caller, labelled from whichever vocabulary list holds it."""
    for name in ("conditions", "procedures", "approaches", "regions", "guidance", "medications", "modalities"):
        terms = getattr(knowledge.vocabulary, name)
        if identifier in terms:
            return str(terms[identifier].label)
    if identifier in STATUS_WORDS:
        return STATUS_WORDS[identifier]
    return humanise(identifier)


def _either(words: list[str], joiner: str = "or") -> str:
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {joiner} {words[-1]}"


def _value_of(value: Any, params: dict[str, Any]) -> Any:
    if isinstance(value, ParamRef):
        found = params.get(value.param)
        return value.param if found is None else found
    return value


def condition_words(knowledge: Knowledge, node: ConditionNode, params: dict[str, Any], item_of: str = "") -> str:
    """A rule's condition in a clinician's words: "the diagnosis is facet arthropathy"."""
    if isinstance(node, AnyOf):
        return "one of: " + "; or ".join(condition_words(knowledge, n, params, item_of) for n in node.items)
    if isinstance(node, AllOf):
        return _either([condition_words(knowledge, n, params, item_of) for n in node.items], "and")
    if isinstance(node, NotOf):
        return f"not ({condition_words(knowledge, node.item, params, item_of)})"
    if isinstance(node, IsUnknown):
        return f"{field_name(node.field)} not recorded"
    if isinstance(node, Count):
        where = f" where {condition_words(knowledge, node.where, params, node.list)}" if node.where else ""
        count = _value_of(node.value, params)
        return f"{_COMPARISONS.get(node.op, node.op)} {count} in {field_name(node.list)}{where}"
    return _compare_words(knowledge, node, params, item_of)


def _compare_words(knowledge: Knowledge, node: Compare, params: dict[str, Any], item_of: str) -> str:
    path = f"{item_of}.{node.field}" if item_of else node.field
    name = field_name(path)
    value = _value_of(node.value, params)
    if node.op == "same_as":
        return f"{name} is the same as {field_name(str(value))}"
    if node.op == "within_months":
        return f"{name} within the last {value} months"
    if isinstance(value, bool):
        return f"{name}: {'yes' if value == (node.op == 'eq') else 'no'}"
    labels = [_plain(value_label(knowledge, path, v)) for v in (value if isinstance(value, tuple) else (value,))]
    the = "" if name.startswith("the ") else "the "
    subject = f"{the}{name}"
    if node.op == "contains":
        return f"{name} include {_either(labels, 'or')}"
    if node.op in ("eq", "in"):
        return f"{subject} is {_either(labels)}"
    if node.op in ("neq", "not_in"):
        return f"{subject} is not {_either(labels)}"
    if isinstance(value, (int, float)):
        return f"{subject} is {_COMPARISONS.get(node.op, node.op)} {labels[0]}"
    return f"{subject} {node.op} {_either(labels)}"


def not_met_text(knowledge: Knowledge, title: str, unmet: list[ConditionNode], params: dict[str, Any]) -> str:
    """Why an indication did not apply, in words ("Not met: ... (needs: the diagnosis is facet arthropathy)")."""
    needs = "; ".join(condition_words(knowledge, node, params) for node in unmet)
    return f"Not met: {title} (needs: {needs})."


def undecided_text(title: str, fields: list[str]) -> str:
    """A rule left undecided by unknown answers, naming what to ask in words, not paths."""
    return f"Undecided until answered ({'; '.join(field_name(f) for f in fields)}): {title}."


@dataclass(frozen=True)
class Citation:
    """A `source_id#section` reference as a reader sees it: the source's title, the section, a link if known."""

    ref: str
    title: str
    section: str
    url: str | None


def citation(knowledge: Knowledge, ref: str) -> Citation:
    source_id, _, section_id = ref.partition("#")
    source = knowledge.sources.get(source_id)
    if source is None:
        return Citation(ref, ref, "", None)
    section = source.sections.get(section_id)
    return Citation(ref, source.title, section.title if section is not None else humanise(section_id), source.url)
