"""MedicationStatement, MedicationRequest, MedicationAdministration (and the Medication they point to):
which drugs the patient takes or took, and when the last dose was given."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, cast

from decision.fhir.elements import as_date, as_datetime, codings, concept_text, reference_key
from decision.fhir.parsing import Parsed
from decision.fhir.reader import Dose, DoseTime, RecordReader, Sourced

if TYPE_CHECKING:
    from fhir.resources.R4B.codeableconcept import CodeableConcept
    from fhir.resources.R4B.medication import Medication
    from fhir.resources.R4B.medicationadministration import MedicationAdministration
    from fhir.resources.R4B.medicationrequest import MedicationRequest
    from fhir.resources.R4B.medicationstatement import MedicationStatement

    MedicationRecord = MedicationStatement | MedicationRequest | MedicationAdministration

NOT_TAKEN = {
    "MedicationStatement": ("not-taken", "entered-in-error", "intended"),
    "MedicationRequest": ("cancelled", "entered-in-error", "draft"),
    "MedicationAdministration": ("not-done", "entered-in-error"),
}


def index_medications(parsed: Parsed, reader: RecordReader) -> None:
    """Every Medication's code by the references that may point to it, before any record is read."""
    for _, res in parsed:
        if res.get_resource_type() == "Medication" and res.id:
            code = _medication(res).code
            reader.media[f"Medication/{res.id}"] = code
            reader.media[f"#{res.id}"] = code


def _medication(res: object) -> Medication:
    return cast("Medication", res)  # the caller checked the resource type


def read_statement(reader: RecordReader, origin: str, res: MedicationStatement) -> None:
    said_today = as_date(res.dateAsserted) == reader.assessment_date
    _read_medication(reader, origin, res, said_today, lambda: _statement_dose(reader, origin, res))


def read_request(reader: RecordReader, origin: str, res: MedicationRequest) -> None:
    _read_medication(reader, origin, res, False, lambda: Dose.ONGOING if res.status == "active" else None)


def read_administration(reader: RecordReader, origin: str, res: MedicationAdministration) -> None:
    _read_medication(reader, origin, res, False, lambda: _administration_dose(reader, origin, res))


def _read_medication(
    reader: RecordReader, origin: str, res: MedicationRecord, said_none_today: bool, last_dose: Callable[[], DoseTime]
) -> None:
    """`said_none_today`: a "no medications" code counts only in a MedicationStatement asserted on the
    assessment day; `last_dose` reads when the last dose was given (it may report what it cannot use)."""
    kind = res.get_resource_type()
    status = res.status
    if status in NOT_TAKEN[kind]:
        reader.ignore(origin, f"status '{status}': not a medication the patient takes or took", "status")
        return
    concept = res.medicationCodeableConcept
    if concept is None and res.medicationReference is not None:
        concept = _referenced_medication(reader, res)
        if concept is None:
            reader.ignore(
                origin, "medication reference not found in the record", "medicationReference", ("medications",)
            )
            return
    if reader.absent(concept, origin):
        if not said_none_today:
            reader.stated_none.pop("medications", None)
            reader.ignore(
                origin,
                "a 'no medications' statement counts only as a MedicationStatement asserted on the assessment day",
                "dateAsserted",
            )
        return
    name = _medication_name(reader, origin, concept)
    if not name:
        reader.ignore(origin, "medication has no code or name", "medication[x]", ("medications",))
        return
    reader.medications.setdefault(name, []).append(Sourced(last_dose(), origin, element=kind))


def _statement_dose(reader: RecordReader, origin: str, res: MedicationStatement) -> DoseTime:
    """A statement that the drug was stopped dates the last dose; one that it is taken says ONGOING."""
    status = res.status
    if status in ("completed", "stopped", "on-hold"):
        period = res.effectivePeriod
        raw = period.end if period else res.effectiveDateTime if status == "completed" else None
        return _dose_at(reader, origin, raw)
    if status in ("active", "unknown"):
        return Dose.ONGOING
    return None


def _administration_dose(reader: RecordReader, origin: str, res: MedicationAdministration) -> DoseTime:
    if res.status == "in-progress":
        return Dose.ONGOING
    raw = res.effectiveDateTime or (res.effectivePeriod.end if res.effectivePeriod else None)
    return _dose_at(reader, origin, raw)


def _dose_at(reader: RecordReader, origin: str, raw: object) -> dt.datetime | None:
    """A recorded dose time: it needs a time of day, and must not be after the assessment."""
    if raw is not None and not isinstance(raw, dt.datetime):
        reader.ignore(
            origin, f"dose dated {raw} without a time: hours since the last dose left unknown", "effective[x]"
        )
        return None
    when = as_datetime(raw)
    if reader.after_now(when):
        reader.ignore(origin, "dose recorded after the assessment time", "effective[x]")
        return None
    return when


def _referenced_medication(reader: RecordReader, res: MedicationRecord) -> CodeableConcept | None:
    key = reference_key(res.medicationReference) or ""
    if key.startswith("#"):
        for contained in res.contained or []:
            if contained.get_resource_type() == "Medication" and f"#{contained.id}" == key:
                return _medication(contained).code
        return None
    return reader.media.get(reader.full_urls.get(key, key))


def _medication_name(reader: RecordReader, origin: str, concept: CodeableConcept | None) -> str | None:
    """The generic name by code; by the record's own words otherwise (the rules read brand
    names and flag unlisted drugs). A code whose display names another drug is not trusted."""
    text = concept_text(concept).strip().lower()[:100]
    for coding in codings(concept):
        entry = reader.codes.medications.get((coding.system, coding.code))
        if entry is None:
            continue
        words = " ".join([coding.display, str(concept.text or "") if concept else ""]).lower()
        term = _medication_terms().get(entry.medication, {entry.medication})
        if words.strip() and not any(name in words for name in term):
            reader.ignore(
                origin,
                f"code {coding.code} means {entry.medication} but the record names '{words.strip()}'",
                "medication[x]",
            )
            return text or None
        return entry.medication
    return text or None


@cache
def _medication_terms() -> dict[str, frozenset[str]]:
    """Each listed drug's generic and brand names, to check a code against the record's words."""
    from decision.case import vocabulary

    return {name: frozenset({name, *term.aliases}) for name, term in vocabulary().medications.items()}
