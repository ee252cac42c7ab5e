"""Pydantic models of the knowledge files.

The knowledge is data that clinicians review; these models are the contract that keeps it
well-formed. They check shape only: whether a field a rule reads exists in the case model is
checked by `decision.fields` when the rules are compiled, because the case model lives there.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from knowledge.conditions import Condition

STRICT = ConfigDict(extra="forbid", frozen=True)

RestrictionStatus = Literal[
    "indicated_with_caution", "needs_information", "deferred", "contraindicated", "not_indicated"
]
Scope = Literal["candidate", "case"]
SourceRef = Annotated[str, Field(pattern=r"^[a-z0-9_]+#[a-z0-9_.-]+$")]


class Term(BaseModel):
    """One vocabulary id with the words a clinician reads for it."""

    model_config = STRICT
    label: str
    description: str = ""


class ConditionTerm(BaseModel):
    model_config = STRICT
    label: str
    regions: tuple[str, ...]
    description: str = ""


class RegionTerm(BaseModel):
    model_config = STRICT
    label: str
    level_prefix: str | None = None
    vertebrae: tuple[str, ...] = Field(
        default=(), description="The region's vertebrae, head to tail; a level names one, or two adjacent ones."
    )
    nerve_roots_only: tuple[str, ...] = Field(
        default=(), description="Nerve roots named as a level that are no vertebra (C8 exits below C7)."
    )
    description: str = ""


class MedicationTerm(BaseModel):
    """A drug the knowledge recognises; `drug_class` lets rules speak of classes."""

    model_config = STRICT
    label: str
    drug_class: str
    aliases: tuple[str, ...] = ()


class LabTerm(BaseModel):
    model_config = STRICT
    label: str
    unit: str = ""


class Vocabulary(BaseModel):
    """Every id a case or a rule may use. Case validation and rule validation both read it."""

    model_config = STRICT
    conditions: dict[str, ConditionTerm]
    regions: dict[str, RegionTerm]
    subtypes: dict[str, tuple[str, ...]]
    sides: dict[str, Term]
    sexes: dict[str, Term]
    pain_patterns: dict[str, Term]
    control_levels: dict[str, Term]
    allergies: dict[str, Term]
    modalities: dict[str, Term]
    procedures: dict[str, Term]
    approaches: dict[str, Term]
    guidance: dict[str, Term]
    bleeding_risks: dict[str, Term]
    drug_classes: dict[str, Term]
    regimens: dict[str, Term]
    labs: dict[str, LabTerm]
    medications: dict[str, MedicationTerm]

    def spine(self) -> tuple[str, ...]:
        """Every vertebra, head to tail (the regions' tables in file order): C1 ... C7, T1 ... S5."""
        return tuple(v for region in self.regions.values() for v in region.vertebrae)


class SourceSection(BaseModel):
    model_config = STRICT
    title: str
    locator: str = Field(default="", description="Where in the source: recommendation number, page or heading.")


class Source(BaseModel):
    """A cited publication or clinic page. `recheck` marks a figure recalled, not yet verified."""

    model_config = STRICT
    id: str
    kind: Literal["seed", "guideline", "study"]
    title: str
    publisher: str
    year: int | None = None
    url: str | None = None
    file: str | None = Field(default=None, description="Seed file name in shared/sources.")
    sections: dict[str, SourceSection]


class BleedingRisk(BaseModel):
    """A guideline's bleeding-risk class of a procedure, which may depend on the region treated and,
    for some guidelines, on the vertebrae at the level (the highest class among them applies)."""

    model_config = STRICT
    default: str
    by_region: dict[str, str] = Field(default_factory=dict)
    by_vertebra: dict[str, str] = Field(
        default_factory=dict, description="Class at a named vertebra (L5, S1), overriding the region's class."
    )
    sources: tuple[SourceRef, ...]
    verified: bool = Field(default=True, description="False where the checked summary does not name the procedure.")


class ProcedureOption(BaseModel):
    """One (procedure, approach) the engine considers for a diagnosis in a region.

    `considered_for` lists diagnosis regions; `target_region` fixes the treated region when it
    differs from the diagnosis region (a stellate ganglion block for an upper-limb CRPS).
    """

    model_config = STRICT
    id: str
    procedure: str
    approach: str | None = None
    considered_for: tuple[str, ...]
    target_region: str | None = None
    uses_steroid: bool
    uses_local_anaesthetic: bool
    uses_contrast: bool
    bleeding_risk: BleedingRisk
    bleeding_risk_by_guideline: dict[str, BleedingRisk] = Field(
        default_factory=dict,
        description="Classes under another antithrombotic guideline, chosen by the policy's antithrombotic_guideline.",
    )
    sources: tuple[SourceRef, ...]
    notes: str = ""


class GuidanceChange(BaseModel):
    """How a rule changes the ordered guidance list: offer appends, prefer moves to the front."""

    model_config = STRICT
    offer: tuple[str, ...] = ()
    prefer: str | None = None
    avoid: str | None = None

    @model_validator(mode="after")
    def _one_change(self) -> GuidanceChange:
        if not (self.offer or self.prefer or self.avoid):
            raise ValueError("guidance needs one of offer, prefer, avoid")
        return self


class HoldPlan(BaseModel):
    """When to stop an antithrombotic before a procedure and when to restart it, from a hold table."""

    model_config = STRICT
    medication: str
    stop_before_hours: int | None = None
    restart_after_hours: tuple[int, int] | int | None = None
    action: Literal["stop", "shared_assessment", "no_hold", "defer_for_plan", "caution_for_plan"]
    normal_inr: bool = False


class Effect(BaseModel):
    """What a rule does when its condition is met."""

    model_config = STRICT
    text: str = Field(description="What the report says, in plain clinical words.")
    indicate: bool = False
    status: RestrictionStatus | None = None
    contraindication: Literal["absolute", "relative"] | None = None
    red_flag: bool = False
    warning: bool = False
    guidance: GuidanceChange | None = None
    require: tuple[str, ...] = Field(
        default=(), description="Case fields whose answer is needed: listed as missing information."
    )
    plan: HoldPlan | None = Field(default=None, description="A stop/restart plan for an antithrombotic.")

    @model_validator(mode="after")
    def _has_effect(self) -> Effect:
        if not (self.indicate or self.status or self.red_flag or self.warning or self.guidance or self.plan):
            raise ValueError("a rule's `then` must indicate, set a status, warn, flag, plan or change guidance")
        if self.indicate and self.status:
            raise ValueError("an indication rule cannot also set a restricting status")
        if self.require and self.status != "needs_information":
            raise ValueError("`require` goes with status: needs_information")
        if self.contraindication and self.status not in (
            "contraindicated",
            "deferred",
            "indicated_with_caution",
        ):
            raise ValueError("`contraindication` goes with status contraindicated, deferred or caution")
        return self


class Rule(BaseModel):
    """One recommendation: the clinical words first, then the logic."""

    model_config = STRICT
    id: str = Field(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
    title: str
    statement: str
    evidence: str
    sources: tuple[SourceRef, ...] = Field(min_length=1)
    scope: Scope = "candidate"
    policies: tuple[str, ...] | None = Field(
        default=None, description="Policy profiles the rule belongs to; absent means all."
    )
    when: Condition
    then: Effect
    recheck: bool = Field(
        default=False, description="Rests on a recalled figure: re-check the source before relying on it."
    )
    tests: tuple[str, ...] = ()


class RuleFile(BaseModel):
    model_config = STRICT
    topic: str
    title: str
    description: str = ""
    rules: tuple[Rule, ...] = Field(min_length=1)


class PolicyParam(BaseModel):
    """A site switch, phrased as the question it answers, with the source of its answer."""

    model_config = STRICT
    question: str
    value: int | float | str | bool
    unit: str = ""
    source: SourceRef
    recheck: bool = Field(
        default=False, description="The figure is recalled from the guideline: re-check before relying on it."
    )


class Policy(BaseModel):
    model_config = STRICT
    id: str
    title: str
    description: str
    extends: str | None = None
    kind: Literal["clinical", "coverage"] = Field(
        default="clinical",
        description="coverage: the profile states a payer's coverage criteria (its answers are worded as "
        "coverage, never as a clinical indication); not inherited through `extends`.",
    )
    params: dict[str, PolicyParam] = Field(default_factory=dict)


class Manifest(BaseModel):
    """The release: its version, and the files and rules it is made of, each with its hash.

    Written by `spine-cds kb release`; the loader refuses a folder that differs from it, so a file
    deleted, cut short or added after review is never served under the reviewed version."""

    model_config = STRICT
    title: str
    version: str = Field(pattern=r"^\d{4}\.\d+\.\d+$")
    default_policy: str
    files: dict[str, str] = Field(
        default_factory=dict, description="Path under the knowledge folder -> SHA-256 of its bytes."
    )
    rules: dict[str, str] = Field(
        default_factory=dict, description="Rule id -> SHA-256 of the rule as loaded (generated rules included)."
    )


class ProcedureCatalogue(BaseModel):
    """The options weighed, and the patient factors that move any of them up one bleeding-risk class."""

    model_config = STRICT
    bleeding_risk_raised_when: Condition | None = Field(
        default=None,
        description="Patient factors that raise a procedure's bleeding-risk class by one (low to intermediate, "
        "intermediate to high). Left undecided, the class is unknown wherever it would change a hold.",
    )
    bleeding_risk_raised_sources: tuple[SourceRef, ...] = ()
    options: tuple[ProcedureOption, ...]

    @model_validator(mode="after")
    def _raised_has_source(self) -> ProcedureCatalogue:
        if self.bleeding_risk_raised_when is not None and not self.bleeding_risk_raised_sources:
            raise ValueError("bleeding_risk_raised_when needs bleeding_risk_raised_sources")
        return self


class InformationItem(BaseModel):
    model_config = STRICT
    text: str
    source: SourceRef


class RiskBand(BaseModel):
    """Risks of one frequency band, as the seed page groups them."""

    model_config = STRICT
    band: str
    items: tuple[InformationItem, ...] = Field(min_length=1)


class ParticularItem(BaseModel):
    """A line of the sheet that applies to some patients only: when the chosen procedure's reasons
    include one of `when_rules` (the engine decided it applies), or when the patient takes a drug
    the report plans to stop or restart around the procedure."""

    model_config = STRICT
    text: str
    source: SourceRef
    when_rules: tuple[str, ...] = ()
    when_taking_antithrombotic: bool = False

    @model_validator(mode="after")
    def _one_condition(self) -> ParticularItem:
        if bool(self.when_rules) == self.when_taking_antithrombotic:
            raise ValueError("give either when_rules or when_taking_antithrombotic: true (one of them)")
        return self


class PatientInformation(BaseModel):
    """What a patient is told before the injection: what is done and how (per procedure, only where
    a source describes it), risks by frequency, what applies to this patient, aftercare; each sourced."""

    model_config = STRICT
    title: str
    source: str
    how_it_is_done: dict[str, tuple[InformationItem, ...]] = Field(
        default_factory=dict, description="Procedure id -> what is done and how, as the sources describe it."
    )
    not_described: str = Field(
        default="", description="Said instead when no source held describes how a procedure is done."
    )
    risks_note: InformationItem | None = None
    risks: dict[str, RiskBand] = Field(min_length=1)
    for_this_patient: tuple[ParticularItem, ...] = ()
    aftercare: tuple[InformationItem, ...] = Field(min_length=1)

    def references(self) -> list[str]:
        items = [i for band in self.risks.values() for i in band.items] + list(self.aftercare)
        items += [i for described in self.how_it_is_done.values() for i in described]
        items += [self.risks_note] if self.risks_note is not None else []
        return [item.source for item in items] + [item.source for item in self.for_this_patient]


class RedFlagGroup(BaseModel):
    """How the red-flag questions are asked together: their heading and the "none of these" choice."""

    model_config = STRICT
    heading: str
    none_of_these: str


class Questions(BaseModel):
    """The clinician's question for each case field (by field path), declared once for review.

    Which paths must have a question is the case model's business: `decision.fields` checks the
    keys against it when the knowledge is compiled, as it checks the fields rules read."""

    model_config = STRICT
    title: str
    red_flags: RedFlagGroup
    not_asked_when: dict[str, dict[str, tuple[str, ...]]] = Field(
        default_factory=dict,
        description="A question left out when another answer makes it inapplicable: {path: {field: [values]}}.",
    )
    questions: dict[str, str] = Field(min_length=1)


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """JSON schema of a knowledge file model, for reviewers' tooling."""
    return model.model_json_schema()
