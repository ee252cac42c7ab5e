"""Validating raw resources with the FHIR R4B models: which are read, which are set aside, which are refused."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import TYPE_CHECKING, cast

from pydantic import ValidationError

from decision.fhir.elements import label
from decision.fhir.errors import FhirInputError, resource_problems
from decision.report import IgnoredInput

if TYPE_CHECKING:
    from fhir.resources.R4B.domainresource import DomainResource
    from fhir_core.fhirabstractmodel import FHIRAbstractModel

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
MAX_RESOURCES = 5000

Parsed = list[tuple[str, "DomainResource"]]
"""Each resource read, with the label that names it in ignored input and errors."""


@cache
def model_class(resource_type: str) -> type[FHIRAbstractModel]:
    """The R4B model of a resource type, imported on first use (the models are slow to load)."""
    from fhir.resources.R4B import get_fhir_model_class

    return get_fhir_model_class(resource_type)


def parse_resources(
    resources: Iterable[object], supported: tuple[str, ...] = SUPPORTED
) -> tuple[Parsed, list[IgnoredInput]]:
    """Validate each resource with the FHIR R4B models. Unsupported types are ignored input;
    invalid resources raise FhirInputError naming the entry and the element."""
    parsed: Parsed = []
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
        name = f"{kind}/{raw.get('id')}" if raw.get("id") else f"{kind}[{index}]"
        if not isinstance(kind, str) or not kind:
            problems.append(f"entry[{index}]: no resourceType")
            continue
        try:
            model = model_class(kind)
        except (KeyError, ValueError, AttributeError, ImportError):
            problems.append(f"entry[{index}]: '{kind}' is not a FHIR R4B resource type")
            continue
        try:
            resource = model.model_validate(dict(raw))
        except ValidationError as err:
            problems.extend(resource_problems(name, err))
            continue
        except (TypeError, ValueError) as err:
            problems.append(f"{name}: {err}")
            continue
        if kind not in supported:
            ignored.append(IgnoredInput(resource=name, reason=f"{kind} resources are not used by spine-cds"))
            continue
        read = cast("DomainResource", resource)  # every type spine-cds reads is a DomainResource
        parsed.append((label(read, index), read))
    if problems:
        raise FhirInputError(problems)
    return parsed, ignored
