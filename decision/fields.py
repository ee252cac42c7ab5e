"""The fields a rule may read, declared once: read off the pydantic case model.

A rule's `field:` is checked here against the case model (and the candidate and diagnosis a rule
is weighed for), its operator against the field's type, and its values against the vocabulary,
so that a typo in the knowledge is an error at load time, never a rule that silently never fires.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any, Literal

from pydantic import ValidationError

from decision.case import Case, Diagnosis
from decision.per_object import PerObject
from knowledge.conditions import AllOf, AnyOf, Compare, ConditionNode, Count, IsUnknown, NotOf, ParamRef
from knowledge.loader import KNOWLEDGE_DIR, Knowledge, did_you_mean, read_yaml
from knowledge.schema import Questions, Vocabulary

FieldKind = Literal["bool", "number", "enum", "enum_list", "date", "text", "text_list"]
"""`text_list` (a diagnosis's levels) is asked by the form; no rule reads it, so it is not in the catalogue."""

OPS_BY_KIND: dict[FieldKind, tuple[str, ...]] = {
    "bool": ("eq", "neq"),
    "number": ("eq", "neq", "lt", "lte", "gt", "gte"),
    "enum": ("eq", "neq", "in", "not_in", "same_as"),
    "enum_list": ("contains",),
    "date": ("within_months",),
    "text": ("eq", "neq", "in", "not_in"),
}
CONTEXT_PREFIXES = ("candidate.", "diagnosis.")
NOT_RULE_FIELDS = {"case_id", "policy", "assessment_date"}
LAB_JUDGEMENTS = ("below_range", "within_range", "above_range", "no_range", "not_recorded")
"""How a lab value stands against its reference range; `no_range` when none is known,
`not_recorded` when there is no value (rules that need the value test `is_unknown: labs.<lab>`)."""
LAB_RANGES = "labs.ranges"


def lab_judgement_field(lab: str) -> str:
    """The derived field a rule reads to judge a lab value (`labs.inr_vs_range`)."""
    return f"labs.{lab}_vs_range"


@dataclass(frozen=True)
class FieldSpec:
    """One case field as the model declares it: its type for rules, and its question for a form.

    `vocabulary` names the vocabulary list its choices come from (their labels are there); `minimum`
    and `maximum` are the model's validity bounds (an exclusive minimum is given as the minimum).
    """

    path: str
    kind: FieldKind
    choices: tuple[str, ...] = ()
    title: str = ""
    description: str = ""
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    vocabulary: str = ""
    question: str = ""

    def label(self) -> str:
        """The field's short name (a table column, a line of a summary): the title, with the unit unless
        the title already says it."""
        title = self.title or self.path
        if self.unit and self.unit.casefold() not in title.casefold():
            return f"{title} ({self.unit})"
        return title

    def ask(self) -> str:
        """The question as a clinician asks it (knowledge/questions.yaml), else the short name."""
        return self.question or self.label()


@dataclass(frozen=True)
class ListSpec:
    path: str
    items: dict[str, FieldSpec]


@dataclass(frozen=True)
class FieldCatalogue:
    """Scalar fields of the case and context, lists with their item fields, and unknowable paths."""

    scalars: dict[str, FieldSpec]
    lists: dict[str, ListSpec]
    groups: frozenset[str] = field(default_factory=frozenset)

    def unknowable(self) -> set[str]:
        """Paths `is_unknown` may test: scalars, lists and whole sub-objects such as `labs`."""
        return set(self.scalars) | set(self.lists) | set(self.groups)


def _spec_from_schema(path: str, prop: dict[str, Any]) -> FieldSpec | None:
    spec = _typed_spec(path, prop)
    if spec is None:
        return None
    return replace(
        spec,
        title=str(prop.get("title", "")),
        description=str(prop.get("description", "")),
        unit=str(prop.get("unit", "")),
    )


def _typed_spec(path: str, prop: dict[str, Any]) -> FieldSpec | None:
    options = prop.get("anyOf", [prop])
    for option in options:
        if option.get("type") == "null":
            continue
        if "enum" in option:
            return FieldSpec(path, "enum", tuple(option["enum"]), vocabulary=str(option.get("vocabulary", "")))
        kind = option.get("type")
        if kind == "boolean":
            return FieldSpec(path, "bool")
        if kind in ("number", "integer"):
            minimum = option.get("minimum", option.get("exclusiveMinimum"))
            maximum = option.get("maximum", option.get("exclusiveMaximum"))
            return FieldSpec(path, "number", minimum=minimum, maximum=maximum, integer=kind == "integer")
        if kind == "string" and option.get("format") == "date":
            return FieldSpec(path, "date")
        if kind == "string":
            return FieldSpec(path, "text")
        items = option.get("items", {})
        if kind == "array" and "enum" in items:
            return FieldSpec(path, "enum_list", tuple(items["enum"]), vocabulary=str(items.get("vocabulary", "")))
        if kind == "array" and items.get("type") == "string":
            return FieldSpec(path, "text_list")
    return None


def _subtype_spec(spec: FieldSpec) -> FieldSpec:
    """A diagnosis's subtype: every condition's subtypes (which fit which condition, the model checks)."""
    from decision.case import vocabulary

    subtypes = vocabulary().subtypes
    return replace(spec, kind="enum", choices=tuple(sorted({s for subs in subtypes.values() for s in subs})))


@dataclass(frozen=True)
class FieldGroup:
    """A part of the case as a clinician is asked it, in the model's order.

    `path` is "" for the case's own fields, a sub-model (`symptoms`), a list whose items are
    asked (`medications`, `repeated`), or a map asked once per key (`labs.ranges`, `keys`).
    A sub-model's fields carry their dotted case path; a list's or map's, their name in the item.
    """

    path: str
    title: str
    fields: tuple[FieldSpec, ...]
    repeated: bool = False
    keys: tuple[str, ...] = ()
    question: str = ""


def _map_of(prop: dict[str, Any]) -> tuple[str, tuple[str, ...]] | None:
    for option in prop.get("anyOf", [prop]):
        values = option.get("additionalProperties")
        if option.get("type") == "object" and isinstance(values, dict) and "$ref" in values:
            return values["$ref"].rsplit("/", 1)[-1], tuple(option.get("propertyNames", {}).get("enum", ()))
    return None


def _layout_of(
    schema: dict[str, Any], defs: dict[str, Any], props: dict[str, Any], prefix: str
) -> tuple[list[FieldSpec], list[FieldGroup]]:
    own: list[FieldSpec] = []
    groups: list[FieldGroup] = []
    for key, prop in props.items():
        title = str(prop.get("title", key))
        ref, is_list = _ref(prop)
        mapped = _map_of(prop)
        if mapped is not None:
            item, keys = mapped
            groups.append(
                FieldGroup(
                    prefix + key, title, tuple(_model_fields(schema, item, defs, for_rules=False).values()), keys=keys
                )
            )
        elif ref is not None and is_list:
            groups.append(
                FieldGroup(key, title, tuple(_model_fields(schema, ref, defs, for_rules=False).values()), repeated=True)
            )
        elif ref is not None:
            fields, nested = _layout_of(schema, defs, defs[ref]["properties"], f"{prefix}{key}.")
            groups.extend([FieldGroup(prefix + key, title, tuple(fields)), *nested])
        else:
            spec = _spec_from_schema(prefix + key, prop)
            if spec is not None:
                own.append(spec)
    return own, groups


@cache
def case_layout() -> tuple[FieldGroup, ...]:
    """The case's questions, read off the case model: its own fields first, then each part in order.

    Titles, units, bounds and choices are the model's, so a form built from this never repeats them;
    each question is the shipped knowledge's (questions.yaml), read once per process.
    """
    schema = Case.model_json_schema()
    own, groups = _layout_of(schema, schema.get("$defs", {}), schema["properties"], "")
    laid_out = [FieldGroup("", str(schema.get("title", "")), tuple(own))]
    for group in groups:
        subtype = next((f for f in group.fields if f.path.rsplit(".", 1)[-1] == "subtype"), None)
        if group.path == "diagnoses" and subtype is not None:
            fields = tuple(_subtype_spec(f) if f is subtype else f for f in group.fields)
            group = replace(group, fields=fields)
        laid_out.append(group)
    return _with_questions(tuple(laid_out), _shipped_questions())


def _shipped_questions() -> dict[str, str]:
    """questions.yaml of the shipped knowledge (the loader and `check_questions` judge it; here a
    defect only leaves the short names in place)."""
    path = KNOWLEDGE_DIR / "questions.yaml"
    problems: list[str] = []
    data = read_yaml(path, problems, KNOWLEDGE_DIR) if path.exists() else None
    try:
        return Questions.model_validate(data).questions
    except ValidationError:
        return {}


def _with_questions(layout: tuple[FieldGroup, ...], questions: dict[str, str]) -> tuple[FieldGroup, ...]:
    """Each field and list of the layout with its question (a list item's key is `list.field`)."""
    asked: list[FieldGroup] = []
    for group in layout:
        listed = group.repeated or bool(group.keys)
        fields = tuple(
            replace(spec, question=questions.get(f"{group.path}.{spec.path}" if listed else spec.path, ""))
            for spec in group.fields
        )
        asked.append(replace(group, fields=fields, question=questions.get(group.path, "") if listed else ""))
    return tuple(asked)


def _ref(prop: dict[str, Any]) -> tuple[str | None, bool]:
    for option in prop.get("anyOf", [prop]):
        if "$ref" in option:
            return option["$ref"].rsplit("/", 1)[-1], False
        if option.get("type") == "array" and "$ref" in option.get("items", {}):
            return option["items"]["$ref"].rsplit("/", 1)[-1], True
    return None, False


def _model_fields(
    schema: dict[str, Any], name: str, defs: dict[str, Any], for_rules: bool = True
) -> dict[str, FieldSpec]:
    props = defs[name]["properties"] if name in defs else schema["properties"]
    out: dict[str, FieldSpec] = {}
    for key, prop in props.items():
        spec = _spec_from_schema(key, prop)
        if spec is not None and not (for_rules and spec.kind == "text_list"):
            out[key] = spec
    return out


def field_catalogue() -> FieldCatalogue:
    """Built from the case model's JSON schema, so the case model is the one declaration; one per
    vocabulary in use (the shipped knowledge's, or a folder's under review)."""
    from decision.case import vocabulary

    return _catalogue_of(vocabulary())


def _build_catalogue(vocab: Vocabulary) -> FieldCatalogue:
    schema = Case.model_json_schema()
    defs = schema.get("$defs", {})
    scalars: dict[str, FieldSpec] = {}
    lists: dict[str, ListSpec] = {}
    groups: set[str] = set()
    for key, prop in schema["properties"].items():
        if key in NOT_RULE_FIELDS:
            continue
        ref, is_list = _ref(prop)
        if ref is None:
            spec = _spec_from_schema(key, prop)
            if spec is not None and spec.kind != "text_list":
                scalars[key] = spec
        elif is_list:
            items = _model_fields(schema, ref, defs)
            lists[key] = ListSpec(key, items)
        else:
            groups.add(key)
            for sub, spec in _model_fields(schema, ref, defs).items():
                scalars[f"{key}.{sub}"] = replace(spec, path=f"{key}.{sub}")
    meds = lists["medications"].items
    meds["name"] = replace(meds["name"], choices=tuple(sorted(vocab.medications)))
    meds["recognised"] = FieldSpec("recognised", "bool")
    meds["placed"] = FieldSpec("placed", "bool")
    meds["tabled"] = FieldSpec("tabled", "bool")
    for lab in vocab.labs:
        path = lab_judgement_field(lab)
        scalars[path] = FieldSpec(path, "enum", LAB_JUDGEMENTS)
    groups.add(LAB_RANGES)
    for sub, spec in _model_fields(Diagnosis.model_json_schema(), "Diagnosis", {}).items():
        if spec.kind != "enum_list" and sub != "levels":
            scalars[f"diagnosis.{sub}"] = replace(spec, path=f"diagnosis.{sub}")
    scalars["diagnosis.subtype"] = _subtype_spec(scalars["diagnosis.subtype"])
    scalars["diagnosis.level_count"] = FieldSpec("diagnosis.level_count", "number")
    for path, spec in _candidate_fields(vocab).items():
        scalars[path] = spec
    return FieldCatalogue(scalars=scalars, lists=lists, groups=frozenset(groups))


_catalogue_of: PerObject[Vocabulary, FieldCatalogue] = PerObject(_build_catalogue)


def _candidate_fields(vocab: Vocabulary) -> dict[str, FieldSpec]:
    """What a rule may know about the candidate it is weighed for (from procedures.yaml)."""
    return {
        "candidate.procedure": FieldSpec("candidate.procedure", "enum", tuple(sorted(vocab.procedures))),
        "candidate.approach": FieldSpec("candidate.approach", "enum", tuple(sorted(vocab.approaches))),
        "candidate.region": FieldSpec("candidate.region", "enum", tuple(sorted(vocab.regions))),
        "candidate.bleeding_risk": FieldSpec("candidate.bleeding_risk", "enum", tuple(sorted(vocab.bleeding_risks))),
        "candidate.intermediate_or_high_risk": FieldSpec("candidate.intermediate_or_high_risk", "bool"),
        "candidate.high_risk": FieldSpec("candidate.high_risk", "bool"),
        "candidate.uses_steroid": FieldSpec("candidate.uses_steroid", "bool"),
        "candidate.uses_local_anaesthetic": FieldSpec("candidate.uses_local_anaesthetic", "bool"),
        "candidate.uses_contrast": FieldSpec("candidate.uses_contrast", "bool"),
    }


def _check_values(spec: FieldSpec, node: Compare, where: str, params: dict[str, Any], problems: list[str]) -> None:
    raw = node.value
    if isinstance(raw, ParamRef):
        value = params.get(raw.param)
        if value is None:
            return  # a missing param is reported by the knowledge loader
        if spec.kind in ("number", "date") and (isinstance(value, bool) or not isinstance(value, (int, float))):
            problems.append(f"{where}: param {raw.param!r} must be a number for field {spec.path}")
        return
    values = raw if isinstance(raw, tuple) else (raw,)
    if node.op in ("in", "not_in") and not isinstance(raw, tuple):
        problems.append(f"{where}: `{node.op}` takes a list of values")
    if node.op not in ("in", "not_in") and isinstance(raw, tuple):
        problems.append(f"{where}: `{node.op}` takes one value, not a list")
    for value in values:
        if spec.kind == "bool" and not isinstance(value, bool):
            problems.append(f"{where}: field {spec.path} is true/false, got {value!r}")
        elif spec.kind == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))):
            problems.append(f"{where}: field {spec.path} is a number, got {value!r}")
        elif spec.kind in ("enum", "enum_list", "text") and spec.choices and value not in spec.choices:
            problems.append(
                f"{where}: {value!r} is not a valid value of {spec.path}{did_you_mean(str(value), spec.choices)}"
            )


