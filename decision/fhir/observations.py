"""Observation: labs (with the laboratory's reference range), scores, and spine-cds case-field observations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from decision.fhir.case_fields import case_scalar_paths
from decision.fhir.elements import as_datetime, codings, concept_text, number
from decision.fhir.reader import LabRange, RecordReader, Sourced
from knowledge.codemaps import ObservationCode, Scalar

if TYPE_CHECKING:
    from fhir.resources.R4B.observation import Observation


def read_observation(reader: RecordReader, origin: str, res: Observation) -> None:
    if res.status not in ("final", "amended", "corrected"):
        reader.ignore(origin, f"status '{res.status}': only final results are used", "status")
        return
    path, entry = _observation_field(reader, origin, res)
    if path is None:
        return
    when = (
        as_datetime(res.effectiveDateTime)
        or as_datetime(res.effectivePeriod.end if res.effectivePeriod else None)
        or as_datetime(res.effectiveInstant)
        or as_datetime(res.issued)
    )
    if reader.after_now(when):
        reader.ignore(origin, "recorded after the assessment time", "effective[x]")
        return
    if path in reader.codes.maps.current_fields and not reader.on_assessment_day(when):
        reader.ignore(
            origin,
            f"{path} dated {when.date() if when else 'nowhere'}: it counts only when recorded on the assessment day",
            "effective[x]",
        )
        return
    if res.dataAbsentReason is not None:
        reader.ignore(
            origin,
            f"no value ({concept_text(res.dataAbsentReason) or 'data absent'}): {path} stays unknown",
            "value[x]",
        )
        return
    value, problem = _observation_value(res, path, entry)
    if problem or value is None:
        reader.ignore(origin, problem or "no value", "value[x]")  # a value always comes without a problem
        return
    reader.put(path, value, origin, when, "value[x]")
    if path.startswith("labs.") and res.referenceRange:
        _reference_range(reader, origin, path.removeprefix("labs."), res, entry)


def _reference_range(
    reader: RecordReader, origin: str, lab: str, res: Observation, entry: ObservationCode | None
) -> None:
    """The laboratory's own range (Observation.referenceRange), in the case's unit; the rules judge
    the value against it before any policy default."""
    ranges = res.referenceRange or []
    first = ranges[0]
    bounds: LabRange = {}
    for name in ("low", "high"):
        qty = getattr(first, name)
        if qty is None:
            bounds[name] = None
            continue
        unit = str(qty.code or qty.unit or "")
        value = number(qty.value)
        if value is None or (entry is not None and entry.units and unit not in entry.units):
            reader.ignore(origin, f"reference range {name} '{qty.value} {unit}' cannot be read", "referenceRange")
            return
        factor = entry.units[unit] if entry is not None and entry.units else 1.0
        bounds[name] = number(round(value * factor, 6))
    if len(ranges) > 1:
        reader.ignore(origin, "more than one reference range: the first is used", "referenceRange[1:]")
    if bounds["low"] is not None or bounds["high"] is not None:
        reader.lab_ranges.setdefault(lab, []).append(Sourced(bounds, origin, None, "referenceRange"))


def _observation_field(
    reader: RecordReader, origin: str, res: Observation
) -> tuple[str | None, ObservationCode | None]:
    """The case field the code names: a spine-cds case-field code, or a mapped standard code."""
    for coding in codings(res.code):
        if coding.system == reader.codes.maps.local.case_field:
            if coding.code in case_scalar_paths():
                return coding.code, None
            reader.ignore(origin, f"'{coding.code}' is not a case field", "code")
            return None, None
        entry = reader.codes.observations.get((coding.system, coding.code))
        if entry is not None:
            return entry.field, entry
    reader.ignore(origin, f"observation code not in the map ('{concept_text(res.code) or 'uncoded'}')", "code")
    return None, None


def _observation_value(res: Observation, path: str, entry: ObservationCode | None) -> tuple[Scalar | None, str | None]:
    """(the value in the case's unit, or why it cannot be read)."""
    if res.valueQuantity is not None:
        qty = res.valueQuantity
        unit = str(qty.code or qty.unit or "")
        factor = 1.0
        if qty.comparator:
            return None, f"'{qty.comparator}{qty.value}' is a bound, not a value"
        if entry is not None and entry.units:
            if unit not in entry.units:
                known = ", ".join(u or "(none)" for u in entry.units)
                return None, f"unit '{unit or '(none)'}' cannot be read for {path} (known: {known})"
            factor = entry.units[unit]
        value = number(qty.value)
        if value is None:
            return None, "quantity without a value"
        return number(round(value * factor, 6)), None
    if res.valueBoolean is not None:
        return bool(res.valueBoolean), None
    if res.valueInteger is not None:
        return int(res.valueInteger), None
    if res.valueCodeableConcept is not None:
        for coding in codings(res.valueCodeableConcept):
            key = f"{coding.system}|{coding.code}"
            if entry is not None and key in entry.answers:
                answer = entry.answers[key]
                return (answer, None) if answer is not None else (None, f"answer '{coding.code}' says unknown")
            if entry is None:
                return coding.code, None
        return None, f"coded answer not in the map ('{concept_text(res.valueCodeableConcept)}')"
    if res.valueString is not None and entry is None:
        return str(res.valueString), None
    return None, "no value of a type spine-cds reads"
