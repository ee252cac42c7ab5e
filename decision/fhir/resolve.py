"""How conflicting statements in one record are settled: agree, supersede by date, or leave unknown."""

from __future__ import annotations

import datetime as dt
import json

from decision.fhir.elements import number
from decision.fhir.reader import Dose, DoseTime, RecordReader, Sourced
from knowledge.codemaps import Scalar


def resolve_scalar(reader: RecordReader, path: str, values: list[Sourced[Scalar]]) -> Scalar | None:
    """One value per field: equal values agree; a dated value supersedes older ones; an
    undated disagreement leaves the field unknown."""
    distinct = {json.dumps(v.value) for v in values}
    if len(distinct) == 1:
        return values[0].value
    if all(v.when is not None for v in values):
        latest = max(values, key=lambda v: v.when or dt.datetime.min)
        ties = {json.dumps(v.value) for v in values if v.when == latest.when}
        if len(ties) == 1:
            for v in values:
                if v is not latest and json.dumps(v.value) != json.dumps(latest.value):
                    reader.ignore(v.origin, f"{path}: superseded by a later value ({latest.origin})", v.element)
            return latest.value
    for v in values:
        reader.ignore(v.origin, f"{path}: the record gives conflicting values; left unknown", v.element)
    return None


def put_symptom_duration(reader: RecordReader) -> None:
    """Symptom duration from the conditions' onset, when none was recorded and all onsets agree."""
    on = reader.assessment_date
    if not reader.onsets or on is None or "symptoms.duration_weeks" in reader.scalars:
        return
    earliest = {v.value for v in reader.onsets}
    if len(earliest) == 1:
        days = (on - reader.onsets[0].value).days
        if days >= 0:
            weeks = number(round(days / 7, 4))
            if weeks is not None:
                reader.put("symptoms.duration_weeks", weeks, reader.onsets[0].origin, element="onsetDateTime")
    else:
        for v in reader.onsets:
            reader.ignore(v.origin, "conditions give different onset dates: symptom duration left unknown", v.element)


def latest_dose(reader: RecordReader, name: str, records: list[Sourced[DoseTime]]) -> float | None:
    """Hours since the last dose, only when no record says the drug is still being taken
    (then a recorded dose need not be the last one)."""
    ongoing = [r for r in records if r.value is Dose.ONGOING]
    times = [r.value for r in records if isinstance(r.value, dt.datetime)]
    if ongoing:
        if times:
            reader.ignore(
                ongoing[0].origin,
                f"{name} is recorded as still taken: the last recorded dose may not be the last; hours left unknown",
                ongoing[0].element,
            )
        return None
    return reader.hours_before_now(max(times)) if times else None