def _check_node(
    node: ConditionNode,
    where: str,
    fields: dict[str, FieldSpec],
    unknowable: set[str],
    catalogue: FieldCatalogue,
    params: dict[str, Any],
    problems: list[str],
    in_item: bool,
    scope: str,
) -> None:
    if isinstance(node, (AllOf, AnyOf)):
        for i, child in enumerate(node.items):
            _check_node(
                child,
                f"{where}.{node.kind}[{i}]",
                fields,
                unknowable,
                catalogue,
                params,
                problems,
                in_item,
                scope,
            )
    elif isinstance(node, NotOf):
        _check_node(node.item, f"{where}.not", fields, unknowable, catalogue, params, problems, in_item, scope)
    elif isinstance(node, IsUnknown):
        if node.field not in unknowable:
            problems.append(f"{where}: unknown field {node.field!r}{did_you_mean(node.field, unknowable)}")
    elif isinstance(node, Count):
        if in_item:
            problems.append(f"{where}: count/exists/none cannot be nested inside a list filter")
            return
        if node.list not in catalogue.lists:
            problems.append(f"{where}: unknown list {node.list!r}{did_you_mean(node.list, catalogue.lists)}")
            return
        items = catalogue.lists[node.list].items
        if node.where is not None:
            _check_node(node.where, f"{where}.where", items, set(items), catalogue, params, problems, True, scope)
    elif isinstance(node, Compare):
        spec = fields.get(node.field)
        if spec is None:
            problems.append(f"{where}: unknown field {node.field!r}{did_you_mean(node.field, fields)}")
            return
        if scope == "case" and node.field.startswith(CONTEXT_PREFIXES):
            problems.append(f"{where}: a case-scope rule cannot read {node.field} (it has no candidate)")
        if node.op not in OPS_BY_KIND[spec.kind]:
            problems.append(
                f"{where}: operator {node.op!r} does not apply to {spec.kind} field {node.field}; "
                f"use one of {', '.join(OPS_BY_KIND[spec.kind])}"
            )
            return
        if node.op in ("within_months", "same_as") and not in_item:
            problems.append(f"{where}: `{node.op}` is only for fields of list items (inside count/exists/none)")
            return
        if node.op == "same_as":
            target = catalogue.scalars.get(str(node.value))
            if target is None or not str(node.value).startswith(CONTEXT_PREFIXES):
                problems.append(
                    f"{where}: same_as needs a candidate or diagnosis field, got {node.value!r}"
                    f"{did_you_mean(str(node.value), [p for p in catalogue.scalars if p.startswith(CONTEXT_PREFIXES)])}"
                )
            return
        _check_values(spec, node, where, params, problems)


