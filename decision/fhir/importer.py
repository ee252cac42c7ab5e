"""FHIR R4B → Case: read what a record system already holds instead of retyping it.

The translation of codes is data (`knowledge/fhir/codes.yaml`); this module only walks the
resources. Two promises shape it. Nothing the record does not say becomes a case fact: absent
resources leave fields unknown, so the engine asks for them. Nothing the record says is dropped
silently: every resource, code or value that did not become part of the case is returned as
ignored input, with the reason, and the report lists it.

Lists (medications, allergies, prior injections, imaging, diagnoses) follow one rule: a list is
known when the record states it, either by an explicit "none known" (an IPS absent code or an
empty List with emptyReason nilknown) or by at least one entry the case can hold. Unrelated
entries (a penicillin allergy, an appendectomy) neither fill nor close a list.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from decision.case import Case
from decision.report import IgnoredInput, Report
from knowledge.codemaps import CodeIndex, DiagnosisPart, default_codemaps, icd10cm

SUPPORTED = (
    "Patient",
    "Condition",
    "Observation",
    "MedicationStatement",
    "MedicationRequest",
    "MedicationAdministration",
    "Medication",
    "AllergyIntolerance",
    "Procedure",
    "ImagingStudy",
    "DiagnosticReport",
    "List",
)
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ONGOING = object()
"""A medication record that says the drug is still taken: no recorded dose is the last one."""
INJECTION_LISTS = ("prior_injections", "diagnostic_blocks")
MODIFIED_LISTS = {
    "MedicationStatement": ("medications",),
    "MedicationRequest": ("medications",),
    "MedicationAdministration": ("medications",),
    "Medication": ("medications",),
    "AllergyIntolerance": ("allergies",),
    "Procedure": INJECTION_LISTS,
    "ImagingStudy": ("imaging",),
    "DiagnosticReport": ("imaging",),
    "Condition": ("diagnoses",),
}
LIST_FIELDS = ("diagnoses", "imaging", "medications", "allergies", "prior_injections", "diagnostic_blocks")
MAX_RESOURCES = 5000


class FhirInputError(ValueError):
    """The input is not FHIR R4B we can read; `problems` name each entry and element."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid FHIR input:\n" + "\n".join(f"  - {p}" for p in problems))


class ProcedureSelection(BaseModel):
    """The injection an order asks for, as far as its codes say (None = not coded)."""

    model_config = ConfigDict(frozen=True)
    procedure: str
    approach: str | None = None
    region: str | None = None


class ImportedCase(BaseModel):
    model_config = ConfigDict(frozen=True)
    case: Case
    ignored_input: list[IgnoredInput]


# -- reading resources ---------------------------------------------------------------------


@dataclass
class Coded:
    system: str
    code: str
    display: str


def _codings(concept: Any) -> list[Coded]:
    if concept is None:
        return []
    return [Coded(c.system or "", c.code or "", c.display or "") for c in (concept.coding or []) if c.code]


def _concept_text(concept: Any) -> str:
    if concept is None:
        return ""
    return str(concept.text or next((c.display for c in concept.coding or [] if c.display), "") or "")


def _status_code(concept: Any) -> str | None:
    codes = _codings(concept)
    return codes[0].code if codes else None


