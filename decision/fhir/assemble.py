"""From what a record said to a valid Case: one value per field, the lists the record states, and
every mapped value the case model rejects moved to ignored input."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from decision.case import Case
from decision.fhir.case_fields import LIST_FIELDS
from decision.fhir.errors import FhirInputError
from decision.fhir.reader import RecordReader
from decision.fhir.resolve import latest_dose, put_symptom_duration, resolve_scalar

Location = list[int | str]


def case_data(reader: RecordReader, case_id: str | None) -> dict[str, Any]:
    """The case as data (not yet validated), each conflict settled or reported."""
    out: dict[str, Any] = {"case_id": case_id, "assessment_date": reader.assessment_date}
    put_symptom_duration(reader)
    for path, values in sorted(reader.scalars.items()):
        value = resolve_scalar(reader, path, values)
        if value is None:
            continue
        head, _, tail = path.partition(".")
        if tail:
            out.setdefault(head, {})[tail] = value
        else:
            out[head] = value
    ranges: dict[str, dict[str, float | None]] = {}
    for lab, recorded in sorted(reader.lab_ranges.items()):
        if "labs" not in out or lab not in out["labs"]:
            continue
        if any(r.value != recorded[0].value for r in recorded):
            for r in recorded:
                reader.ignore(
                    r.origin, f"{lab} reference ranges disagree: the policy's default range is used", r.element
                )
            continue
        ranges[lab] = recorded[0].value
    if ranges:
        out["labs"]["ranges"] = ranges
    meds = [
        {"name": name, "last_dose_hours_ago": latest_dose(reader, name, records)}
        for name, records in sorted(reader.medications.items())
    ]
    lists: dict[str, list[Any]] = {
        "diagnoses": reader.diagnoses,
        "imaging": list(reader.imaging.values()),
        "medications": meds,
        "allergies": sorted(reader.allergies),
        "prior_injections": reader.prior_injections,
        "diagnostic_blocks": reader.diagnostic_blocks,
    }
    for name in ("diagnoses", "diagnostic_blocks"):  # a record often states one twice (problem list and encounter)
        unique = list({json.dumps(item, sort_keys=True, default=str): item for item in lists[name]}.values())
        if len(unique) < len(lists[name]):
            reader.ignore("(record)", f"{name}: {len(lists[name]) - len(unique)} repeated entries counted once")
            lists[name] = unique
    for name, items in lists.items():
        if name in reader.incomplete:
            reader.ignore("(record)", f"{name}: a record of this list could not be used, so the list is left unknown")
            continue
        if items:
            out[name] = items
            if name in reader.stated_none:
                reader.ignore(reader.stated_none[name], f"says no {name} are known, but the record lists some")
        elif name in reader.stated_none:
            out[name] = []
    return out


def validated_case(data: dict[str, Any], reader: RecordReader) -> Case:
    """The case, with any mapped value the case model rejects moved to ignored input."""
    for _attempt in range(50):
        try:
            return Case.model_validate(data)
        except ValidationError as err:
            first = err.errors(include_url=False)[0]
            locs = [list(first["loc"])] if first["loc"] else _whole_case_error_fields(first)
            where = ", ".join(".".join(str(p) for p in loc) for loc in locs) or "(case)"
            reader.ignore("(mapped case)", f"{first['msg']}: left unknown", where)
            if not locs:
                break
            for loc in locs:
                if loc and loc[0] in LIST_FIELDS and len(loc) > 1:
                    data[str(loc[0])] = None  # a list missing an item is not complete: unknown
                else:
                    _drop(data, loc)
    raise FhirInputError(["the record could not be turned into a valid case"])


def _whole_case_error_fields(error: ErrorDetails) -> list[Location]:
    """The fields a whole-case check names (a contradiction): each is left unknown, since the
    record does not say which of them is wrong."""
    ctx = error.get("ctx") or {}
    named = str(ctx.get("field", ""))
    path = named.replace("[", ".").replace("]", "").split(".") if named else []
    locs: list[Location] = [[int(p) if p.isdigit() else p for p in path]] if path else []
    if error.get("type") == "sex_contradiction":
        locs.append(["sex"])
    return locs


def _drop(data: dict[str, Any], loc: Location) -> None:
    node: Any = data
    for part in loc[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
            continue
        if isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            continue
        break
    else:
        last = loc[-1] if loc else None
        if isinstance(node, dict) and last in node:
            node[last] = None
            return
        if isinstance(node, list) and isinstance(last, int) and last < len(node):
            node.pop(last)
            return
    # The error sits on an object as a whole (a model check): drop that object.
    if len(loc) > 1:
        _drop(data, loc[:-1])
    elif loc:
        data.pop(str(loc[0]), None)
