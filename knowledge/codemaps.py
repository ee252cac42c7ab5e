"""The FHIR code maps: which standard codes say what about a case, as reviewable data.

A record system speaks ICD-10-CM, SNOMED CT, LOINC, RxNorm, CPT and DICOM; the case speaks the
vocabulary. `knowledge/fhir/codes.yaml` holds every translation with the code's own name as the
code system publishes it, so that a reviewer can check each line against the code system, and
with `basis` where the translation rests on a guideline's code list rather than on the code's
name alone. ICD-10-CM entries are checked against the real code set (simple-icd-10-cm): a
category stands for its billable codes, and only billable codes are accepted from a record.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from knowledge.loader import KNOWLEDGE_DIR, Knowledge, KnowledgeError, did_you_mean, load_knowledge, read_yaml
from knowledge.problems import validation_problems
from knowledge.schema import Vocabulary

STRICT = ConfigDict(extra="forbid", frozen=True)
Scalar = bool | int | float | str
CODEMAP_FILE = "fhir/codes.yaml"


class CodeSystem(BaseModel):
    model_config = STRICT
    uri: str
    title: str
    url: str | None = None


class Code(BaseModel):
    """One code as its system publishes it. `recheck`: the display was not checked against the system."""

    model_config = STRICT
    system: str
    code: str
    display: str
    basis: list[str] = Field(default_factory=list, description="source_id#section when a guideline backs the mapping.")
    note: str = ""
    recheck: bool = False


class DiagnosisPart(BaseModel):
    model_config = STRICT
    condition: str
    region: str | None = None
    side: str | None = None
    subtype: str | None = None
    levels: list[str] | None = None


class ConditionCode(Code):
    """A Condition code: a diagnosis in scope, and/or case facts that the code states."""

    diagnosis: DiagnosisPart | None = None
    facts: dict[str, Scalar] = Field(
        default_factory=dict, description="Case field -> value when the condition is present."
    )
    refuted_facts: dict[str, Scalar] = Field(
        default_factory=dict, description="Case field -> value when the record says the condition was ruled out."
    )


class UnmappedCode(Code):
    """A code deliberately not mapped; the reason is shown to the clinician as ignored input."""

    reason: str


class ObservationCode(Code):
    field: str
    units: dict[str, float] = Field(default_factory=dict, description="UCUM unit -> factor to the case's unit.")
    answers: dict[str, Scalar | None] = Field(
        default_factory=dict, description="'system|code' of a coded answer -> case value (null: answer says unknown)."
    )


class MedicationCode(Code):
    medication: str


class AllergyCode(Code):
    allergy: str


class ProcedureCode(Code):
    procedure: str | None = None
    approach: str | None = None
    region: str | None = None


class ProcedureCategory(Code):
    kind: Literal["prior_injections", "diagnostic_blocks"]


class ModalityCode(Code):
    modality: str


class AbsentCode(Code):
    """A statement that the patient has none of something: the case lists become empty, not unknown."""

    empty: list[str]


class LocalSystems(BaseModel):
    """spine-cds's own code systems for what no standard code says (codes are vocabulary ids)."""

    model_config = STRICT
    case_field: str
    condition: str
    procedure: str
    allergy: str
    list: str


class Extensions(BaseModel):
    model_config = STRICT
    levels: str
    side: str
    subtype: str
    region: str
    approach: str
    steroid: str
    relief_percent: str
    relief_weeks: str
    concordant: str


class CodeMaps(BaseModel):
    model_config = STRICT
    version: str
    code_systems: dict[str, CodeSystem]
    local: LocalSystems
    extensions: Extensions
    current_fields: list[str] = Field(
        description="Case fields an Observation may fill only when recorded on the assessment day."
    )
    diagnostic_by_default: list[str] = Field(
        description="Procedures that are diagnostic blocks when the record gives no category."
    )
    conditions: list[ConditionCode]
    unmapped_conditions: list[UnmappedCode]
    observations: list[ObservationCode]
    medications: list[MedicationCode]
    allergies: list[AllergyCode]
    procedures: list[ProcedureCode]
    procedure_categories: list[ProcedureCategory]
    modalities: list[ModalityCode]
    imaging_reports: list[ModalityCode]
    absent: list[AbsentCode]

    def system_uri(self, short: str) -> str:
        return self.code_systems[short].uri


