"""The case form's widget keys, and the widget values that show a case's answers in the form.

The form (`ui.case_form`) names its widgets with the keys below; `form_fill` turns a case into the
value each of those widgets must hold to show it, so an answer given outside the form (a demo
case, pasted JSON, the missing-information box, a kept what-if) is the form's answer too. A value
the widget cannot hold (a number where a choice is asked, a choice the model does not know) is
shown as unknown, never as a default: the form must not turn something it cannot show into "no".

No streamlit here: the mapping is plain data, tested on its own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from decision.fields import FieldSpec, case_layout

UNKNOWN = "(unknown)"
"""A choice question not answered."""
BOOL_CHOICES = ("Unknown", "Yes", "No")
HISTORY = ("Not asked", "None", "Listed")
"""A list's first question: was the history taken? Only "None" is an empty list."""
NOT_ASKED, NONE_LISTED, LISTED = HISTORY
ASKED_ELSEWHERE = {"policy"}
"""The policy profile is chosen beside the report, not in the case form."""
PREFIX = "f_"
DIAGNOSIS_PREFIX = "f_diagnoses."
RANGES = "labs.ranges"


def field_key(path: str, prefix: str = PREFIX) -> str:
    return f"{prefix}{path}"


def taken_key(list_path: str, prefix: str = PREFIX) -> str:
    """The "Not asked / None / Listed" question of a list."""
    return f"{prefix}{list_path}_taken"


def table_key(list_path: str, prefix: str = PREFIX) -> str:
    return f"{prefix}{list_path}_table"


def range_key(lab: str, limit: str) -> str:
    return f"{PREFIX}{RANGES}.{lab}.{limit}"


def widget_value(spec: FieldSpec, value: Any) -> Any:
    """The value a widget built by `answer_widget` holds to show `value` (unknown when it cannot)."""
    if spec.kind == "bool":
        return BOOL_CHOICES[1] if value is True else BOOL_CHOICES[2] if value is False else BOOL_CHOICES[0]
    if spec.kind == "enum":
        return value if isinstance(value, str) and value in spec.choices else UNKNOWN
    if spec.kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        if (spec.minimum is not None and value < spec.minimum) or (spec.maximum is not None and value > spec.maximum):
            return None
        return int(value) if spec.integer else float(value)
    if spec.kind == "date":
        return table_cell(spec, value)
    if spec.kind == "enum_list":
        return [v for v in value if v in spec.choices] if isinstance(value, list) else []
    if spec.kind == "text_list":
        return ", ".join(str(v) for v in value) if isinstance(value, list) else ""
    return value if isinstance(value, str) else ""


def table_cell(spec: FieldSpec, value: Any) -> Any:
    """A list entry's answer as a table cell: dates as dates, levels as text, anything else as given."""
    if spec.kind == "date":
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return None
    if spec.kind == "text_list":
        return ", ".join(str(v) for v in value) if isinstance(value, list) else None
    if spec.kind in ("bool", "enum", "number"):
        shown = widget_value(spec, value)
        return None if shown in (UNKNOWN, BOOL_CHOICES[0]) else shown
    return value if isinstance(value, str) else None


def history(value: Any) -> str:
    """A list's first answer: not asked (unknown), none (empty), or listed."""
    if value is None or not isinstance(value, list):
        return NOT_ASKED
    return NONE_LISTED if not value else LISTED


@dataclass(frozen=True)
class FormFill:
    """What the form's widgets hold to show a case: widget values by key, and each table's rows."""

    values: dict[str, Any] = field(default_factory=dict)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _part(case: dict[str, Any], path: str) -> dict[str, Any]:
    part: Any = case
    for name in path.split("."):
        part = part.get(name) if isinstance(part, dict) else None
    return part if isinstance(part, dict) else {}


def form_fill(case: Any) -> FormFill:
    """Every form widget's value for this case, so the form shows exactly its answers.

    Widgets for answers the case does not have are set back to unknown: a refill replaces what
    the form showed before, it never mixes two cases.
    """
    case = case if isinstance(case, dict) else {}
    values: dict[str, Any] = {}
    rows: dict[str, list[dict[str, Any]]] = {}
    own, *parts = case_layout()
    for spec in own.fields:
        if spec.path in ASKED_ELSEWHERE:
            continue
        if spec.kind == "enum_list":
            values[taken_key(spec.path)] = history(case.get(spec.path))
            values[field_key(spec.path)] = widget_value(spec, case.get(spec.path))
        else:
            values[field_key(spec.path)] = widget_value(spec, case.get(spec.path))
    for group in parts:
        if group.keys:
            ranges = _part(case, group.path)
            for lab in group.keys:
                limits = ranges.get(lab) if isinstance(ranges.get(lab), dict) else {}
                for spec in group.fields:
                    values[range_key(lab, spec.path)] = widget_value(spec, (limits or {}).get(spec.path))
        elif group.path == "diagnoses":
            listed = case.get("diagnoses")
            first = listed[0] if isinstance(listed, list) and listed and isinstance(listed[0], dict) else {}
            for spec in group.fields:
                values[field_key(spec.path, DIAGNOSIS_PREFIX)] = widget_value(spec, first.get(spec.path))
        elif group.repeated:
            listed = case.get(group.path)
            values[taken_key(group.path)] = history(listed)
            rows[group.path] = [
                {spec.path: table_cell(spec, entry.get(spec.path)) for spec in group.fields}
                for entry in (listed if isinstance(listed, list) else [])
                if isinstance(entry, dict)
            ]
        else:
            for spec in group.fields:
                values[field_key(spec.path)] = widget_value(
                    spec, _part(case, group.path).get(spec.path.rsplit(".")[-1])
                )
    return FormFill(values, rows)
