"""What the CDS Hooks services ask the EHR to send, and how what it sends becomes FHIR resources.

The templates are derived from the FHIR code maps (knowledge/fhir/codes.yaml): the Observation
query asks for exactly the codes the maps can read, plus spine-cds's own case-field Observations
and "none known" Lists, so the service asks for no more than it can use ("minimum necessary").

A prefetch value is a single resource, a searchset Bundle, null (the EHR has no data for it) or
an OperationOutcome (the EHR could not get it); a key may also be missing (not sent). Each of
these is told apart, because "not sent" and "nothing recorded" both leave the case unknown and the
clinician should know which it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from knowledge.codemaps import default_codemaps
from knowledge.problems import ProblemError

PATIENT_TOKEN = "{{context.patientId}}"


class PrefetchError(ProblemError):
    """Prefetch that cannot be used; `problems` name the prefetch key and the resource."""

    title = "invalid prefetch"


@cache
def prefetch_templates() -> dict[str, str]:
    """Prefetch key -> FHIR query, within the spec's recommended subset (reads, type searches,
    token equality). Observations and Lists are limited to the codes the code maps read."""
    codes = default_codemaps()
    observation_codes = sorted({f"{system}|{code}" for system, code in codes.observations})
    observation_codes.append(f"{codes.maps.local.case_field}|")
    patient = f"patient={PATIENT_TOKEN}"
    return {
        "patient": f"Patient/{PATIENT_TOKEN}",
        "conditions": f"Condition?{patient}",
        "medicationRequests": f"MedicationRequest?{patient}",
        "medicationStatements": f"MedicationStatement?{patient}",
        "medicationAdministrations": f"MedicationAdministration?{patient}",
        "observations": f"Observation?{patient}&code={','.join(observation_codes)}",
        "allergies": f"AllergyIntolerance?{patient}",
        "procedures": f"Procedure?{patient}",
        "imagingStudies": f"ImagingStudy?{patient}",
        "diagnosticReports": f"DiagnosticReport?{patient}",
        "noneKnownLists": f"List?{patient}&code={codes.maps.local.list}|",
    }


@dataclass
class Gathered:
    """The resources to map, and what the EHR did not provide (by prefetch key)."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    not_sent: list[str] = field(default_factory=list)
    no_data: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)
    unfetched: list[str] = field(default_factory=list)
    """Keys the service tried to fetch from the client's FHIR server and could not."""
    keys_of: list[str] = field(default_factory=list)
    """The prefetch key each resource came from (same order as `resources`)."""

    def notes(self) -> list[str]:
        """Plain statements for the card: what the assessment could not see."""
        out = []
        if self.not_sent:
            out.append(f"Not sent by the EHR (prefetch keys): {', '.join(self.not_sent)}.")
        if self.no_data:
            out.append(f"No data in the EHR (prefetch null): {', '.join(self.no_data)}.")
        if self.failed:
            out.append(f"The EHR could not retrieve (OperationOutcome): {', '.join(self.failed)}.")
        if self.unfetched:
            out.append(f"Could not be fetched from the EHR's FHIR server: {', '.join(self.unfetched)}.")
        if self.partial:
            out.append(f"Only the first page was sent (more results exist): {', '.join(self.partial)}.")
        return out


def _reference_patient(resource: Mapping[str, Any]) -> list[str]:
    refs = []
    for name in ("subject", "patient"):
        value = resource.get(name)
        if isinstance(value, Mapping) and isinstance(value.get("reference"), str):
            refs.append(value["reference"])
    return refs


def _is_patient(reference: str, patient_id: str) -> bool:
    """`Patient/123`, or an absolute URL ending in it; a reference to a Group or another patient is not."""
    return reference == f"Patient/{patient_id}" or reference.endswith(f"/Patient/{patient_id}")


def _label(resource: Mapping[str, Any], key: str, index: int) -> str:
    kind = resource.get("resourceType")
    rid = resource.get("id")
    name = f"{kind}/{rid}" if isinstance(rid, str) else f"{kind}[{index}]"
    return f"prefetch.{key}: {name}"


def about_another_patient(resource: Mapping[str, Any], patient_id: str) -> bool:
    """Whether a resource is, or refers to, a patient other than the one in context: mixing
    two people's records would merge their facts."""
    if resource.get("resourceType") == "Patient":
        return resource.get("id") not in (None, patient_id)
    return any(not _is_patient(reference, patient_id) for reference in _reference_patient(resource))


def _check_patient(resource: Mapping[str, Any], patient_id: str, key: str, index: int) -> str | None:
    if not about_another_patient(resource, patient_id):
        return None
    if resource.get("resourceType") == "Patient":
        return f"{_label(resource, key, index)}: is not the patient in context.patientId"
    return f"{_label(resource, key, index)}: refers to another patient than context.patientId"


def _bundle_resources(bundle: Mapping[str, Any], key: str, found: Gathered) -> list[Any]:
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise PrefetchError([f"prefetch.{key}: Bundle.entry: expected a list"])
    if any(isinstance(link, Mapping) and link.get("relation") == "next" for link in bundle.get("link") or []):
        found.partial.append(key)
    resources = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("resource"), Mapping):
            raise PrefetchError([f"prefetch.{key}: Bundle.entry[{index}]: expected an object with a resource"])
        search = entry.get("search")
        resource = entry["resource"]
        if resource.get("resourceType") == "OperationOutcome" or (
            isinstance(search, Mapping) and search.get("mode") == "outcome"
        ):
            if key not in found.failed:
                found.failed.append(key)
            continue
        resources.append(resource)
    return resources


def gather(prefetch: Mapping[str, Any] | None, patient_id: str, expected: Mapping[str, str]) -> Gathered:
    """Every resource of every prefetch key (a searchset Bundle contributes its entries), checked
    to be about the patient in context. Raises PrefetchError naming the key."""
    found = Gathered()
    given = dict(prefetch or {})
    found.not_sent = [key for key in expected if key not in given]
    problems: list[str] = []
    for key, value in given.items():
        if value is None:
            found.no_data.append(key)
            continue
        if not isinstance(value, Mapping) or not isinstance(value.get("resourceType"), str):
            problems.append(f"prefetch.{key}: expected a FHIR resource, a searchset Bundle or null")
            continue
        if value["resourceType"] == "OperationOutcome":
            found.failed.append(key)
            continue
        try:
            resources = _bundle_resources(value, key, found) if value["resourceType"] == "Bundle" else [value]
        except PrefetchError as exc:
            problems += exc.problems
            continue
        for index, resource in enumerate(resources):
            problem = _check_patient(resource, patient_id, key, index)
            if problem:
                problems.append(problem)
            found.resources.append(dict(resource))
            found.keys_of.append(key)
    if problems:
        raise PrefetchError(problems)
    return found