def _check_in_every_policy(
    knowledge: Knowledge,
    policies: tuple[str, ...] | None,
    node: ConditionNode,
    where: str,
    catalogue: FieldCatalogue,
    unknowable: set[str],
    scope: str,
    problems: list[str],
) -> None:
    """A condition is checked under each policy it applies to (params differ); the first policy
    that finds a defect is enough, so one defect is reported once."""
    for pid in policies or tuple(knowledge.policies):
        params = {name: p.value for name, p in knowledge.params_for(pid).items()}
        before = len(problems)
        _check_node(node, where, catalogue.scalars, unknowable, catalogue, params, problems, False, scope)
        if len(problems) > before:
            break


def check_rules(knowledge: Knowledge) -> list[str]:
    """Every rule's fields, operators and values, against the case model and the vocabulary."""
    catalogue = field_catalogue()
    problems: list[str] = []
    unknowable = catalogue.unknowable()
    for entry in knowledge.rules:
        rule = entry.rule
        where = f"{entry.file}: rule {rule.id}: when"
        _check_in_every_policy(knowledge, rule.policies, rule.when, where, catalogue, unknowable, rule.scope, problems)
        for path in rule.then.require:
            head, _, item = path.partition(".")
            if path not in unknowable and not (head in catalogue.lists and item in catalogue.lists[head].items):
                problems.append(
                    f"{entry.file}: rule {rule.id}: then.require: unknown field {path!r}{did_you_mean(path, unknowable)}"
                )
    raised = knowledge.bleeding_risk_raised_when
    if raised is not None:
        where = "procedures.yaml: bleeding_risk_raised_when"
        _check_in_every_policy(knowledge, None, raised, where, catalogue, unknowable, "candidate", problems)
    return problems + check_questions(knowledge)


