"""Condition: diagnoses in scope, the case facts a code states (or rules out), and symptom onset."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from decision.fhir.elements import Coded, as_date, codings, concept_text, status_code
from decision.fhir.reader import RecordReader, Sourced
from knowledge.codemaps import DiagnosisPart, Scalar, icd10cm

if TYPE_CHECKING:
    from fhir.resources.R4B.condition import Condition

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
NOT_CONFIRMED = ("unconfirmed", "provisional", "differential")


def read_condition(reader: RecordReader, origin: str, res: Condition) -> None:
    verification = status_code(res.verificationStatus)
    clinical = status_code(res.clinicalStatus)
    if verification == "entered-in-error":
        reader.ignore(origin, "entered in error")
        return
    if verification not in ("refuted", *NOT_CONFIRMED) and reader.absent(res.code, origin):
        return
    part, facts, refuted = _condition_codes(reader, origin, res)
    if verification == "refuted":
        recorded = as_date(res.recordedDate)
        if refuted and recorded != reader.assessment_date:
            reader.ignore(
                origin,
                f"ruled out on {recorded or 'an unrecorded date'}: a ruled-out finding counts only when "
                "recorded on the assessment day",
                "recordedDate",
            )
            return
        for path, value in refuted.items():
            reader.put(path, value, origin, element="code (refuted)")
        if not refuted:
            reader.ignore(origin, "the record says this condition was ruled out", "verificationStatus")
        return
    if verification in NOT_CONFIRMED:
        reader.ignore(origin, f"not confirmed ({verification}): record it as confirmed to use it", "verificationStatus")
        return
    if clinical in ("inactive", "remission", "resolved"):
        reader.ignore(origin, f"not active ({clinical})", "clinicalStatus")
        return
    for path, value in facts.items():
        reader.put(path, value, origin, element="code")
    if part is None:
        return
    diagnosis = _diagnosis_extensions(reader, origin, res, part)
    reader.diagnoses.append(diagnosis)
    onset = as_date(res.onsetDateTime) or as_date(res.onsetPeriod.start if res.onsetPeriod else None)
    if onset is not None:
        reader.onsets.append(Sourced(onset, origin, element="onsetDateTime"))
    elif res.onsetAge is not None or res.onsetString is not None or res.onsetRange is not None:
        reader.ignore(origin, "onset is not a date: symptom duration stays unknown", "onset[x]")


def _condition_codes(
    reader: RecordReader, origin: str, res: Condition
) -> tuple[dict[str, Any] | None, dict[str, Scalar], dict[str, Scalar]]:
    """(the diagnosis the codes name, the facts they state, the facts they state when ruled out)."""
    local = reader.codes.maps.local
    part: dict[str, Any] | None = None
    facts: dict[str, Scalar] = {}
    refuted: dict[str, Scalar] = {}
    found_codes = codings(res.code)
    if not found_codes:
        reader.ignore(origin, f"no coded diagnosis ('{concept_text(res.code)}')", "code")
        return None, facts, refuted
    for coding in found_codes:
        key = (coding.system, coding.code)
        found: DiagnosisPart | None = None
        if coding.system == local.condition:
            # "unspecified": a spinal diagnosis the record does not name yet (kept, kind unknown)
            found = DiagnosisPart.model_construct(condition=None if coding.code == "unspecified" else coding.code)
        elif key in reader.codes.conditions:
            entry = reader.codes.conditions[key]
            found = entry.diagnosis
            facts.update(entry.facts)
            refuted.update(entry.refuted_facts)
        else:
            reader.ignore(origin, _why_unmapped(reader, coding), f"code {coding.code}")
            continue
        if found is None:
            continue
        new = found.model_dump(exclude_none=True)
        if part is None:
            part = {"condition": None, **new}
            continue
        for name, value in new.items():
            if part.get(name) not in (None, value):
                reader.ignore(origin, f"codes disagree on the {name}: {part[name]} or {value}", f"code {coding.code}")
                part[name] = None
            elif part.get(name) is None:
                part[name] = value
    return part, facts, refuted


def _why_unmapped(reader: RecordReader, coding: Coded) -> str:
    key = (coding.system, coding.code)
    if key in reader.codes.unmapped:
        return reader.codes.unmapped[key].reason
    if coding.system == ICD10CM:
        cm = icd10cm()
        if not cm.is_valid_item(coding.code):
            return "not an ICD-10-CM code"
        if not cm.is_leaf(coding.code):
            return "an ICD-10-CM category, not a billable code: record the full code"
        return "not a diagnosis in scope (no entry in the code map)"
    return f"code not in the map ({coding.system or 'no system'})"


def _diagnosis_extensions(reader: RecordReader, origin: str, res: Condition, part: dict[str, Any]) -> dict[str, Any]:
    for name in ("region", "side", "subtype"):
        values = reader.ext(origin, res, name)
        if not values:
            continue
        value = str(values[0])
        if part.get(name) in (None, value):
            part[name] = value
        else:
            reader.ignore(
                origin, f"extension {name} '{value}' disagrees with the code ({part[name]})", f"extension {name}"
            )
    levels = [str(v) for v in reader.ext(origin, res, "levels")]
    if levels:
        if part.get("levels") and sorted(part["levels"]) != sorted(levels):
            reader.ignore(origin, f"levels {levels} disagree with the code ({part['levels']})", "extension levels")
        else:
            part["levels"] = levels
    return part
