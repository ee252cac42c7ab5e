"""The case: what a clinician tells spine-cds about a patient.

Every field may be omitted or null, and null means *unknown*, never "no": the engine turns an
unknown that a rule needs into "needs information". Types are strict (the rules engine is weakly
typed, so nothing loose may reach it), ids come from the knowledge vocabulary, and the bounds
below are input plausibility checks (a percentage is 0-100), not clinical thresholds.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from decision.case_types import (
    CASE_CONFIG,
    MAX_LIST,
    AllergyId,
    ApproachId,
    ConditionId,
    ControlLevelId,
    DrugClassId,
    IsoDate,
    LabId,
    Level,
    ModalityId,
    PainPatternId,
    Percent,
    ProcedureId,
    RegimenId,
    RegionId,
    SexId,
    SideId,
    VocabId,
    medication_name,
    normalise_medication_name,
    using_vocabulary,
    vocabulary,
)
from knowledge.loader import did_you_mean

__all__ = [
    "CASE_CONFIG",
    "MAX_LIST",
    "Case",
    "VocabId",
    "normalise_medication_name",
    "using_vocabulary",
    "vocabulary",
    "with_field",
]


class Diagnosis(BaseModel):
    model_config = CASE_CONFIG
    condition: ConditionId | None = Field(default=None, title="Condition")
    region: RegionId | None = Field(default=None, title="Region")
    subtype: str | None = Field(
        default=None,
        title="Subtype",
        description="Stenosis: central, foraminal or lateral recess; CRPS: type 1 or type 2.",
    )
    levels: list[Level] | None = Field(default=None, max_length=12, title="Levels (e.g. L4-L5, L5-S1)")
    side: SideId | None = Field(default=None, title="Side")
    prior_surgery_at_site: bool | None = Field(
        default=None,
        title="Earlier surgery or radiation at this site?",
        description="Earlier surgery or radiation at the site to be injected.",
    )

    @model_validator(mode="after")
    def _region_and_levels_fit(self) -> Diagnosis:
        vocab = vocabulary()
        if self.condition is not None and self.region is not None:
            allowed = vocab.conditions[self.condition].regions
            if self.region not in allowed:
                raise PydanticCustomError(
                    "region_mismatch",
                    "region '{region}' does not fit condition '{condition}'; expected one of: {expected}",
                    {"region": self.region, "condition": self.condition, "expected": ", ".join(allowed)},
                )
        spine = vocab.spine()
        roots = {root for region in vocab.regions.values() for root in region.nerve_roots_only}
        for level in self.levels or ():
            vertebrae = level.split("-")
            unknown = [v for v in vertebrae if v not in spine and (len(vertebrae) > 1 or v not in roots)]
            if unknown:
                raise PydanticCustomError(
                    "level_mismatch",
                    "level '{level}': there is no vertebra {unknown} (C1-C7, T1-T12, L1-L5, S1-S5)",
                    {"level": level, "unknown": " or ".join(unknown)},
                )
            if len(vertebrae) == 2 and spine.index(vertebrae[1]) != spine.index(vertebrae[0]) + 1:
                raise PydanticCustomError(
                    "level_mismatch",
                    "level '{level}' is not one segment: name two adjacent vertebrae, head first (e.g. L4-L5)",
                    {"level": level},
                )
        if self.region is not None and self.levels:
            own = (*vocab.regions[self.region].vertebrae, *vocab.regions[self.region].nerve_roots_only)
            for level in self.levels:
                if not own or not any(v in own for v in level.split("-")):
                    first, last = (own[0], vocab.regions[self.region].vertebrae[-1]) if own else ("", "")
                    raise PydanticCustomError(
                        "level_mismatch",
                        "level '{level}' is not in region '{region}'{hint}",
                        {
                            "level": level,
                            "region": self.region,
                            "hint": f" (its vertebrae are {first}-{last})"
                            if own
                            else " (levels are for spinal regions)",
                        },
                    )
        return self

    @model_validator(mode="after")
    def _subtype_fits_condition(self) -> Diagnosis:
        if self.subtype is None:
            return self
        allowed = vocabulary().subtypes.get(self.condition or "", ())
        if self.condition is None:
            allowed = tuple(s for subs in vocabulary().subtypes.values() for s in subs)
        if self.subtype not in allowed:
            raise PydanticCustomError(
                "unknown_subtype",
                "subtype '{value}' does not fit condition '{condition}'{hint}; expected one of: {expected}",
                {
                    "value": self.subtype,
                    "condition": self.condition,
                    "hint": did_you_mean(self.subtype, allowed),
                    "expected": ", ".join(allowed) or "(no subtypes)",
                },
            )
        return self


class Symptoms(BaseModel):
    model_config = CASE_CONFIG
    pain_pattern: PainPatternId | None = Field(default=None, title="Pain pattern")
    duration_weeks: float | None = Field(
        default=None,
        ge=0,
        le=5200,
        title="Weeks since the symptoms began",
        description="Weeks since onset.",
        json_schema_extra={"unit": "weeks"},
    )
    pain_score: float | None = Field(
        default=None, ge=0, le=10, title="Pain score (0-10)", description="Numeric rating scale 0-10."
    )
    neurogenic_claudication: bool | None = Field(default=None, title="Neurogenic claudication?")
    functional_impairment: bool | None = Field(default=None, title="Functional impairment?")
    progressive_neurological_deficit: bool | None = Field(default=None, title="Progressive neurological deficit?")
    cauda_equina_signs: bool | None = Field(default=None, title="Cauda equina signs?")
    acute_and_severe_sciatica: bool | None = Field(
        default=None,
        title="Sciatica acute and severe (your judgement)?",
        description="The clinician judges the sciatica acute and severe (NICE NG59 gives no figure for either).",
    )


class ConservativeCare(BaseModel):
    model_config = CASE_CONFIG
    weeks: float | None = Field(
        default=None, ge=0, le=5200, title="Weeks of conservative care", json_schema_extra={"unit": "weeks"}
    )
    failed: bool | None = Field(
        default=None, title="Conservative care failed?", description="Tried and did not give enough relief."
    )


class Imaging(BaseModel):
    model_config = CASE_CONFIG
    modality: ModalityId | None = Field(default=None, title="Modality")
    date: IsoDate | None = Field(default=None, title="Date")
    concordant: bool | None = Field(
        default=None, title="Matches the symptoms?", description="Findings match the clinical picture."
    )


class Medication(BaseModel):
    model_config = CASE_CONFIG
    name: Annotated[str, BeforeValidator(medication_name), Field(min_length=1, max_length=100)] = Field(
        title="Name", description="Generic or brand name."
    )
    last_dose_hours_ago: float | None = Field(
        default=None,
        ge=0,
        le=1_000_000,
        title="Hours since the last dose",
        description="Hours since the last dose.",
        json_schema_extra={"unit": "hours"},
    )
    drug_class: DrugClassId | None = Field(
        default=None,
        title="Drug class (if not in the drug list)",
        description="Answers 'is this an anticoagulant or antiplatelet?' for a name the drug list does not hold; "
        "for a listed drug the list's class is used.",
    )
    regimen: RegimenId | None = Field(
        default=None,
        title="Dose or indication",
        description="Dose or indication (prophylactic/therapeutic, primary/secondary prevention).",
    )


class LabRange(BaseModel):
    """A laboratory's reference range, as reported with the result."""

    model_config = CASE_CONFIG
    low: float | None = Field(default=None, ge=0, le=5000, title="lower limit")
    high: float | None = Field(default=None, ge=0, le=5000, title="upper limit")

    @model_validator(mode="after")
    def _low_not_above_high(self) -> LabRange:
        if self.low is not None and self.high is not None and self.low > self.high:
            raise PydanticCustomError(
                "range_order",
                "reference range low ({low}) is above high ({high})",
                {"low": self.low, "high": self.high},
            )
        return self


