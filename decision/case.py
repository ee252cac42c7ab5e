"""The case: what a clinician tells spine-cds about a patient.

Every field may be omitted or null, and null means *unknown*, never "no": the engine turns an
unknown that a rule needs into "needs information". Types are strict (the rules engine is weakly
typed, so nothing loose may reach it), ids come from the knowledge vocabulary, and the bounds
below are input plausibility checks (a percentage is 0-100), not clinical thresholds.
"""

from __future__ import annotations

import copy
import datetime as dt
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from knowledge.loader import did_you_mean, load_vocabulary
from knowledge.schema import Vocabulary

CASE_CONFIG = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)
MAX_LIST = 200


@cache
def vocabulary() -> Vocabulary:
    return load_vocabulary()


@dataclass(frozen=True)
class VocabId:
    """Marks a string that must be an id of one vocabulary list; says the closest id when it is not."""

    kind: str
    noun: str
    description: str

    def ids(self) -> list[str]:
        return sorted(getattr(vocabulary(), self.kind))

    def check(self, value: str) -> str:
        ids = self.ids()
        if value not in ids:
            raise PydanticCustomError(
                "unknown_id",
                "unknown {kind} '{value}'{hint}; expected one of: {expected}",
                {
                    "kind": self.noun,
                    "value": value,
                    "hint": did_you_mean(value, ids),
                    "expected": ", ".join(ids),
                },
            )
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"type": "string", "enum": self.ids(), "description": self.description}


def _iso_date(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        raise PydanticCustomError("date_type", "expected a date (YYYY-MM-DD), got a date and time")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError(
                "date_format", "expected a date as YYYY-MM-DD, got '{value}'", {"value": value}
            ) from None
    raise PydanticCustomError("date_type", "expected a date as YYYY-MM-DD, got '{value}'", {"value": value})


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date), WithJsonSchema({"type": "string", "format": "date"})]
ConditionId = Annotated[str, VocabId("conditions", "condition", "Diagnosis in scope.")]
RegionId = Annotated[str, VocabId("regions", "region", "Body region.")]
SideId = Annotated[str, VocabId("sides", "side", "Side of the symptoms or lesion.")]
SexId = Annotated[str, VocabId("sexes", "sex", "Sex.")]
PainPatternId = Annotated[str, VocabId("pain_patterns", "pain pattern", "Pattern of pain.")]
ControlLevelId = Annotated[
    str, VocabId("control_levels", "control level", "Whether the condition is present and controlled.")
]
AllergyId = Annotated[str, VocabId("allergies", "allergy", "Allergy relevant to an injection.")]
ModalityId = Annotated[str, VocabId("modalities", "imaging modality", "Imaging modality.")]
ProcedureId = Annotated[str, VocabId("procedures", "procedure", "Injection procedure.")]
ApproachId = Annotated[str, VocabId("approaches", "approach", "Approach of the procedure.")]
DrugClassId = Annotated[
    str,
    VocabId(
        "drug_classes",
        "drug class",
        "What the medication is, when its name is not in the knowledge's drug list "
        "(not_antithrombotic: not an anticoagulant or antiplatelet).",
    ),
]
RegimenId = Annotated[str, VocabId("regimens", "regimen", "Dose or indication, where the hold depends on it.")]
LabId = Annotated[str, VocabId("labs", "laboratory value", "Laboratory value.")]
Level = Annotated[
    str,
    Field(pattern=r"^[CTLS][0-9]{1,2}(-[CTLS][0-9]{1,2})?$", examples=["L4-L5", "L5-S1", "C6-C7"]),
]
Percent = Annotated[float, Field(ge=0, le=100)]


def normalise_medication_name(value: str) -> str:
    """One spelling per name: full-width letters and ligatures folded (NFKC), invisible format
    characters (zero-width spaces, joiners, direction marks) removed, case folded, spaces collapsed.

    A name that only looks like a listed drug must not slip past the drug list as "unknown drug".
    """
    folded = unicodedata.normalize("NFKC", value)
    visible = "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")
    return " ".join(visible.casefold().split())


