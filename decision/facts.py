"""From a validated case to the contexts the rules are weighed in.

A rule is weighed once for the whole case (red flags) and once for every candidate: a pairing of
one diagnosis with one procedure option from the knowledge catalogue. Each context holds every
field a rule may read, with unknown made explicit, because a rules engine reads an absent field
as "false" and that would turn "not asked" into "no".
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from decision.case import Case, Diagnosis
from decision.fields import LAB_RANGES, FieldCatalogue, field_catalogue, lab_judgement_field
from decision.per_object import PerObject
from decision.report import candidate_key
from knowledge.loader import Knowledge
from knowledge.schema import BleedingRisk, MedicationTerm, ProcedureOption


class _Unknown:
    """The one marker for an unknown value (a null in the case)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
NO_APPROACH = "none"
"""A procedure that has no named approaches (a facet joint injection): known, not unknown."""
RISK_ORDER = ("low", "intermediate", "high")


@dataclass(frozen=True)
class CandidateKey:
    procedure: str
    approach: str | None
    region: str | None

    def label(self) -> str:
        return candidate_key(self.procedure, self.approach, self.region)


@dataclass
class Context:
    """Everything a rule can read for one weighing. `index` 0 is the whole-case context."""

    index: int
    kind: str  # "case" or "cand"
    values: dict[str, Any]
    lists: dict[str, list[dict[str, Any]] | None]
    assessment_date: dt.date | None
    option: ProcedureOption | None = None
    diagnosis: Diagnosis | None = None
    diagnosis_index: int | None = None
    key: CandidateKey | None = None
    levels: tuple[str, ...] = field(default_factory=tuple)
    risk_questions: tuple[str, ...] = ()
    """Case fields that would settle the bleeding-risk class when patient factors leave it open."""


CONTEXT_FIELD_ORIGIN = {
    "candidate.region": "diagnoses.region",
    "candidate.bleeding_risk": "diagnoses.region",
    "diagnosis.level_count": "diagnoses.levels",
    "medications.recognised": "medications.name",
    "medications.placed": "medications.drug_class",
    "medications.tabled": "medications.name",
    "candidate.intermediate_or_high_risk": "diagnoses.region",
    "candidate.high_risk": "diagnoses.region",
}


CANDIDATE_PATHS = ("candidate.", "diagnosis.")
"""Context fields that differ between the candidates of one case; every other field of a candidate's
context is the whole case's (decision.contexts builds them so)."""


def case_path(field_path: str) -> str:
    """The case field a clinician answers for a context field (candidate.region comes from the diagnosis)."""
    if field_path in CONTEXT_FIELD_ORIGIN:
        return CONTEXT_FIELD_ORIGIN[field_path]
    if field_path.startswith("labs.") and field_path.endswith("_vs_range"):
        return field_path.removesuffix("_vs_range")
    if field_path.startswith("diagnosis."):
        return "diagnoses." + field_path.removeprefix("diagnosis.")
    return field_path


def _or_unknown(value: Any) -> Any:
    return UNKNOWN if value is None else value


_ValuePlan = tuple[tuple[tuple[str, str, str, bool], ...], tuple[str, ...], tuple[str, ...]]
"""What `case_values` reads from a case: (path, case attribute, its part's attribute, a list of
choices) per scalar field, the top-level groups, the lists."""


def _value_plan(catalogue: FieldCatalogue) -> _ValuePlan:
    scalars = tuple(
        (path, *_head_tail(path), spec.kind == "enum_list")
        for path, spec in catalogue.scalars.items()
        # derived: from the candidate, the diagnosis, or a lab and its range
        if not (path.startswith(CANDIDATE_PATHS) or path.endswith("_vs_range"))
    )
    return scalars, tuple(g for g in catalogue.groups if "." not in g), tuple(catalogue.lists)


def _head_tail(path: str) -> tuple[str, str]:
    head, _, tail = path.partition(".")
    return head, tail


_value_plans: PerObject[FieldCatalogue, _ValuePlan] = PerObject(_value_plan)
"""Worked out once per field catalogue (one per vocabulary in use), not for every case."""