class Labs(BaseModel):
    model_config = CASE_CONFIG
    inr: float | None = Field(default=None, gt=0, le=20, title="INR")
    platelets: float | None = Field(
        default=None, ge=0, le=5000, title="Platelets", description="x10^9/L", json_schema_extra={"unit": "x10^9/L"}
    )
    hba1c: float | None = Field(
        default=None, ge=0, le=25, title="HbA1c", description="%", json_schema_extra={"unit": "%"}
    )
    glucose: float | None = Field(
        default=None, ge=0, le=100, title="Glucose", description="mmol/L", json_schema_extra={"unit": "mmol/L"}
    )
    ranges: dict[LabId, LabRange] | None = Field(
        default=None,
        title="The laboratory's reference ranges, where it reported them",
        description="Reference ranges reported with the results (by lab id); without one the policy's sourced "
        "default range is used, and a value with no range at all is asked about.",
    )


class Comorbidities(BaseModel):
    model_config = CASE_CONFIG
    active_infection: bool | None = Field(default=None, title="Active infection (systemic or at the site)?")
    injection_site_infection: bool | None = Field(default=None, title="Infection at the injection site?")
    bleeding_disorder: bool | None = Field(default=None, title="Bleeding disorder?")
    bleeding_disorder_controlled: bool | None = Field(
        default=None,
        title="Bleeding disorder corrected or controlled?",
        description="A recorded bleeding disorder is corrected or controlled.",
    )
    spinal_malignancy: bool | None = Field(default=None, title="Spinal tumour or cancer?")
    malignancy_near_target: bool | None = Field(
        default=None,
        title="Tumour at or near the target level?",
        description="A spinal tumour lies at or near the level to be injected.",
    )
    renal_disease: bool | None = Field(
        default=None,
        title="Severe kidney disease?",
        description="Severe kidney disease or dysfunction (raises a procedure's bleeding-risk class).",
    )
    renal_impairment: bool | None = Field(
        default=None,
        title="Impaired renal function (any degree)?",
        description="Impaired renal function of any degree (lengthens the dabigatran hold).",
    )
    liver_disease: bool | None = Field(
        default=None, title="Severe liver disease?", description="Severe liver disease or dysfunction."
    )
    osteoporosis: bool | None = Field(default=None, title="Osteoporosis?")
    diabetes: ControlLevelId | None = Field(default=None, title="Diabetes")
    heart_failure: ControlLevelId | None = Field(default=None, title="Heart failure")


