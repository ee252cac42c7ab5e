"""Patient: sex and age (from the birth date, at the assessment date)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from decision.fhir.reader import RecordReader

if TYPE_CHECKING:
    from fhir.resources.R4B.patient import Patient


def read_patient(reader: RecordReader, origin: str, res: Patient) -> None:
    gender = {"male": "male", "female": "female", "other": "other"}.get(res.gender or "")
    if gender:
        reader.put("sex", gender, origin, element="gender")
    elif res.gender == "unknown":
        reader.ignore(origin, "gender 'unknown': sex stays unknown", "gender")
    born: object = res.birthDate
    if born is None:
        return
    if isinstance(born, str) or not isinstance(born, dt.date):
        reader.ignore(origin, f"birth date '{born}' is not a full date: age stays unknown", "birthDate")
        return
    on = reader.assessment_date
    if on is None:
        reader.ignore(origin, "no assessment date (Bundle.timestamp): age cannot be worked out", "birthDate")
    elif born > on:
        reader.ignore(origin, "birth date is after the assessment date", "birthDate")
    else:
        reader.put(
            "age", on.year - born.year - ((on.month, on.day) < (born.month, born.day)), origin, element="birthDate"
        )