def _as_datetime(value: Any) -> dt.datetime | None:
    """A FHIR date or dateTime as an aware datetime; a bare date is taken as its start (UTC)."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), dt.UTC)
    return None


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return None


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    return int(number) if number.is_integer() else number


EXTENSION_KINDS = {
    "levels": "text",
    "side": "text",
    "subtype": "text",
    "region": "text",
    "approach": "text",
    "steroid": "bool",
    "relief_percent": "number",
    "relief_weeks": "number",
    "concordant": "bool",
}
EXTENSION_TYPES = {
    "text": ("valueCode", "valueString"),
    "bool": ("valueBoolean",),
    "number": ("valueDecimal", "valueInteger"),
}


def _extension_values(resource: Any, url: str, kind: str) -> tuple[list[Any], bool]:
    """(values of the expected type, whether an extension with this URL had another type).

    A concordance given as the string "false" must not read as true: only the FHIR type that
    carries the meaning is read, and anything else is reported by the caller."""
    out: list[Any] = []
    wrong = False
    for ext in resource.extension or []:
        if ext.url != url:
            continue
        value = next((getattr(ext, n) for n in EXTENSION_TYPES[kind] if getattr(ext, n, None) is not None), None)
        if value is None:
            wrong = True
        else:
            out.append(float(value) if kind == "number" else value)
    return out, wrong


def _label(resource: Any, index: int) -> str:
    kind = resource.get_resource_type()
    return f"{kind}/{resource.id}" if resource.id else f"{kind}[{index}]"


def _reference_key(reference: Any) -> str | None:
    """A reference as written, without a version. An absolute URL is kept whole: the same id on
    another server may be another patient."""
    if reference is None or not reference.reference:
        return None
    return str(reference.reference).split("/_history/", 1)[0]


@cache
def _model_class(resource_type: str) -> Any:
    from fhir.resources.R4B import get_fhir_model_class

    return get_fhir_model_class(resource_type)


def _problems(label: str, err: ValidationError) -> list[str]:
    out = []
    for e in err.errors(include_url=False)[:10]:
        where = ".".join(str(p) for p in e["loc"] if p != "__root__")
        out.append(f"{label}: {where or '(resource)'}: {e['msg']}")
    return out


def parse_resources(
    resources: Iterable[Any], supported: tuple[str, ...] = SUPPORTED
) -> tuple[list[tuple[str, Any]], list[IgnoredInput]]:
    """Validate each resource with the FHIR R4B models. Unsupported types are ignored input;
    invalid resources raise FhirInputError naming the entry and the element."""
    parsed: list[tuple[str, Any]] = []
    ignored: list[IgnoredInput] = []
    problems: list[str] = []
    for index, raw in enumerate(resources):
        if index >= MAX_RESOURCES:
            problems.append(f"more than {MAX_RESOURCES} resources: split the record")
            break
        if not isinstance(raw, Mapping):
            problems.append(f"entry[{index}]: expected a FHIR resource (a JSON object)")
            continue
        kind = raw.get("resourceType")
        label = f"{kind}/{raw.get('id')}" if raw.get("id") else f"{kind}[{index}]"
        if not isinstance(kind, str) or not kind:
            problems.append(f"entry[{index}]: no resourceType")
            continue
        try:
            model = _model_class(kind)
        except (KeyError, ValueError, AttributeError, ImportError):
            problems.append(f"entry[{index}]: '{kind}' is not a FHIR R4B resource type")
            continue
        try:
            resource = model.model_validate(dict(raw))
        except ValidationError as err:
            problems.extend(_problems(label, err))
            continue
        except (TypeError, ValueError) as err:
            problems.append(f"{label}: {err}")
            continue
        if kind not in supported:
            ignored.append(IgnoredInput(resource=label, reason=f"{kind} resources are not used by spine-cds"))
            continue
        parsed.append((_label(resource, index), resource))
    if problems:
        raise FhirInputError(problems)
    return parsed, ignored


# -- collecting case facts -------------------------------------------------------------------


@dataclass
class _Value:
    value: Any
    origin: str
    when: dt.datetime | None = None
    element: str | None = None


@dataclass
class _Reader:
    """Walks parsed resources and gathers what each says, with where it came from."""

    codes: CodeIndex
    now: dt.datetime | None
    scalars: dict[str, list[_Value]] = field(default_factory=dict)
    diagnoses: list[dict[str, Any]] = field(default_factory=list)
    onsets: list[_Value] = field(default_factory=list)
    medications: dict[str, list[_Value]] = field(default_factory=dict)
    allergies: set[str] = field(default_factory=set)
    prior_injections: list[dict[str, Any]] = field(default_factory=list)
    diagnostic_blocks: list[dict[str, Any]] = field(default_factory=list)
    imaging: dict[str, dict[str, Any]] = field(default_factory=dict)
    stated_none: dict[str, str] = field(default_factory=dict)
    ignored: list[IgnoredInput] = field(default_factory=list)
    media: dict[str, Any] = field(default_factory=dict)
    full_urls: dict[str, str] = field(default_factory=dict)
    incomplete: set[str] = field(default_factory=set)
    lab_ranges: dict[str, list[_Value]] = field(default_factory=dict)

    @property
    def assessment_date(self) -> dt.date | None:
        return self.now.date() if self.now else None

    def ignore(self, origin: str, reason: str, element: str | None = None, reopens: tuple[str, ...] = ()) -> None:
        """List what was not used; `reopens` names the case lists this record belonged to, which
        can no longer be taken as complete."""
        self.ignored.append(IgnoredInput(resource=origin, element=element, reason=reason))
        self.incomplete.update(reopens)

    def ext(self, origin: str, res: Any, name: str) -> list[Any]:
        kind = EXTENSION_KINDS[name]
        values, wrong = _extension_values(res, getattr(self.codes.maps.extensions, name), kind)
        if wrong:
            expected = " or ".join(EXTENSION_TYPES[kind])
            self.ignore(
                origin, f"extension {name} must be given as {expected}; this one was not used", f"extension {name}"
            )
        return values

    def put(
        self, path: str, value: Any, origin: str, when: dt.datetime | None = None, element: str | None = None
    ) -> None:
        self.scalars.setdefault(path, []).append(_Value(value, origin, when, element))

    def on_assessment_day(self, when: dt.datetime | None) -> bool:
        return when is not None and self.now is not None and when.astimezone(self.now.tzinfo).date() == self.now.date()

    def after_now(self, when: dt.datetime | None) -> bool:
        return when is not None and self.now is not None and when > self.now

    def hours_before_now(self, when: dt.datetime | None) -> float | None:
        if when is None or self.now is None:
            return None
        hours = (self.now - when).total_seconds() / 3600
        return round(hours, 4) if hours >= 0 else None

    # -- one handler per resource type ------------------------------------------------------
    def patient(self, origin: str, res: Any) -> None:
        gender = {"male": "male", "female": "female", "other": "other"}.get(res.gender or "")
        if gender:
            self.put("sex", gender, origin, element="gender")
        elif res.gender == "unknown":
            self.ignore(origin, "gender 'unknown': sex stays unknown", "gender")
        born = res.birthDate
        if born is None:
            return
        if isinstance(born, str) or not isinstance(born, dt.date):
            self.ignore(origin, f"birth date '{born}' is not a full date: age stays unknown", "birthDate")
            return
        on = self.assessment_date
        if on is None:
            self.ignore(origin, "no assessment date (Bundle.timestamp): age cannot be worked out", "birthDate")
        elif born > on:
            self.ignore(origin, "birth date is after the assessment date", "birthDate")
        else:
            self.put(
                "age", on.year - born.year - ((on.month, on.day) < (born.month, born.day)), origin, element="birthDate"
            )

    def condition(self, origin: str, res: Any) -> None:
        verification = _status_code(res.verificationStatus)
        clinical = _status_code(res.clinicalStatus)
        if verification == "entered-in-error":
            self.ignore(origin, "entered in error")
            return
        if verification not in ("refuted", "unconfirmed", "provisional", "differential") and self._absent(
            res.code, origin
        ):
            return
        part, facts, refuted = self._condition_codes(origin, res)
        if verification == "refuted":
            recorded = _as_date(res.recordedDate)
            if refuted and recorded != self.assessment_date:
                self.ignore(
                    origin,
                    f"ruled out on {recorded or 'an unrecorded date'}: a ruled-out finding counts only when "
                    "recorded on the assessment day",
                    "recordedDate",
                )
                return
            for path, value in refuted.items():
                self.put(path, value, origin, element="code (refuted)")
            if not refuted:
                self.ignore(origin, "the record says this condition was ruled out", "verificationStatus")
            return
        if verification in ("unconfirmed", "provisional", "differential"):
            self.ignore(
                origin, f"not confirmed ({verification}): record it as confirmed to use it", "verificationStatus"
            )
            return
        if clinical in ("inactive", "remission", "resolved"):
            self.ignore(origin, f"not active ({clinical})", "clinicalStatus")
            return
        for path, value in facts.items():
            self.put(path, value, origin, element="code")
        if part is None:
            return
        diagnosis = self._diagnosis_extensions(origin, res, part)
        self.diagnoses.append(diagnosis)
        onset = _as_date(res.onsetDateTime) or _as_date(res.onsetPeriod.start if res.onsetPeriod else None)
        if onset is not None:
            self.onsets.append(_Value(onset, origin, element="onsetDateTime"))
        elif res.onsetAge is not None or res.onsetString is not None or res.onsetRange is not None:
            self.ignore(origin, "onset is not a date: symptom duration stays unknown", "onset[x]")

    def _condition_codes(self, origin: str, res: Any) -> tuple[dict[str, Any] | None, dict[str, Any], dict[str, Any]]:
        local = self.codes.maps.local
        part: dict[str, Any] | None = None
        facts: dict[str, Any] = {}
        refuted: dict[str, Any] = {}
        codings = _codings(res.code)
        if not codings:
            self.ignore(origin, f"no coded diagnosis ('{_concept_text(res.code)}')", "code")
            return None, facts, refuted
        for coding in codings:
            key = (coding.system, coding.code)
            found: DiagnosisPart | None = None
            if coding.system == local.condition:
                # "unspecified": a spinal diagnosis the record does not name yet (kept, kind unknown)
                found = DiagnosisPart.model_construct(condition=None if coding.code == "unspecified" else coding.code)
            elif key in self.codes.conditions:
                entry = self.codes.conditions[key]
                found = entry.diagnosis
                facts.update(entry.facts)
                refuted.update(entry.refuted_facts)
            else:
                self.ignore(origin, self._why_unmapped(coding), f"code {coding.code}")
                continue
            if found is None:
                continue
            new = found.model_dump(exclude_none=True)
            if part is None:
                part = {"condition": None, **new}
                continue
            for name, value in new.items():
                if part.get(name) not in (None, value):
                    self.ignore(origin, f"codes disagree on the {name}: {part[name]} or {value}", f"code {coding.code}")
                    part[name] = None
                elif part.get(name) is None:
                    part[name] = value
        return part, facts, refuted

    def _why_unmapped(self, coding: Coded) -> str:
        key = (coding.system, coding.code)
        if key in self.codes.unmapped:
            return self.codes.unmapped[key].reason
        if coding.system == ICD10CM:
            cm = icd10cm()
            if not cm.is_valid_item(coding.code):
                return "not an ICD-10-CM code"
            if not cm.is_leaf(coding.code):
                return "an ICD-10-CM category, not a billable code: record the full code"
            return "not a diagnosis in scope (no entry in the code map)"
        return f"code not in the map ({coding.system or 'no system'})"

    def _diagnosis_extensions(self, origin: str, res: Any, part: dict[str, Any]) -> dict[str, Any]:
        for name in ("region", "side", "subtype"):
            values = self.ext(origin, res, name)
            if not values:
                continue
            value = str(values[0])
            if part.get(name) in (None, value):
                part[name] = value
            else:
                self.ignore(
                    origin, f"extension {name} '{value}' disagrees with the code ({part[name]})", f"extension {name}"
                )
        levels = [str(v) for v in self.ext(origin, res, "levels")]
        if levels:
            if part.get("levels") and sorted(part["levels"]) != sorted(levels):
                self.ignore(origin, f"levels {levels} disagree with the code ({part['levels']})", "extension levels")
            else:
                part["levels"] = levels
        return part

    def observation(self, origin: str, res: Any) -> None:
        if res.status not in ("final", "amended", "corrected"):
            self.ignore(origin, f"status '{res.status}': only final results are used", "status")
            return
        path, entry = self._observation_field(origin, res)
        if path is None:
            return
        when = (
            _as_datetime(res.effectiveDateTime)
            or _as_datetime(res.effectivePeriod.end if res.effectivePeriod else None)
            or _as_datetime(res.effectiveInstant)
            or _as_datetime(res.issued)
        )
        if self.after_now(when):
            self.ignore(origin, "recorded after the assessment time", "effective[x]")
            return
        if path in self.codes.maps.current_fields and not self.on_assessment_day(when):
            self.ignore(
                origin,
                f"{path} dated {when.date() if when else 'nowhere'}: it counts only when recorded on the assessment day",
                "effective[x]",
            )
            return
        if res.dataAbsentReason is not None:
            self.ignore(
                origin,
                f"no value ({_concept_text(res.dataAbsentReason) or 'data absent'}): {path} stays unknown",
                "value[x]",
            )
            return
        value, problem = self._observation_value(res, path, entry)
        if problem:
            self.ignore(origin, problem, "value[x]")
            return
        self.put(path, value, origin, when, "value[x]")
        if path.startswith("labs.") and res.referenceRange:
            self._reference_range(origin, path.removeprefix("labs."), res, entry)

    def _reference_range(self, origin: str, lab: str, res: Any, entry: Any) -> None:
        """The laboratory's own range (Observation.referenceRange), in the case's unit; the rules judge
        the value against it before any policy default."""
        first = res.referenceRange[0]
        bounds: dict[str, float | None] = {}
        for name in ("low", "high"):
            qty = getattr(first, name)
            if qty is None:
                bounds[name] = None
                continue
            unit = str(qty.code or qty.unit or "")
            number = _number(qty.value)
            if number is None or (entry is not None and entry.units and unit not in entry.units):
                self.ignore(origin, f"reference range {name} '{qty.value} {unit}' cannot be read", "referenceRange")
                return
            factor = entry.units[unit] if entry is not None and entry.units else 1.0
            bounds[name] = _number(round(number * factor, 6))
        if len(res.referenceRange) > 1:
            self.ignore(origin, "more than one reference range: the first is used", "referenceRange[1:]")
        if bounds["low"] is not None or bounds["high"] is not None:
            self.lab_ranges.setdefault(lab, []).append(_Value(bounds, origin, None, "referenceRange"))

    def _observation_field(self, origin: str, res: Any) -> tuple[str | None, Any]:
        for coding in _codings(res.code):
            if coding.system == self.codes.maps.local.case_field:
                if coding.code in case_scalar_paths():
                    return coding.code, None
                self.ignore(origin, f"'{coding.code}' is not a case field", "code")
                return None, None
            entry = self.codes.observations.get((coding.system, coding.code))
            if entry is not None:
                return entry.field, entry
        self.ignore(origin, f"observation code not in the map ('{_concept_text(res.code) or 'uncoded'}')", "code")
        return None, None

    def _observation_value(self, res: Any, path: str, entry: Any) -> tuple[Any, str | None]:
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
            number = _number(qty.value)
            if number is None:
                return None, "quantity without a value"
            return _number(round(number * factor, 6)), None
        if res.valueBoolean is not None:
            return bool(res.valueBoolean), None
        if res.valueInteger is not None:
            return int(res.valueInteger), None
        if res.valueCodeableConcept is not None:
            for coding in _codings(res.valueCodeableConcept):
                key = f"{coding.system}|{coding.code}"
                if entry is not None and key in entry.answers:
                    answer = entry.answers[key]
                    return (answer, None) if answer is not None else (None, f"answer '{coding.code}' says unknown")
                if entry is None:
                    return coding.code, None
            return None, f"coded answer not in the map ('{_concept_text(res.valueCodeableConcept)}')"
        if res.valueString is not None and entry is None:
            return str(res.valueString), None
        return None, "no value of a type spine-cds reads"

    def medication(self, origin: str, res: Any, kind: str) -> None:
        status = res.status
        not_taken = {
            "MedicationStatement": ("not-taken", "entered-in-error", "intended"),
            "MedicationRequest": ("cancelled", "entered-in-error", "draft"),
            "MedicationAdministration": ("not-done", "entered-in-error"),
        }[kind]
        if status in not_taken:
            self.ignore(origin, f"status '{status}': not a medication the patient takes or took", "status")
            return
        concept = res.medicationCodeableConcept
        if concept is None and res.medicationReference is not None:
            concept = self._referenced_medication(res)
            if concept is None:
                self.ignore(
                    origin, "medication reference not found in the record", "medicationReference", ("medications",)
                )
                return
        if self._absent(concept, origin):
            if kind != "MedicationStatement" or _as_date(res.dateAsserted) != self.assessment_date:
                self.stated_none.pop("medications", None)
                self.ignore(
                    origin,
                    "a 'no medications' statement counts only as a MedicationStatement asserted on the assessment day",
                    "dateAsserted",
                )
            return
        name = self._medication_name(origin, concept)
        if not name:
            self.ignore(origin, "medication has no code or name", "medication[x]", ("medications",))
            return
        self.medications.setdefault(name, []).append(_Value(self._dose_time(origin, res, kind), origin, element=kind))

    def _dose_time(self, origin: str, res: Any, kind: str) -> Any:
        """When a dose was last given: a time, ONGOING when the record says it is still taken or
        being given, or None when the record does not say."""
        status = res.status
        if kind == "MedicationAdministration":
            if status == "in-progress":
                return ONGOING
            raw = res.effectiveDateTime or (res.effectivePeriod.end if res.effectivePeriod else None)
        elif kind == "MedicationStatement" and status in ("completed", "stopped", "on-hold"):
            raw = (
                res.effectivePeriod.end
                if res.effectivePeriod
                else res.effectiveDateTime
                if status == "completed"
                else None
            )
        elif (kind == "MedicationStatement" and status in ("active", "unknown")) or (
            kind == "MedicationRequest" and status == "active"
        ):
            return ONGOING
        else:
            return None
        if raw is not None and not isinstance(raw, dt.datetime):
            self.ignore(
                origin, f"dose dated {raw} without a time: hours since the last dose left unknown", "effective[x]"
            )
            return None
        when = _as_datetime(raw)
        if self.after_now(when):
            self.ignore(origin, "dose recorded after the assessment time", "effective[x]")
            return None
        return when

    def _referenced_medication(self, res: Any) -> Any:
        key = _reference_key(res.medicationReference) or ""
        if key.startswith("#"):
            for contained in res.contained or []:
                if contained.get_resource_type() == "Medication" and f"#{contained.id}" == key:
                    return contained.code
            return None
        return self.media.get(self.full_urls.get(key, key))

    def _medication_name(self, origin: str, concept: Any) -> str | None:
        """The generic name by code; by the record's own words otherwise (the rules read brand
        names and flag unlisted drugs). A code whose display names another drug is not trusted."""
        text = _concept_text(concept).strip().lower()[:100]
        for coding in _codings(concept):
            entry = self.codes.medications.get((coding.system, coding.code))
            if entry is None:
                continue
            words = " ".join([coding.display, str(concept.text or "")]).lower()
            term = _medication_terms().get(entry.medication, {entry.medication})
            if words.strip() and not any(name in words for name in term):
                self.ignore(
                    origin,
                    f"code {coding.code} means {entry.medication} but the record names '{words.strip()}'",
                    "medication[x]",
                )
                return text or None
            return entry.medication
        return text or None

    def allergy(self, origin: str, res: Any) -> None:
        verification = _status_code(res.verificationStatus)
        clinical = _status_code(res.clinicalStatus)
        if verification in ("refuted", "entered-in-error"):
            self.ignore(origin, f"verification '{verification}'", "verificationStatus")
            return
        if clinical in ("inactive", "resolved"):
            self.ignore(origin, f"not active ({clinical})", "clinicalStatus")
            return
        if self._absent(res.code, origin):
            return
        for coding in _codings(res.code):
            if coding.system == self.codes.maps.local.allergy:
                self.allergies.add(coding.code)
                return
            entry = self.codes.allergies.get((coding.system, coding.code))
            if entry is not None:
                self.allergies.add(entry.allergy)
                return
        self.ignore(
            origin,
            f"allergy not in the map ('{_concept_text(res.code) or 'uncoded'}'): it may matter, so the allergy list "
            "is left unknown",
            "code",
            ("allergies",),
        )

    def procedure(self, origin: str, res: Any) -> None:
        if res.status in ("not-done", "entered-in-error", "preparation"):
            self.ignore(origin, f"status '{res.status}': not a procedure that was done", "status")
            return
        if self._absent(res.code, origin):
            return
        if res.status != "completed":
            self.ignore(origin, f"status '{res.status}': only completed procedures are read", "status", INJECTION_LISTS)
            return
        item = self._procedure_item(origin, res.code, res)
        if item is None:
            return
        kind = None
        for coding in [c for cat in ([res.category] if res.category else []) for c in _codings(cat)]:
            category = self.codes.categories.get((coding.system, coding.code))
            if category is not None:
                kind = category.kind
        if kind is None:
            default = self.codes.maps.diagnostic_by_default
            kind = "diagnostic_blocks" if item.get("procedure") in default else "prior_injections"
        performed = _as_date(res.performedDateTime) or _as_date(
            res.performedPeriod.start if res.performedPeriod else None
        )
        if performed is not None and self.assessment_date is not None and performed > self.assessment_date:
            self.ignore(origin, "performed after the assessment date", "performed[x]")
            return
        item["date"] = performed
        relief = self.ext(origin, res, "relief_percent")
        levels = [str(v) for v in self.ext(origin, res, "levels")]
        if kind == "diagnostic_blocks":
            block = {k: item.get(k) for k in ("procedure", "region", "date")}
            block["levels"] = levels or None
            block["relief_percent"] = _number(relief[0]) if relief else None
            for name in ("approach", "steroid", "relief_weeks"):
                if item.get(name) is not None or self.ext(origin, res, name):
                    self.ignore(origin, f"{name} is not recorded for a diagnostic block", f"extension {name}")
            self.diagnostic_blocks.append(block)
            return
        steroid = self.ext(origin, res, "steroid")
        weeks = self.ext(origin, res, "relief_weeks")
        item["steroid"] = bool(steroid[0]) if steroid else None
        item["relief_percent"] = _number(relief[0]) if relief else None
        item["relief_weeks"] = _number(weeks[0]) if weeks else None
        if levels:
            self.ignore(origin, "levels are not recorded for a prior injection", "extension levels")
        self.prior_injections.append(item)

    def _procedure_item(self, origin: str, concept: Any, res: Any) -> dict[str, Any] | None:
        item: dict[str, Any] = {"procedure": None, "approach": None, "region": None}
        matched = False
        for coding in _codings(concept):
            if coding.system == self.codes.maps.local.procedure:
                # "unspecified": an injection the record does not name (kept, kind unknown)
                found: dict[str, Any] = {"procedure": None if coding.code == "unspecified" else coding.code}
            elif (coding.system, coding.code) in self.codes.procedures:
                entry = self.codes.procedures[(coding.system, coding.code)]
                found = {"procedure": entry.procedure, "approach": entry.approach, "region": entry.region}
            else:
                continue
            matched = True
            for name, value in found.items():
                if value is None:
                    continue
                if item[name] not in (None, value):
                    self.ignore(origin, f"codes disagree on the {name}: {item[name]} or {value}", f"code {coding.code}")
                else:
                    item[name] = value
        if not matched:
            codes = ", ".join(c.code for c in _codings(concept)) or _concept_text(concept) or "uncoded"
            self.ignore(
                origin,
                f"procedure not in the map ({codes}): if it was an injection the history is incomplete, so prior "
                "injections are left unknown",
                "code",
                INJECTION_LISTS,
            )
            return None
        for name in ("approach", "region"):
            values = self.ext(origin, res, name)
            if values and item[name] in (None, str(values[0])):
                item[name] = str(values[0])
            elif values:
                self.ignore(
                    origin,
                    f"extension {name} '{values[0]}' disagrees with the code ({item[name]})",
                    f"extension {name}",
                )
        return item

    def imaging_study(self, origin: str, res: Any, key: str | None) -> None:
        if res.status in ("cancelled", "entered-in-error", "registered"):
            self.ignore(origin, f"status '{res.status}': no images to use", "status")
            return
        codings = [*(res.modality or []), *(s.modality for s in res.series or [] if s.modality)]
        keys = {(str(c.system or ""), str(c.code or "")) for c in codings}
        found = {self.codes.modalities[key].modality for key in keys if key in self.codes.modalities}
        unknown = sorted(code for system, code in keys if (system, code) not in self.codes.modalities)
        if unknown:
            self.ignore(origin, f"modality {', '.join(str(u) for u in unknown)} not in the map", "modality")
        if len(found) > 1:
            self.ignore(
                origin,
                f"more than one modality ({', '.join(sorted(found))}): record one study per modality",
                "modality",
                ("imaging",),
            )
            return
        if unknown and not found:
            return
        concordant = self.ext(origin, res, "concordant")
        study = {
            "modality": found.pop() if found else None,  # no modality recorded: a study of unknown kind
            "date": _as_date(res.started),
            "concordant": bool(concordant[0]) if concordant else None,
        }
        if self.after_now(_as_datetime(res.started)):
            self.ignore(origin, "imaging dated after the assessment time", "started")
            return
        self.imaging[key or origin] = study

    def diagnostic_report(self, origin: str, res: Any) -> None:
        if res.status not in ("final", "amended", "corrected", "appended"):
            self.ignore(origin, f"status '{res.status}': only final reports are used", "status")
            return
        concordant = self.ext(origin, res, "concordant")
        studies = [_reference_key(ref) for ref in res.imagingStudy or []]
        linked = [s for s in studies if s in self.imaging]
        if linked:
            for key in linked:
                study = self.imaging[key]
                if not concordant:
                    continue
                if study["concordant"] is None:
                    study["concordant"] = bool(concordant[0])
                elif study["concordant"] != bool(concordant[0]):
                    study["concordant"] = None
                    self.ignore(origin, f"concordance disagrees with {key}: left unknown", "extension concordant")
            return
        for coding in _codings(res.code):
            entry = self.codes.imaging_reports.get((coding.system, coding.code))
            if entry is not None:
                when = _as_datetime(res.effectiveDateTime) or _as_datetime(res.issued)
                if self.after_now(when):
                    self.ignore(origin, "report dated after the assessment time", "effective[x]")
                    return
                self.imaging[origin] = {
                    "modality": entry.modality,
                    "date": _as_date(when),
                    "concordant": bool(concordant[0]) if concordant else None,
                }
                return
        self.ignore(origin, f"not an imaging report the map knows ('{_concept_text(res.code) or 'uncoded'}')", "code")

    def list_resource(self, origin: str, res: Any) -> None:
        codes = [c.code for c in _codings(res.code) if c.system == self.codes.maps.local.list]
        if not codes or codes[0] not in LIST_FIELDS:
            self.ignore(origin, "List is read only for spine-cds list codes (a 'none known' statement)", "code")
            return
        reason = _status_code(res.emptyReason)
        if res.entry:
            self.ignore(origin, "List entries are read from the resources themselves, not from the List", "entry")
        elif res.status == "current" and reason == "nilknown":
            self.stated_none[codes[0]] = origin
        else:
            self.ignore(
                origin,
                f"empty List without 'nilknown' ({reason or 'no reason'}): {codes[0]} stays unknown",
                "emptyReason",
            )

    def _absent(self, concept: Any, origin: str) -> bool:
        for coding in _codings(concept):
            entry = self.codes.absent.get((coding.system, coding.code))
            if entry is not None:
                for name in entry.empty:
                    self.stated_none[name] = origin
                return True
        return False

    # -- the case ---------------------------------------------------------------------------
    def resolve_scalar(self, path: str, values: list[_Value]) -> Any:
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
                        self.ignore(v.origin, f"{path}: superseded by a later value ({latest.origin})", v.element)
                return latest.value
        for v in values:
            self.ignore(v.origin, f"{path}: the record gives conflicting values; left unknown", v.element)
        return None

    def case(self, case_id: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {"case_id": case_id, "assessment_date": self.assessment_date}
        if self.onsets and self.assessment_date is not None and "symptoms.duration_weeks" not in self.scalars:
            earliest = {v.value for v in self.onsets}
            if len(earliest) == 1:
                days = (self.assessment_date - self.onsets[0].value).days
                if days >= 0:
                    self.put(
                        "symptoms.duration_weeks",
                        _number(round(days / 7, 4)),
                        self.onsets[0].origin,
                        element="onsetDateTime",
                    )
            else:
                for v in self.onsets:
                    self.ignore(
                        v.origin, "conditions give different onset dates: symptom duration left unknown", v.element
                    )
        for path, values in sorted(self.scalars.items()):
            value = self.resolve_scalar(path, values)
            if value is None:
                continue
            head, _, tail = path.partition(".")
            if tail:
                out.setdefault(head, {})[tail] = value
            else:
                out[head] = value
        ranges: dict[str, Any] = {}
        for lab, recorded in sorted(self.lab_ranges.items()):
            if "labs" not in out or lab not in out["labs"]:
                continue
            if any(r.value != recorded[0].value for r in recorded):
                for r in recorded:
                    self.ignore(
                        r.origin, f"{lab} reference ranges disagree: the policy's default range is used", r.element
                    )
                continue
            ranges[lab] = recorded[0].value
        if ranges:
            out["labs"]["ranges"] = ranges
        meds = [
            {"name": name, "last_dose_hours_ago": self._latest_dose(name, records)}
            for name, records in sorted(self.medications.items())
        ]
        lists: dict[str, list[Any]] = {
            "diagnoses": self.diagnoses,
            "imaging": list(self.imaging.values()),
            "medications": meds,
            "allergies": sorted(self.allergies),
            "prior_injections": self.prior_injections,
            "diagnostic_blocks": self.diagnostic_blocks,
        }
        for name, items in lists.items():
            if name in self.incomplete:
                self.ignore("(record)", f"{name}: a record of this list could not be used, so the list is left unknown")
                continue
            if items:
                out[name] = items
                if name in self.stated_none:
                    self.ignore(self.stated_none[name], f"says no {name} are known, but the record lists some")
            elif name in self.stated_none:
                out[name] = []
        return out

    def _latest_dose(self, name: str, records: list[_Value]) -> float | None:
        """Hours since the last dose, only when no record says the drug is still being taken
        (then a recorded dose need not be the last one)."""
        ongoing = [r for r in records if r.value is ONGOING]
        times = [r.value for r in records if isinstance(r.value, dt.datetime)]
        if ongoing:
            if times:
                self.ignore(
                    ongoing[0].origin,
                    f"{name} is recorded as still taken: the last recorded dose may not be the last; hours left unknown",
                    ongoing[0].element,
                )
            return None
        return self.hours_before_now(max(times)) if times else None


@cache
def _medication_terms() -> dict[str, frozenset[str]]:
    """Each listed drug's generic and brand names, to check a code against the record's words."""
    from decision.case import vocabulary

    return {name: frozenset({name, *term.aliases}) for name, term in vocabulary().medications.items()}


@cache
def case_scalar_paths() -> frozenset[str]:
    """Dotted case fields that hold one value (what a spine-cds Observation may carry)."""
    out = set()
    for name, info in Case.model_fields.items():
        if name in ("case_id", "policy", "assessment_date") or name in LIST_FIELDS:
            continue
        sub = _model_of(info.annotation)
        if sub is None:
            out.add(name)
        else:
            out.update(
                f"{name}.{child}"
                for child, child_info in sub.model_fields.items()
                if _model_of(child_info.annotation) is None and "dict" not in str(child_info.annotation)
            )
    return frozenset(out)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for arg in getattr(annotation, "__args__", (annotation,)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _read(parsed: list[tuple[str, Any]], reader: _Reader) -> None:
    patients = [label for label, res in parsed if res.get_resource_type() == "Patient"]
    if len(patients) > 1:
        raise FhirInputError([f"more than one Patient ({', '.join(patients)}): send one patient's record"])
    for _, res in parsed:
        if res.get_resource_type() == "Medication" and res.id:
            reader.media[f"Medication/{res.id}"] = res.code
            reader.media[f"#{res.id}"] = res.code
    for label, res in parsed:
        kind = res.get_resource_type()
        if res.modifierExtension:
            reader.ignore(
                label,
                "carries a modifier extension, which may change its meaning: not used",
                "modifierExtension",
                MODIFIED_LISTS.get(kind, ()),
            )
            continue
        if kind == "Patient":
            reader.patient(label, res)
        elif kind == "Condition":
            reader.condition(label, res)
        elif kind == "Observation":
            reader.observation(label, res)
        elif kind in ("MedicationStatement", "MedicationRequest", "MedicationAdministration"):
            reader.medication(label, res, kind)
        elif kind == "AllergyIntolerance":
            reader.allergy(label, res)
        elif kind == "Procedure":
            reader.procedure(label, res)
        elif kind == "ImagingStudy":
            reader.imaging_study(label, res, f"ImagingStudy/{res.id}" if res.id else None)
    for label, res in parsed:
        kind = res.get_resource_type()
        if res.modifierExtension:
            continue
        if kind == "DiagnosticReport":
            reader.diagnostic_report(label, res)
        elif kind == "List":
            reader.list_resource(label, res)


def _check_subjects(parsed: list[tuple[str, Any]], full_urls: dict[str, str]) -> None:
    """All resources must be about one patient: a mixed record would merge two people's facts."""
    patient_keys = {label for label, res in parsed if res.get_resource_type() == "Patient"}
    patient_keys |= {url for url, key in full_urls.items() if key in patient_keys}
    subjects: set[str] = set()
    for _, res in parsed:
        for name in ("subject", "patient"):
            ref = getattr(res, name, None) if name in type(res).model_fields else None
            key = _reference_key(ref)
            if key:
                subjects.add(full_urls.get(key, key))
            elif ref is not None:
                raise FhirInputError(
                    [f"{res.get_resource_type()}/{res.id}: {name} has no reference, so whose it is cannot be checked"]
                )
    strangers = subjects - {full_urls.get(k, k) for k in patient_keys}
    if len(strangers) > (0 if patient_keys else 1):
        raise FhirInputError([f"resources refer to more than one patient ({', '.join(sorted(subjects))})"])