def case_values(case: Case) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]] | None]]:
    scalars, groups, list_names = _value_plans(field_catalogue())
    values: dict[str, Any] = {}
    for path, head, tail, choices in scalars:
        obj: Any = getattr(case, head)
        if tail:
            obj = None if obj is None else getattr(obj, tail)
        if choices:
            values[path] = UNKNOWN if obj is None else tuple(obj)
        else:
            values[path] = _or_unknown(obj)
    for group in groups:
        values[group] = UNKNOWN if getattr(case, group) is None else "known"
    lists: dict[str, list[dict[str, Any]] | None] = {}
    for name in list_names:
        items = getattr(case, name)
        lists[name] = None if items is None else [item.model_dump() for item in items]
        values[name] = UNKNOWN if items is None else "known"
    return values, lists


def _aliases_of(knowledge: Knowledge) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for name, listed in knowledge.vocabulary.medications.items():
        aliases[name] = name
        for alias in listed.aliases:
            aliases[alias] = name
    return aliases


_medication_aliases: PerObject[Knowledge, dict[str, str]] = PerObject(_aliases_of)
"""Every name a listed drug goes by, once per knowledge (it was built again for every case)."""


def identify_medication(written: str, aliases: dict[str, str]) -> tuple[str | None, bool]:
    """(generic name, ambiguous) for a name as written.

    "Xarelto 20mg" is read by its words; a name that only resembles a listed drug ("warfrin") is
    ambiguous: the drug is then unknown, so every hold rule asks rather than passes.
    """
    if written in aliases:
        return aliases[written], False
    words = [w for w in re.split(r"[^a-z]+", written) if w]
    found = {aliases[w] for w in words if w in aliases}
    if len(found) == 1:
        return found.pop(), False
    if found:
        return None, True
    candidates = [written, *words]
    close = [c for c in candidates if difflib.get_close_matches(c, list(aliases), n=1, cutoff=0.8)]
    return None, bool(close)


def canonical_medications(items: list[dict[str, Any]] | None, knowledge: Knowledge) -> list[dict[str, Any]] | None:
    """Brand names to generic names, and the drug class, from the vocabulary.

    A listed drug takes the vocabulary's class (whatever the case says). Any other name keeps the
    class the case gives it, if any; without one it is *unplaced* (`placed` false), which the
    knowledge asks about rather than passes.
    """
    if items is None:
        return None
    aliases = _medication_aliases(knowledge)
    out = []
    for item in items:
        generic, ambiguous = identify_medication(item["name"], aliases)
        term: MedicationTerm | None = knowledge.vocabulary.medications.get(generic) if generic else None
        name: Any = generic if term else (None if ambiguous else item["name"])  # ambiguous: which drug is unknown
        drug_class: Any = term.drug_class if term else item.get("drug_class")
        out.append(
            {
                **item,
                "written": item["name"],
                "name": name,
                "drug_class": drug_class,
                "recognised": term is not None,
                "placed": drug_class is not None,
                "tabled": term is not None and generic in knowledge.tabled_medications,
            }
        )
    return out


def lab_judgements(case: Case, knowledge: Knowledge, params: Mapping[str, Any]) -> dict[str, Any]:
    """Each lab value against its range: the bound recorded with it, else the policy's sourced default.

    The policy states defaults as `<lab>_range_low` / `<lab>_range_high`; a lab with neither a
    recorded nor a default bound is `no_range`, which the knowledge asks about.
    """
    labs = case.labs
    out: dict[str, Any] = {}
    for lab in knowledge.vocabulary.labs:
        value = None if labs is None else getattr(labs, lab, None)
        if value is None:
            out[lab_judgement_field(lab)] = "not_recorded"  # a rule that needs the value asks for it by name
            continue
        recorded = (labs.ranges or {}).get(lab) if labs is not None else None
        low = recorded.low if recorded is not None and recorded.low is not None else params.get(f"{lab}_range_low")
        high = recorded.high if recorded is not None and recorded.high is not None else params.get(f"{lab}_range_high")
        if low is None and high is None:
            judgement = "no_range"
        elif low is not None and value < low:
            judgement = "below_range"
        elif high is not None and value > high:
            judgement = "above_range"
        else:
            judgement = "within_range"
        out[lab_judgement_field(lab)] = judgement
    out[LAB_RANGES] = UNKNOWN if labs is None or labs.ranges is None else "known"
    return out