class PriorInjection(BaseModel):
    model_config = CASE_CONFIG
    procedure: ProcedureId | None = Field(default=None, title="Procedure")
    approach: ApproachId | None = Field(default=None, title="Approach")
    region: RegionId | None = Field(default=None, title="Region")
    date: IsoDate | None = Field(default=None, title="Date")
    steroid: bool | None = Field(default=None, title="Steroid given?")
    relief_percent: Percent | None = Field(default=None, title="Relief", json_schema_extra={"unit": "%"})
    relief_weeks: float | None = Field(
        default=None, ge=0, le=5200, title="Weeks of relief", json_schema_extra={"unit": "weeks"}
    )
    worked: bool | None = Field(
        default=None,
        title="Worked (worthwhile, lasting relief)?",
        description="The clinician judges it gave worthwhile, lasting relief (decides a repeat radiofrequency ablation).",
    )


class DiagnosticBlock(BaseModel):
    model_config = CASE_CONFIG
    procedure: ProcedureId | None = Field(default=None, title="Procedure")
    region: RegionId | None = Field(default=None, title="Region")
    levels: list[Level] | None = Field(default=None, max_length=12, title="Levels (e.g. L4-L5, L5-S1)")
    date: IsoDate | None = Field(default=None, title="Date")
    relief_percent: Percent | None = Field(default=None, title="Relief", json_schema_extra={"unit": "%"})


class Exam(BaseModel):
    model_config = CASE_CONFIG
    si_provocation_positive: int | None = Field(
        default=None, ge=0, le=6, title="SI provocation tests positive", description="Of Laslett's cluster of six."
    )
    si_provocation_tested: int | None = Field(
        default=None, ge=0, le=6, title="SI provocation tests done", description="Of Laslett's cluster of six."
    )

    @model_validator(mode="after")
    def _positive_not_above_tested(self) -> Exam:
        pos, tested = self.si_provocation_positive, self.si_provocation_tested
        if pos is not None and tested is not None and pos > tested:
            raise PydanticCustomError(
                "exam_count",
                "si_provocation_positive ({pos}) is more than si_provocation_tested ({tested})",
                {"pos": pos, "tested": tested},
            )
        return self


class CrpsCriteria(BaseModel):
    model_config = CASE_CONFIG
    symptom_categories: int | None = Field(
        default=None,
        ge=0,
        le=4,
        title="Symptom categories met (Budapest criteria, of 4)",
        description="Budapest symptom categories met (of 4).",
    )
    sign_categories: int | None = Field(
        default=None,
        ge=0,
        le=4,
        title="Sign categories met (Budapest criteria, of 4)",
        description="Budapest sign categories met (of 4).",
    )
    other_diagnosis_excluded: bool | None = Field(default=None, title="Other diagnosis excluded?")


_DAYS_PER_YEAR = 365.25
_AGE_LIMIT = 130
"""The oldest age a case accepts (the `age` field's bound); dates further back are not a life's."""
_CHILDBEARING_AGES = (5, 75)
"""The youngest and oldest ages at which a pregnancy has been documented (5 years, Lina Medina,
1939; 74 years, 2019): outside them "pregnant" or "breastfeeding" is a slip of the form."""