def _validated_case(data: dict[str, Any], reader: _Reader) -> Case:
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
                    data[loc[0]] = None  # a list missing an item is not complete: unknown
                else:
                    _drop(data, loc)
    raise FhirInputError(["the record could not be turned into a valid case"])


def _whole_case_error_fields(error: Any) -> list[list[Any]]:
    """The fields a whole-case check names (a contradiction): each is left unknown, since the
    record does not say which of them is wrong."""
    ctx = error.get("ctx") or {}
    named = str(ctx.get("field", ""))
    path = named.replace("[", ".").replace("]", "").split(".") if named else []
    locs = [[int(p) if p.isdigit() else p for p in path]] if path else []
    if error.get("type") == "sex_contradiction":
        locs.append(["sex"])
    return locs


def _drop(data: Any, loc: list[Any]) -> None:
    node = data
    for part in loc[:-1]:
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        ):
            node = node[part]
        else:
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
        data.pop(loc[0], None)


def _guarded(read: Any) -> ImportedCase:
    try:
        result: ImportedCase = read()
    except RecursionError:
        raise FhirInputError(["the record is nested too deeply to read"]) from None
    return result


def case_from_resources(
    resources: Iterable[Mapping[str, Any]], *, now: dt.datetime | None, case_id: str | None = None
) -> ImportedCase:
    """Map loose resources (a CDS Hooks prefetch, a Bundle's entries) to a case.

    `now` is the moment of assessment: the assessment date and "hours since the last dose" count
    from it; None leaves both unknown.
    """
    return _guarded(lambda: _import(list(resources), {}, now, case_id))