def options_for(diagnosis: Diagnosis, knowledge: Knowledge) -> list[ProcedureOption]:
    """The catalogue options weighed for one diagnosis: those considered for its region (all if unknown)."""
    if diagnosis.region is None:
        return list(knowledge.options)
    return [opt for opt in knowledge.options if diagnosis.region in opt.considered_for]


def risk_values(base: Any, raised: str) -> dict[str, Any]:
    """The class after patient factors (raised: T/F/U), as the fields rules read.

    Raising moves a class up by one, so "intermediate or high" is settled for an intermediate
    procedure whatever the factors, and only the questions that could change a hold are asked.
    """
    if base is UNKNOWN:
        return {
            "candidate.bleeding_risk": UNKNOWN,
            "candidate.intermediate_or_high_risk": UNKNOWN,
            "candidate.high_risk": UNKNOWN,
        }
    rank = RISK_ORDER.index(base)

    def at_least(level: int) -> Any:
        if rank >= level:
            return True
        if rank == level - 1:
            return {"T": True, "F": False, "U": UNKNOWN}[raised]
        return False

    effective: Any = base if raised == "F" or rank == len(RISK_ORDER) - 1 else UNKNOWN
    if raised == "T":
        effective = RISK_ORDER[min(rank + 1, len(RISK_ORDER) - 1)]
    return {
        "candidate.bleeding_risk": effective,
        "candidate.intermediate_or_high_risk": at_least(1),
        "candidate.high_risk": at_least(2),
    }


_VERTEBRA = re.compile(r"[CTLS][0-9]{1,2}")


def _base_risk(spec: BleedingRisk, region: str | None, levels: list[str] | None) -> Any:
    """The procedure's class before patient factors: by region, and by the vertebrae at the level
    where the guideline classes by level (the highest class among them)."""
    if region is None:
        return UNKNOWN if spec.by_region or spec.by_vertebra else spec.default
    regional = spec.by_region.get(region, spec.default)
    if not spec.by_vertebra:
        return regional
    if not levels:
        return UNKNOWN
    vertebrae = {v for level in levels for v in _VERTEBRA.findall(level)}
    return max((spec.by_vertebra.get(v, regional) for v in vertebrae), key=RISK_ORDER.index)


def candidate_values(
    option: ProcedureOption, diagnosis: Diagnosis, guideline: str | None = None
) -> tuple[dict[str, Any], CandidateKey]:
    region = option.target_region or diagnosis.region
    spec = option.bleeding_risk_by_guideline.get(guideline or "", option.bleeding_risk)
    levels = diagnosis.levels if option.target_region is None else None
    risk = _base_risk(spec, region, levels)
    values = {
        "candidate.procedure": option.procedure,
        "candidate.approach": option.approach or NO_APPROACH,
        "candidate.region": _or_unknown(region),
        "candidate.bleeding_risk": risk,
        "candidate.uses_steroid": option.uses_steroid,
        "candidate.uses_local_anaesthetic": option.uses_local_anaesthetic,
        "candidate.uses_contrast": option.uses_contrast,
        "diagnosis.condition": _or_unknown(diagnosis.condition),
        "diagnosis.region": _or_unknown(diagnosis.region),
        "diagnosis.subtype": _or_unknown(diagnosis.subtype),
        "diagnosis.side": _or_unknown(diagnosis.side),
        "diagnosis.level_count": UNKNOWN if diagnosis.levels is None else len(diagnosis.levels),
        "diagnosis.prior_surgery_at_site": _or_unknown(diagnosis.prior_surgery_at_site),
    }
    return values, CandidateKey(option.procedure, option.approach, region)
