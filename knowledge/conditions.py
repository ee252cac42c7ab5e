"""The small condition language of rule `when:` blocks.

Written in YAML as clinicians read it, for example::

    all:
      - {field: diagnosis.condition, eq: herniated_disc}
      - {field: symptoms.duration_weeks, lt: {param: esi_min_duration_weeks}}
      - exists:
          list: medications
          where: {all: [{field: name, eq: apixaban}, {field: last_dose_hours_ago, lt: 120}]}

Every condition has three outcomes (met, not met, unknown): a fact that is null in the case
makes a comparison unknown, never false, so that a missing answer cannot pass silently.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

FROZEN = ConfigDict(extra="forbid", frozen=True)

Scalar = bool | int | float | str
CompareOp = Literal["eq", "neq", "lt", "lte", "gt", "gte", "in", "not_in", "contains", "within_months", "same_as"]
CountOp = Literal["eq", "lt", "lte", "gt", "gte"]
COMPARE_OPS: tuple[str, ...] = CompareOp.__args__  # type: ignore[attr-defined]
COUNT_OPS: tuple[str, ...] = CountOp.__args__  # type: ignore[attr-defined]


class ParamRef(BaseModel):
    """A threshold taken from the active policy profile, so the rule states no number itself."""

    model_config = FROZEN
    param: str


Value = ParamRef | Scalar | tuple[Scalar, ...]


class Compare(BaseModel):
    model_config = FROZEN
    kind: Literal["compare"] = "compare"
    field: str
    op: CompareOp
    value: Value


class IsUnknown(BaseModel):
    model_config = FROZEN
    kind: Literal["is_unknown"] = "is_unknown"
    field: str


class Count(BaseModel):
    """How many items of a case list match `where`; `exists` and `none` are written with it."""

    model_config = FROZEN
    kind: Literal["count"] = "count"
    list: str
    where: ConditionNode | None = None
    op: CountOp
    value: ParamRef | int


class AllOf(BaseModel):
    model_config = FROZEN
    kind: Literal["all"] = "all"
    items: tuple[ConditionNode, ...] = Field(min_length=1)


class AnyOf(BaseModel):
    model_config = FROZEN
    kind: Literal["any"] = "any"
    items: tuple[ConditionNode, ...] = Field(min_length=1)


class NotOf(BaseModel):
    model_config = FROZEN
    kind: Literal["not"] = "not"
    item: ConditionNode


ConditionNode = Annotated[Compare | IsUnknown | Count | AllOf | AnyOf | NotOf, Field(discriminator="kind")]


class ConditionSyntaxError(ValueError):
    """A `when:` block that is not in the condition language; says where and what was expected."""


def _value(raw: Any, where: str) -> Any:
    if isinstance(raw, dict):
        if set(raw) != {"param"}:
            raise ConditionSyntaxError(f"{where}: a value is a number, text, list or {{param: name}}")
        return ParamRef(param=raw["param"])
    if isinstance(raw, list):
        return tuple(raw)
    return raw


def parse_condition(raw: Any, where: str = "when") -> Any:
    """Turn the YAML shorthand into condition nodes; errors say which part of `when` is wrong."""
    if isinstance(raw, BaseModel):
        return raw
    if not isinstance(raw, dict) or not raw:
        raise ConditionSyntaxError(f"{where}: expected a mapping such as {{field: ..., eq: ...}}")
    keys = set(raw)
    if keys == {"all"} or keys == {"any"}:
        (key,) = keys
        items = raw[key]
        if not isinstance(items, list) or not items:
            raise ConditionSyntaxError(f"{where}.{key}: expected a non-empty list of conditions")
        parsed = tuple(parse_condition(item, f"{where}.{key}[{i}]") for i, item in enumerate(items))
        return AllOf(items=parsed) if key == "all" else AnyOf(items=parsed)
    if keys == {"not"}:
        return NotOf(item=parse_condition(raw["not"], f"{where}.not"))
    if keys == {"is_unknown"}:
        return IsUnknown(field=str(raw["is_unknown"]))
    if keys & {"count", "exists", "none"}:
        if len(keys) != 1:
            raise ConditionSyntaxError(f"{where}: count/exists/none stand alone in their mapping")
        (key,) = keys
        body = raw[key]
        if not isinstance(body, dict) or "list" not in body:
            raise ConditionSyntaxError(f"{where}.{key}: expected {{list: <case list>, where: ...}}")
        where_raw = body.get("where")
        inner = parse_condition(where_raw, f"{where}.{key}.where") if where_raw is not None else None
        if key == "exists":
            extra = set(body) - {"list", "where"}
            if extra:
                raise ConditionSyntaxError(f"{where}.exists: unexpected {sorted(extra)}")
            return Count(list=body["list"], where=inner, op="gte", value=1)
        if key == "none":
            extra = set(body) - {"list", "where"}
            if extra:
                raise ConditionSyntaxError(f"{where}.none: unexpected {sorted(extra)}")
            return Count(list=body["list"], where=inner, op="eq", value=0)
        ops = set(body) - {"list", "where"}
        if len(ops) != 1 or not ops <= set(COUNT_OPS):
            raise ConditionSyntaxError(
                f"{where}.count: expected exactly one of {', '.join(COUNT_OPS)}, got {sorted(ops)}"
            )
        (op,) = ops
        return Count(list=body["list"], where=inner, op=op, value=_value(body[op], f"{where}.count.{op}"))
    if "field" in keys:
        ops = keys - {"field"}
        if len(ops) != 1:
            raise ConditionSyntaxError(
                f"{where}: a comparison has `field` and exactly one operator ({', '.join(COMPARE_OPS)})"
            )
        (op,) = ops
        if op not in COMPARE_OPS:
            raise ConditionSyntaxError(f"{where}: unknown operator {op!r}; expected one of {', '.join(COMPARE_OPS)}")
        return Compare(field=str(raw["field"]), op=op, value=_value(raw[op], f"{where}.{op}"))
    raise ConditionSyntaxError(
        f"{where}: unknown condition keys {sorted(keys)}; expected all, any, not, field, is_unknown, "
        "count, exists or none"
    )


Condition = Annotated[ConditionNode, BeforeValidator(parse_condition)]

for _model in (Count, AllOf, AnyOf, NotOf):
    _model.model_rebuild()


def walk(node: ConditionNode) -> list[ConditionNode]:
    """Every node of a condition, outermost first (item filters of counts included)."""
    out: list[ConditionNode] = [node]
    if isinstance(node, (AllOf, AnyOf)):
        for child in node.items:
            out.extend(walk(child))
    elif isinstance(node, NotOf):
        out.extend(walk(node.item))
    elif isinstance(node, Count) and node.where is not None:
        out.extend(walk(node.where))
    return out