def _import(
    resources: list[Any], full_urls: dict[str, str], now: dt.datetime | None, case_id: str | None
) -> ImportedCase:
    if now is not None and now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    parsed, ignored = parse_resources(resources)
    seen: set[str] = set()
    for label, res in parsed:
        if res.id and label in seen:
            raise FhirInputError([f"{label}: two resources have this id; each must be unique"])
        seen.add(label)
    _check_subjects(parsed, full_urls)
    reader = _Reader(codes=default_codemaps(), now=now, ignored=ignored, full_urls=full_urls)
    _read(parsed, reader)
    if now is None:
        reader.ignore("(record)", "no assessment time (Bundle.timestamp): dates and hours since a dose stay unknown")
    data = reader.case(case_id)
    case = _validated_case(data, reader)
    return ImportedCase(case=case, ignored_input=reader.ignored)


def case_from_bundle(bundle: Mapping[str, Any], *, now: dt.datetime | None = None) -> ImportedCase:
    """A Bundle as a case; `now` defaults to Bundle.timestamp. Raises FhirInputError."""
    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        raise FhirInputError(["expected a FHIR Bundle (resourceType 'Bundle')"])
    shell = {k: v for k, v in bundle.items() if k != "entry"}
    try:
        parsed_shell = _model_class("Bundle").model_validate(shell)
    except ValidationError as err:
        raise FhirInputError(_problems("Bundle", err)) from None
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise FhirInputError(["Bundle.entry: expected a list"])
    resources: list[Any] = []
    full_urls: dict[str, str] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("resource"), Mapping):
            raise FhirInputError([f"Bundle.entry[{index}]: expected an object with a resource"])
        resource = entry["resource"]
        resources.append(resource)
        if isinstance(entry.get("fullUrl"), str) and resource.get("id"):
            full_urls[entry["fullUrl"]] = f"{resource.get('resourceType')}/{resource.get('id')}"
    identifier = parsed_shell.identifier
    case_id = str(identifier.value) if identifier is not None and identifier.value else parsed_shell.id
    when = now if now is not None else _bundle_time(bundle.get("timestamp"), parsed_shell.timestamp)
    return _guarded(lambda: _import(resources, full_urls, when, case_id))