class CodeIndex(BaseModel):
    """The maps keyed by (system URI, code), ICD-10-CM categories expanded to their billable codes."""

    model_config = ConfigDict(frozen=True)
    maps: CodeMaps
    conditions: dict[tuple[str, str], ConditionCode]
    unmapped: dict[tuple[str, str], UnmappedCode]
    observations: dict[tuple[str, str], ObservationCode]
    medications: dict[tuple[str, str], MedicationCode]
    allergies: dict[tuple[str, str], AllergyCode]
    procedures: dict[tuple[str, str], ProcedureCode]
    categories: dict[tuple[str, str], ProcedureCategory]
    modalities: dict[tuple[str, str], ModalityCode]
    imaging_reports: dict[tuple[str, str], ModalityCode]
    absent: dict[tuple[str, str], AbsentCode]


def icd10cm() -> Any:
    """The ICD-10-CM code set, imported on first need (it takes a few seconds to load)."""
    import simple_icd_10_cm

    return simple_icd_10_cm


def _check_vocabulary(maps: CodeMaps, vocab: Vocabulary, problems: list[str]) -> None:
    def check(where: str, kind: str, value: str | None) -> None:
        ids = getattr(vocab, kind)
        if value is not None and value not in ids:
            problems.append(f"{CODEMAP_FILE}: {where}: unknown {kind[:-1]} '{value}'{did_you_mean(value, list(ids))}")

    for entry in maps.conditions:
        where = f"conditions {entry.code}"
        if entry.diagnosis:
            check(where, "conditions", entry.diagnosis.condition)
            check(where, "regions", entry.diagnosis.region)
            check(where, "sides", entry.diagnosis.side)
    for med in maps.medications:
        check(f"medications {med.code}", "medications", med.medication)
    for allergy in maps.allergies:
        check(f"allergies {allergy.code}", "allergies", allergy.allergy)
    for proc in maps.procedures:
        check(f"procedures {proc.code}", "procedures", proc.procedure)
        check(f"procedures {proc.code}", "approaches", proc.approach)
        check(f"procedures {proc.code}", "regions", proc.region)
    for mod in [*maps.modalities, *maps.imaging_reports]:
        check(f"modalities {mod.code}", "modalities", mod.modality)
    for proc_id in maps.diagnostic_by_default:
        check("diagnostic_by_default", "procedures", proc_id)


def _check_sources(maps: CodeMaps, knowledge: Knowledge, problems: list[str]) -> None:
    for group in ("conditions", "unmapped_conditions", "observations", "medications", "allergies", "procedures"):
        for entry in getattr(maps, group):
            if entry.system not in maps.code_systems:
                problems.append(
                    f"{CODEMAP_FILE}: {group} {entry.code}: unknown code system '{entry.system}'"
                    f"{did_you_mean(entry.system, list(maps.code_systems))}"
                )
            for ref in entry.basis:
                source_id, _, section = ref.partition("#")
                source = knowledge.sources.get(source_id)
                if source is None or section not in source.sections:
                    problems.append(
                        f"{CODEMAP_FILE}: {group} {entry.code}: basis '{ref}' is not a known source#section"
                    )


