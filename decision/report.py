"""The report: what spine-cds answers for a case, every statement traced to a rule and a source.

Output models are frozen and ordered deterministically so that the same case and knowledge give
byte-identical JSON.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

REPORT_CONFIG = ConfigDict(extra="forbid", frozen=True)

Status = Literal[
    "indicated", "indicated_with_caution", "needs_information", "deferred", "contraindicated", "not_indicated"
]
STATUS_ORDER: tuple[Status, ...] = (
    "indicated",
    "indicated_with_caution",
    "needs_information",
    "deferred",
    "contraindicated",
    "not_indicated",
)
"""Best to worst. A candidate's status is the worst that any applicable rule gives it."""

ReasonKind = Literal["indication", "restriction", "red_flag", "guidance", "warning", "unknown", "not_met"]


def status_rank(status: Status) -> int:
    return STATUS_ORDER.index(status)


OFFERED: frozenset[Status] = frozenset({"indicated", "indicated_with_caution"})
"""The statuses under which the engine offers a procedure."""

NO_PROCEDURE = "none"
"""The decision "no procedure", as recorded by the MDT and compared with the engine's answer."""


def candidate_key(procedure: str, approach: str | None, region: str | None) -> str:
    """The one written form of a candidate: procedure/approach/region, "-" where not applicable.
    Decisions, cards, feedback and diffs all name a candidate by it."""
    return "/".join(part or "-" for part in (procedure, approach, region))


class Reason(BaseModel):
    """Why a candidate has its status: one rule, in words, with its sources."""

    model_config = REPORT_CONFIG
    rule_id: str
    kind: ReasonKind = Field(
        description="indication/restriction/... fired; unknown: the rule could not be decided; not_met: an indication that did not apply (why not)."
    )
    status: Status | None = Field(default=None, description="The status this rule pushes the candidate to, if any.")
    text: str
    sources: list[str] = Field(description="source_id#section references.")
    missing: list[str] = Field(default_factory=list, description="Case fields whose answer would decide the rule.")
    recheck: bool = Field(default=False, description="Rests on a recalled figure, to re-check against the source.")


class HoldPlanStep(BaseModel):
    """When to stop one antithrombotic before this procedure and when to restart it."""

    model_config = REPORT_CONFIG
    medication: str = Field(description="Medication id of the knowledge vocabulary.")
    medication_label: str
    action: Literal["stop", "shared_assessment", "no_hold", "defer_for_plan", "caution_for_plan"]
    stop_before_hours: int | None = Field(default=None, description="Stop at least this long before the procedure.")
    restart_after_hours: list[int] | None = Field(
        default=None, description="Restart this long after the procedure: [hours] or [from, to]."
    )
    normal_inr: bool = Field(default=False, description="A normal INR is needed before the procedure.")
    text: str
    rule_id: str
    sources: list[str]
    recheck: bool = False


class ReportCandidate(BaseModel):
    model_config = REPORT_CONFIG
    procedure: str
    approach: str | None
    region: str | None
    levels: list[str]
    bleeding_risk: str | None
    guidance: list[str] = Field(description="Image guidance, preferred first.")
    status: Status
    reasons: list[Reason]
    antithrombotic_plan: list[HoldPlanStep] = Field(
        default_factory=list, description="Stop and restart times for each antithrombotic the patient takes."
    )

    @property
    def key(self) -> str:
        return candidate_key(self.procedure, self.approach, self.region)


class Finding(BaseModel):
    """A contraindication, warning or red flag, with the candidates it concerns."""

    model_config = REPORT_CONFIG
    rule_id: str
    text: str
    sources: list[str]
    severity: Literal["absolute", "relative"] | None = None
    candidates: list[str] = Field(
        default_factory=list, description="procedure/approach/region keys; empty for the whole case."
    )
    recheck: bool = False


class MissingInformation(BaseModel):
    model_config = REPORT_CONFIG
    field: str = Field(description="Dotted case path whose answer is needed.")
    why: str
    rule_id: str
    about: list[str] = Field(
        default_factory=list, description="The list entries the question concerns, as written (e.g. a drug name)."
    )


class SteroidCount(BaseModel):
    """Steroid injections in the window, all regions together: what the repeat limits count by region."""

    model_config = REPORT_CONFIG
    window_months: int
    counted: int = Field(description="Earlier injections with steroid dated within the window.")
    uncertain: int = Field(
        default=0, description="Entries that may belong (steroid or date not recorded, or no assessment date)."
    )
    text: str


class IgnoredInput(BaseModel):
    """Something an imported record said that did not become part of the case, and why.

    Imports (FHIR) never drop data silently: what could not be mapped is listed here so that a
    clinician can see what the assessment did not take into account.
    """

    model_config = REPORT_CONFIG
    resource: str = Field(description="Where it came from: ResourceType/id, or ResourceType[entry index].")
    element: str | None = Field(default=None, description="The element or code that was not used.")
    reason: str


class Report(BaseModel):
    model_config = REPORT_CONFIG
    case_id: str | None
    knowledge_version: str
    knowledge_hash: str
    policy: str
    policy_title: str
    engine_version: str
    candidates: list[ReportCandidate]
    contraindications: list[Finding]
    warnings: list[Finding]
    missing_information: list[MissingInformation]
    fired_rules: list[str]
    red_flags: list[Finding]
    no_guideline_applies: bool
    no_guideline_reason: str | None = None
    steroid_injections: SteroidCount | None = Field(
        default=None, description="Cumulative steroid injections across all regions (unknown when not asked)."
    )
    ignored_input: list[IgnoredInput] = Field(
        default_factory=list, description="Imported input that was not used (empty for a case given directly)."
    )

    @property
    def best_status(self) -> Status:
        """The best status of any candidate (candidates come best first); not_indicated when none."""
        return self.candidates[0].status if self.candidates else "not_indicated"

    def offered(self) -> list[str]:
        """Keys of the candidates the engine offers (indicated, with or without caution)."""
        return [c.key for c in self.candidates if c.status in OFFERED]

    def status_of(self, decision: str) -> str:
        """What the engine said about a decision: the candidate's status, or, for "no procedure",
        whether it offered anything."""
        if decision == NO_PROCEDURE:
            return "indicated candidates exist" if self.offered() else "none indicated"
        return next((c.status for c in self.candidates if c.key == decision), "not considered")

    def agrees_with(self, decision: str) -> bool:
        """Whether a decision (a candidate key or NO_PROCEDURE) is one the engine would give: an
        offered candidate, or no procedure when nothing is offered."""
        offered = self.offered()
        return not offered if decision == NO_PROCEDURE else decision in offered