def _bundle_time(raw: Any, parsed: Any) -> dt.datetime | None:
    """Bundle.timestamp as "now": it must be an instant written as text, and not in the future
    (a future "now" would make every last dose look long ago)."""
    if raw is None:
        return None
    when = _as_datetime(parsed)
    if not isinstance(raw, str) or when is None or "T" not in raw:
        raise FhirInputError([f"Bundle.timestamp: expected an instant such as 2026-10-01T09:30:00Z, got {raw!r}"])
    if when > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5):
        raise FhirInputError([f"Bundle.timestamp: {raw} is in the future"])
    return when


def procedure_from_order(resource: Mapping[str, Any]) -> tuple[ProcedureSelection | None, list[IgnoredInput]]:
    """The procedure a ServiceRequest (an order being placed) asks for, from its code."""
    parsed, ignored = parse_resources([resource], supported=("ServiceRequest",))
    if not parsed:
        return None, [
            IgnoredInput(resource=i.resource, reason="an injection order is read from a ServiceRequest")
            for i in ignored
        ]
    label, res = parsed[0]
    reader = _Reader(codes=default_codemaps(), now=None)
    item = reader._procedure_item(label, res.code, res)
    if item is None or item.get("procedure") is None:
        if item is not None:
            reader.ignore(label, "the code does not say which injection (e.g. facet joint or medial branch)", "code")
        return None, reader.ignored
    return ProcedureSelection(**item), reader.ignored


def evaluate_imported(imported: ImportedCase, policy: str | None = None) -> Report:
    """Evaluate an imported case; the report lists the ignored input."""
    from decision.evaluate import default_evaluator

    report = default_evaluator().evaluate(imported.case, policy=policy)
    return report.model_copy(update={"ignored_input": list(imported.ignored_input)})