class Case(BaseModel):
    """A patient case. Omitted or null fields are unknown; an empty list means "none"."""

    model_config = CASE_CONFIG
    case_id: str | None = Field(default=None, max_length=200, title="Case id (no patient identifiers)")
    assessment_date: IsoDate | None = Field(
        default=None, title="Assessment date", description="Windows are counted back from this date."
    )
    age: float | None = Field(default=None, ge=0, le=_AGE_LIMIT, title="Age", json_schema_extra={"unit": "years"})
    sex: SexId | None = Field(default=None, title="Sex")
    pregnant: bool | None = Field(default=None, title="Pregnant?")
    breastfeeding: bool | None = Field(default=None, title="Breastfeeding?")
    diagnoses: list[Diagnosis] | None = Field(default=None, max_length=20, title="Diagnosis")
    symptoms: Symptoms | None = Field(default=None, title="Symptoms")
    conservative_care: ConservativeCare | None = Field(default=None, title="Conservative care so far")
    imaging: list[Imaging] | None = Field(default=None, max_length=MAX_LIST, title="Imaging")
    medications: list[Medication] | None = Field(
        default=None,
        max_length=MAX_LIST,
        title="Medication history",
        description="Generic or brand names; an empty list means none.",
    )
    labs: Labs | None = Field(default=None, title="Laboratory results")
    comorbidities: Comorbidities | None = Field(default=None, title="Comorbidities")
    allergies: list[AllergyId] | None = Field(default=None, max_length=20, title="Allergies")
    prior_injections: list[PriorInjection] | None = Field(default=None, max_length=MAX_LIST, title="Earlier injections")
    diagnostic_blocks: list[DiagnosticBlock] | None = Field(
        default=None, max_length=MAX_LIST, title="Diagnostic blocks"
    )
    exam: Exam | None = Field(default=None, title="Examination (sacroiliac joint)")
    crps_criteria: CrpsCriteria | None = Field(default=None, title="CRPS (Budapest criteria)")
    policy: str | None = Field(
        default=None, max_length=50, title="Policy profile", description="Policy profile id; default clinic."
    )

    @model_validator(mode="after")
    def _male_not_pregnant(self) -> Case:
        if self.sex == "male":
            for name in ("pregnant", "breastfeeding"):
                if getattr(self, name) is True:
                    raise PydanticCustomError(
                        "sex_contradiction", "{field} is true but sex is male; correct one of them", {"field": name}
                    )
        return self

    @model_validator(mode="after")
    def _no_dates_after_assessment(self) -> Case:
        if self.assessment_date is None:
            return self
        for field, date in self._dated_entries():
            if date > self.assessment_date:
                raise PydanticCustomError(
                    "date_after_assessment",
                    "{field} ({date}) is after assessment_date ({assessed}); history cannot be in the future",
                    {"field": field, "date": date.isoformat(), "assessed": self.assessment_date.isoformat()},
                )
        return self

    def _dated_entries(self) -> list[tuple[str, dt.date]]:
        return [
            (f"{list_name}[{index}].date", item.date)
            for list_name in ("imaging", "prior_injections", "diagnostic_blocks")
            for index, item in enumerate(getattr(self, list_name) or ())
            if item.date is not None
        ]

    @model_validator(mode="after")
    def _dates_within_a_life(self) -> Case:
        """No date after today, and none before the patient was born (before the oldest age the
        case accepts when the age is not given)."""
        today = dt.date.today() + dt.timedelta(days=1)  # a day's grace for time zones
        dated = self._dated_entries()
        if self.assessment_date is not None:
            dated.append(("assessment_date", self.assessment_date))
        anchor = self.assessment_date or today
        oldest = _AGE_LIMIT if self.age is None else self.age + 1
        born_after = anchor - dt.timedelta(days=round(oldest * _DAYS_PER_YEAR))
        for field, date in dated:
            if date > today:
                raise PydanticCustomError(
                    "date_range", "{field} ({date}) is in the future", {"field": field, "date": date.isoformat()}
                )
            if date < born_after:
                raise PydanticCustomError(
                    "date_range",
                    "{field} ({date}) is before the patient was born{how}",
                    {
                        "field": field,
                        "date": date.isoformat(),
                        "how": "" if self.age is None else f" (age {self.age:g} at {anchor.isoformat()})",
                    },
                )
        return self

    @model_validator(mode="after")
    def _numbers_the_engine_can_read(self) -> Case:
        """No number written in exponent form: below 0.0001 (other than 0) or from 10^15 up.

        durable-rules' C core crashes the process on such a number (1e-07 in a fact: a
        segmentation fault, pinned in tests/engine/test_engine_pitfalls.py), and no measurement
        or count of a case is that small or that large."""
        if not _any_unreadable(self):
            return self  # the usual case: the numbers' paths are worked out only to name one
        for path, value in _numbers(self):
            if _unreadable(value):
                raise PydanticCustomError(
                    "number_range",
                    "{field} ({value}) is not a measurement: enter 0 or a value from 0.0001 to 10^15",
                    {"field": path, "value": repr(value)},
                )
        return self

    @model_validator(mode="after")
    def _plausible_for_age(self) -> Case:
        if self.age is None:
            return self
        weeks = self.symptoms.duration_weeks if self.symptoms is not None else None
        if weeks is not None and weeks / (_DAYS_PER_YEAR / 7) > self.age + 1:
            raise PydanticCustomError(
                "age_contradiction",
                "symptoms.duration_weeks ({weeks:g} weeks) is longer than the patient has lived (age {age:g})",
                {"weeks": weeks, "age": self.age, "field": "symptoms.duration_weeks"},
            )
        for name in ("pregnant", "breastfeeding"):
            if getattr(self, name) is True and not _CHILDBEARING_AGES[0] <= self.age <= _CHILDBEARING_AGES[1]:
                raise PydanticCustomError(
                    "age_contradiction",
                    "{field} is true at age {age:g}, outside the ages at which pregnancy has been recorded "
                    "({low}-{high}); correct one of them",
                    {"field": name, "age": self.age, "low": _CHILDBEARING_AGES[0], "high": _CHILDBEARING_AGES[1]},
                )
        return self

    @model_validator(mode="after")
    def _no_duplicate_entries(self) -> Case:
        """An entry given twice is a slip of the form or the import, and counting it twice could
        lift a restriction (one diagnostic block read as the two that radiofrequency ablation
        needs). Earlier injections are the exception: two identical entries may be two injections
        whose levels were not recorded, and counting both only makes the repeat limits stricter."""
        for list_name in ("diagnoses", "imaging", "medications", "diagnostic_blocks", "allergies"):
            seen: dict[str, int] = {}
            for index, item in enumerate(getattr(self, list_name) or ()):
                key = item.model_dump_json() if isinstance(item, BaseModel) else str(item)
                if key in seen:
                    raise PydanticCustomError(
                        "duplicate_entry",
                        "{field}[{index}] repeats {field}[{first}]; remove one",
                        {"field": list_name, "index": index, "first": seen[key]},
                    )
                seen[key] = index
        return self


