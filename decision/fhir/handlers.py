"""Which handler reads which resource type, and in what order.

Every resource is read in two passes: the first reads what stands alone; the second reads what
refers to it (a DiagnosticReport joins its ImagingStudy; a List's "none known" meets the entries
the first pass found). A resource carrying a modifier extension is never read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar, cast

from decision.fhir.allergies import read_allergy
from decision.fhir.case_fields import INJECTION_LISTS
from decision.fhir.conditions import read_condition
from decision.fhir.errors import FhirInputError
from decision.fhir.imaging import read_diagnostic_report, read_imaging_study
from decision.fhir.lists import read_list
from decision.fhir.medications import index_medications, read_administration, read_request, read_statement
from decision.fhir.observations import read_observation
from decision.fhir.parsing import Parsed
from decision.fhir.patient import read_patient
from decision.fhir.procedures import read_procedure
from decision.fhir.reader import RecordReader

if TYPE_CHECKING:
    from fhir.resources.R4B.domainresource import DomainResource

Handler = Callable[[RecordReader, str, "DomainResource"], None]
R = TypeVar("R", bound="DomainResource")


def _for_type(read: Callable[[RecordReader, str, R], None]) -> Handler:
    """A typed handler in the table: the table is keyed by resource type, so it only ever gets its own."""
    return cast("Handler", read)


FIRST_PASS: dict[str, Handler] = {
    "Patient": _for_type(read_patient),
    "Condition": _for_type(read_condition),
    "Observation": _for_type(read_observation),
    "MedicationStatement": _for_type(read_statement),
    "MedicationRequest": _for_type(read_request),
    "MedicationAdministration": _for_type(read_administration),
    "AllergyIntolerance": _for_type(read_allergy),
    "Procedure": _for_type(read_procedure),
    "ImagingStudy": _for_type(read_imaging_study),
}
SECOND_PASS: dict[str, Handler] = {
    "DiagnosticReport": _for_type(read_diagnostic_report),
    "List": _for_type(read_list),
}
MODIFIED_LISTS = {
    "MedicationStatement": ("medications",),
    "MedicationRequest": ("medications",),
    "MedicationAdministration": ("medications",),
    "Medication": ("medications",),
    "AllergyIntolerance": ("allergies",),
    "Procedure": INJECTION_LISTS,
    "ImagingStudy": ("imaging",),
    "DiagnosticReport": ("imaging",),
    "Condition": ("diagnoses",),
}
"""The case lists a resource of each type belongs to: one that cannot be read leaves them unknown."""


def read_resources(parsed: Parsed, reader: RecordReader) -> None:
    patients = [label for label, res in parsed if res.get_resource_type() == "Patient"]
    if len(patients) > 1:
        raise FhirInputError([f"more than one Patient ({', '.join(patients)}): send one patient's record"])
    index_medications(parsed, reader)
    for label, res in parsed:
        kind = res.get_resource_type()
        if res.modifierExtension:
            reader.ignore(
                label,
                "carries a modifier extension, which may change its meaning: not used",
                "modifierExtension",
                MODIFIED_LISTS.get(kind, ()),
            )
        elif kind in FIRST_PASS:
            FIRST_PASS[kind](reader, label, res)
    for label, res in parsed:
        kind = res.get_resource_type()
        if not res.modifierExtension and kind in SECOND_PASS:
            SECOND_PASS[kind](reader, label, res)