@cache
def question_paths() -> tuple[str, ...]:
    """Every case path a clinician is asked, in the form's order: the case's own fields, each part's
    fields, each list (`medications`) and its items' fields (`medications.name`), the reference ranges."""
    paths: list[str] = []
    for group in case_layout():
        if group.repeated or group.keys:
            paths.append(group.path)
            paths.extend(f"{group.path}.{spec.path}" for spec in group.fields)
        else:
            paths.extend(spec.path for spec in group.fields)
    return tuple(paths)


def check_questions(knowledge: Knowledge) -> list[str]:
    """questions.yaml asks every case field once and names no field the case does not have, so no
    question shows a field path and none is left behind when the case model grows."""
    questions = knowledge.questions
    if questions is None:
        return []  # a missing file is reported by the loader
    expected = question_paths()
    problems = [
        f"questions.yaml: no question for case field {path!r}" for path in expected if path not in questions.questions
    ]
    problems += [
        f"questions.yaml: {path!r} is not a case field{did_you_mean(path, expected)}"
        for path in questions.questions
        if path not in expected
    ]
    for path, when in questions.not_asked_when.items():
        if path not in expected:
            problems.append(
                f"questions.yaml: not_asked_when: {path!r} is not a case field{did_you_mean(path, expected)}"
            )
        for other, values in when.items():
            spec = field_catalogue().scalars.get(other)
            if spec is None:
                problems.append(f"questions.yaml: not_asked_when.{path}: {other!r} is not a case field")
                continue
            problems += [
                f"questions.yaml: not_asked_when.{path}: {v!r} is not a value of {other}{did_you_mean(v, spec.choices)}"
                for v in values
                if spec.choices and v not in spec.choices
            ]
    return problems