def _expand_icd(entries: list[Any], maps: CodeMaps, problems: list[str], group: str) -> dict[tuple[str, str], Any]:
    """ICD-10-CM entries by billable code; a category reaches every billable code below it
    unless a more specific entry names that code itself."""
    cm = icd10cm()
    uri = maps.system_uri("icd10cm")
    out: dict[tuple[str, str], Any] = {}
    depth: dict[str, int] = {}
    for entry in entries:
        if entry.system != "icd10cm":
            continue
        if not cm.is_valid_item(entry.code):
            problems.append(f"{CODEMAP_FILE}: {group} {entry.code}: not an ICD-10-CM code")
            continue
        official = cm.get_description(entry.code)
        if official != entry.display:
            problems.append(
                f"{CODEMAP_FILE}: {group} {entry.code}: display '{entry.display}' is not the code's name '{official}'"
            )
        leaves = (
            [entry.code] if cm.is_leaf(entry.code) else [c for c in cm.get_descendants(entry.code) if cm.is_leaf(c)]
        )
        for leaf in leaves:
            specificity = len(entry.code)
            if depth.get(leaf, -1) < specificity:
                out[(uri, leaf)] = entry
                depth[leaf] = specificity
            elif depth[leaf] == specificity:
                problems.append(f"{CODEMAP_FILE}: {group} {entry.code}: code listed twice")
    return out


def _by_code(entries: list[Any], maps: CodeMaps, group: str, problems: list[str]) -> dict[tuple[str, str], Any]:
    out: dict[tuple[str, str], Any] = {}
    for entry in entries:
        if entry.system == "icd10cm" or entry.system not in maps.code_systems:
            continue
        key = (maps.system_uri(entry.system), entry.code)
        if key in out:
            problems.append(f"{CODEMAP_FILE}: {group} {entry.system}|{entry.code}: code listed twice")
        out[key] = entry
    return out


def load_codemaps(root: Path | None = None, *, release: bool = True) -> CodeIndex:
    """Load, check and index the code maps. Raises KnowledgeError naming each problem.

    The maps are part of the knowledge release: with `release`, a folder whose files differ from
    its manifest (the maps included) is refused, as `load_knowledge` refuses it."""
    root = (root or KNOWLEDGE_DIR).resolve()
    path = root / CODEMAP_FILE
    problems: list[str] = []
    try:
        raw = read_yaml(path, problems, root) if path.exists() else None
        if problems:
            raise KnowledgeError(problems)
        maps = CodeMaps.model_validate(raw)
    except OSError as err:
        raise KnowledgeError([f"{CODEMAP_FILE}: cannot read ({err.strerror})"]) from None
    except ValidationError as err:
        raise KnowledgeError(
            validation_problems(
                err, echo_values=False, whole="(top)", location=lambda loc: (CODEMAP_FILE, ".".join(map(str, loc)))
            )
        ) from None
    knowledge = load_knowledge(root, release=release)
    _check_sources(maps, knowledge, problems)
    _check_vocabulary(maps, knowledge.vocabulary, problems)
    groups: dict[str, dict[tuple[str, str], Any]] = {}
    for group, entries in (
        ("conditions", maps.conditions),
        ("unmapped", maps.unmapped_conditions),
        ("observations", maps.observations),
        ("medications", maps.medications),
        ("allergies", maps.allergies),
        ("procedures", maps.procedures),
        ("categories", maps.procedure_categories),
        ("modalities", maps.modalities),
        ("imaging_reports", maps.imaging_reports),
        ("absent", maps.absent),
    ):
        groups[group] = {**_by_code(entries, maps, group, problems), **_expand_icd(entries, maps, problems, group)}
    for key in sorted(set(groups["conditions"]) & set(groups["unmapped"])):
        mapped, unmapped = groups["conditions"][key], groups["unmapped"].pop(key)
        if len(mapped.code) <= len(unmapped.code):
            problems.append(f"{CODEMAP_FILE}: {key[1]}: both mapped ({mapped.code}) and unmapped ({unmapped.code})")
    if problems:
        raise KnowledgeError(problems)
    return CodeIndex(maps=maps, **groups)


@cache
def default_codemaps() -> CodeIndex:
    return load_codemaps()