def _medication_name(value: Any) -> Any:
    return normalise_medication_name(value) if isinstance(value, str) else value


class Diagnosis(BaseModel):
    model_config = CASE_CONFIG
    condition: ConditionId | None = None
    region: RegionId | None = None
    subtype: str | None = Field(
        default=None, description="Stenosis: central, foraminal, lateral_recess; CRPS: type_1, type_2."
    )
    levels: list[Level] | None = Field(default=None, max_length=12)
    side: SideId | None = None
    prior_surgery_at_site: bool | None = Field(
        default=None, description="Earlier surgery or radiation at the site to be injected."
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
        if self.region is not None and self.levels:
            prefix = vocab.regions[self.region].level_prefix
            for level in self.levels:
                if prefix is None or prefix not in level:
                    raise PydanticCustomError(
                        "level_mismatch",
                        "level '{level}' is not in region '{region}'{hint}",
                        {
                            "level": level,
                            "region": self.region,
                            "hint": f" (levels there include {prefix})"
                            if prefix
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
    pain_pattern: PainPatternId | None = None
    duration_weeks: float | None = Field(default=None, ge=0, le=5200, description="Weeks since onset.")
    pain_score: float | None = Field(default=None, ge=0, le=10, description="Numeric rating scale 0-10.")
    neurogenic_claudication: bool | None = None
    functional_impairment: bool | None = None
    progressive_neurological_deficit: bool | None = None
    cauda_equina_signs: bool | None = None
    acute_and_severe_sciatica: bool | None = Field(
        default=None,
        description="The clinician judges the sciatica acute and severe (NICE NG59 gives no figure for either).",
    )


class ConservativeCare(BaseModel):
    model_config = CASE_CONFIG
    weeks: float | None = Field(default=None, ge=0, le=5200)
    failed: bool | None = Field(default=None, description="Tried and did not give enough relief.")


class Imaging(BaseModel):
    model_config = CASE_CONFIG
    modality: ModalityId | None = None
    date: IsoDate | None = None
    concordant: bool | None = Field(default=None, description="Findings match the clinical picture.")


class Medication(BaseModel):
    model_config = CASE_CONFIG
    name: Annotated[str, BeforeValidator(_medication_name), Field(min_length=1, max_length=100)]
    last_dose_hours_ago: float | None = Field(
        default=None, ge=0, le=1_000_000, description="Hours since the last dose."
    )
    drug_class: DrugClassId | None = Field(
        default=None,
        description="Answers 'is this an anticoagulant or antiplatelet?' for a name the drug list does not hold; "
        "for a listed drug the list's class is used.",
    )
    regimen: RegimenId | None = Field(
        default=None, description="Dose or indication (prophylactic/therapeutic, primary/secondary prevention)."
    )


class LabRange(BaseModel):
    """A laboratory's reference range, as reported with the result."""

    model_config = CASE_CONFIG
    low: float | None = Field(default=None, ge=0, le=5000)
    high: float | None = Field(default=None, ge=0, le=5000)

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
    inr: float | None = Field(default=None, gt=0, le=20)
    platelets: float | None = Field(default=None, ge=0, le=5000, description="x10^9/L")
    hba1c: float | None = Field(default=None, ge=0, le=25, description="%")
    glucose: float | None = Field(default=None, ge=0, le=100, description="mmol/L")
    ranges: dict[LabId, LabRange] | None = Field(
        default=None,
        description="Reference ranges reported with the results (by lab id); without one the policy's sourced "
        "default range is used, and a value with no range at all is asked about.",
    )


class Comorbidities(BaseModel):
    model_config = CASE_CONFIG
    active_infection: bool | None = None
    injection_site_infection: bool | None = None
    bleeding_disorder: bool | None = None
    bleeding_disorder_controlled: bool | None = Field(
        default=None, description="A recorded bleeding disorder is corrected or controlled."
    )
    spinal_malignancy: bool | None = None
    malignancy_near_target: bool | None = Field(
        default=None, description="A spinal tumour lies at or near the level to be injected."
    )
    renal_disease: bool | None = Field(
        default=None, description="Severe kidney disease or dysfunction (raises a procedure's bleeding-risk class)."
    )
    renal_impairment: bool | None = Field(
        default=None, description="Impaired renal function of any degree (lengthens the dabigatran hold)."
    )
    liver_disease: bool | None = Field(default=None, description="Severe liver disease or dysfunction.")
    osteoporosis: bool | None = None
    diabetes: ControlLevelId | None = None
    heart_failure: ControlLevelId | None = None


class PriorInjection(BaseModel):
    model_config = CASE_CONFIG
    procedure: ProcedureId | None = None
    approach: ApproachId | None = None
    region: RegionId | None = None
    date: IsoDate | None = None
    steroid: bool | None = None
    relief_percent: Percent | None = None
    relief_weeks: float | None = Field(default=None, ge=0, le=5200)
    worked: bool | None = Field(
        default=None,
        description="The clinician judges it gave worthwhile, lasting relief (decides a repeat radiofrequency ablation).",
    )


class DiagnosticBlock(BaseModel):
    model_config = CASE_CONFIG
    procedure: ProcedureId | None = None
    region: RegionId | None = None
    levels: list[Level] | None = Field(default=None, max_length=12)
    date: IsoDate | None = None
    relief_percent: Percent | None = None


class Exam(BaseModel):
    model_config = CASE_CONFIG
    si_provocation_positive: int | None = Field(default=None, ge=0, le=20)
    si_provocation_tested: int | None = Field(default=None, ge=0, le=20)

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
        default=None, ge=0, le=4, description="Budapest symptom categories met (of 4)."
    )
    sign_categories: int | None = Field(default=None, ge=0, le=4, description="Budapest sign categories met (of 4).")
    other_diagnosis_excluded: bool | None = None


class Case(BaseModel):
    """A patient case. Omitted or null fields are unknown; an empty list means "none"."""

    model_config = CASE_CONFIG
    case_id: str | None = Field(default=None, max_length=200)
    assessment_date: IsoDate | None = Field(default=None, description="Windows are counted back from this date.")
    age: float | None = Field(default=None, ge=0, le=130)
    sex: SexId | None = None
    pregnant: bool | None = None
    breastfeeding: bool | None = None
    diagnoses: list[Diagnosis] | None = Field(default=None, max_length=20)
    symptoms: Symptoms | None = None
    conservative_care: ConservativeCare | None = None
    imaging: list[Imaging] | None = Field(default=None, max_length=MAX_LIST)
    medications: list[Medication] | None = Field(default=None, max_length=MAX_LIST)
    labs: Labs | None = None
    comorbidities: Comorbidities | None = None
    allergies: list[AllergyId] | None = Field(default=None, max_length=20)
    prior_injections: list[PriorInjection] | None = Field(default=None, max_length=MAX_LIST)
    diagnostic_blocks: list[DiagnosticBlock] | None = Field(default=None, max_length=MAX_LIST)
    exam: Exam | None = None
    crps_criteria: CrpsCriteria | None = None
    policy: str | None = Field(default=None, max_length=50, description="Policy profile id; default clinic.")

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
        for list_name in ("imaging", "prior_injections", "diagnostic_blocks"):
            for index, item in enumerate(getattr(self, list_name) or ()):
                if item.date is not None and item.date > self.assessment_date:
                    raise PydanticCustomError(
                        "date_after_assessment",
                        "{field} ({date}) is after assessment_date ({assessed}); history cannot be in the future",
                        {
                            "field": f"{list_name}[{index}].date",
                            "date": item.date.isoformat(),
                            "assessed": self.assessment_date.isoformat(),
                        },
                    )
        return self


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