_SMALLEST, _LARGEST = 1e-4, 1e15


def _unreadable(value: int | float) -> bool:
    return (isinstance(value, float) and value != 0 and abs(value) < _SMALLEST) or abs(value) >= _LARGEST


def _any_unreadable(value: Any) -> bool:
    """Whether `_numbers` would list a number the engine cannot read: the same values, without the
    paths (building a path for every number of every case was most of the check's cost), walked
    with a list rather than a call per value (a case holds some 80 values; it runs for every case)."""
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int or kind is float:
            if _unreadable(item):
                return True
        elif isinstance(item, BaseModel):
            pending.extend(item.__dict__.values())  # the model's fields (no extras are allowed)
        elif isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, (int, float)) and not isinstance(item, (str, bool)) and _unreadable(item):
            return True
    return False


def _numbers(value: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every number in a case, with its dotted path, in field order (as its dump would list them).

    Walks the validated models themselves rather than a dump of them: this runs for every case
    evaluated, and dumping the case first cost more than the check."""
    if isinstance(value, (str, bool)) or value is None:
        return []
    if isinstance(value, (int, float)):
        return [(path, value)]
    if isinstance(value, BaseModel):
        return [
            found
            for key in type(value).model_fields
            for found in _numbers(getattr(value, key), f"{path}.{key}" if path else key)
        ]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _numbers(item, f"{path}.{key}" if path else key)]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in _numbers(item, f"{path}[{index}]")]
    return []


def with_field(case: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of a case (as data) with one dotted field set, creating the sub-object if needed.

    What-if questions and answers to missing information change one field at a time.
    """
    out = copy.deepcopy(case)
    head, _, tail = path.partition(".")
    if tail:
        out[head] = {**(out.get(head) or {}), tail: value}
    else:
        out[head] = value
    return out
