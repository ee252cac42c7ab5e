"""The building blocks of the case model: ids checked against the knowledge's vocabulary (the
vocabulary of the knowledge in use, not of the process), dates, levels and medication names.

Apart from decision.case so that the model reads as the case it describes.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field, GetCoreSchemaHandler, GetJsonSchemaHandler, WithJsonSchema
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from knowledge.loader import did_you_mean, load_vocabulary
from knowledge.schema import Vocabulary

CASE_CONFIG = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)
MAX_LIST = 200


@cache
def _shipped_vocabulary() -> Vocabulary:
    return load_vocabulary()


_active: ContextVar[Vocabulary | None] = ContextVar("spine_cds_vocabulary", default=None)


def vocabulary() -> Vocabulary:
    """The vocabulary of the knowledge in use: the shipped one unless `using_vocabulary` names
    another (a knowledge folder under review, a reloaded release with a new drug or id)."""
    return _active.get() or _shipped_vocabulary()


@contextmanager
def using_vocabulary(vocab: Vocabulary) -> Iterator[None]:
    """Validate cases and check rules against `vocab` in this thread (and task) for the block."""
    token = _active.set(vocab)
    try:
        yield
    finally:
        _active.reset(token)


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
        return {"type": "string", "enum": self.ids(), "description": self.description, "vocabulary": self.kind}


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


def medication_name(value: Any) -> Any:
    return normalise_medication_name(value) if isinstance(value, str) else value
