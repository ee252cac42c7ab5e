"""FHIR R4B → Case: read what a record system already holds instead of retyping it.

INTERFACE DRAFT (being implemented): signatures are fixed, bodies arrive shortly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from decision.case import Case
from decision.report import IgnoredInput, Report


class FhirInputError(ValueError):
    """The input is not a FHIR R4B resource or Bundle we can read; `problems` name each entry and element."""

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
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    case: Case
    ignored_input: list[IgnoredInput]


def case_from_resources(
    resources: Iterable[Mapping[str, Any]], *, now: dt.datetime | None, case_id: str | None = None
) -> ImportedCase:
    """Map loose resources (a CDS Hooks prefetch, a Bundle's entries) to a case.

    `now` is the moment of assessment: the assessment date and "hours since the last dose" count
    from it; None leaves both unknown.
    """
    raise NotImplementedError


def case_from_bundle(bundle: Mapping[str, Any], *, now: dt.datetime | None = None) -> ImportedCase:
    """A Bundle as a case; `now` defaults to Bundle.timestamp. Raises FhirInputError."""
    raise NotImplementedError


def procedure_from_order(resource: Mapping[str, Any]) -> tuple[ProcedureSelection | None, list[IgnoredInput]]:
    """The procedure a ServiceRequest (an order being placed) asks for, from its code."""
    raise NotImplementedError


def evaluate_imported(imported: ImportedCase, policy: str | None = None) -> Report:
    """Evaluate an imported case; the report lists the ignored input."""
    raise NotImplementedError
