"""FHIR R4B import: a Bundle or a set of resources becomes a case, with what was not used listed.

How the package is laid out: `parsing` validates resources with the R4B models; one module per
resource family (`patient`, `conditions`, `observations`, `medications`, `allergies`,
`procedures`, `imaging`, `lists`) reads what each says into a `reader.RecordReader`; `handlers`
is the table of which handler reads which resource type; `resolve` and `assemble` settle
conflicts and build the case; `record` and `bundle` are the entry points; `orders` reads a
ServiceRequest. The R4B models are imported on first use, not when this package is.
"""

from decision.fhir.bundle import case_from_bundle
from decision.fhir.errors import FhirInputError
from decision.fhir.imported import ImportedCase, evaluate_imported
from decision.fhir.orders import ProcedureSelection, procedure_from_order
from decision.fhir.record import case_from_resources

__all__ = [
    "FhirInputError",
    "ImportedCase",
    "ProcedureSelection",
    "case_from_bundle",
    "case_from_resources",
    "evaluate_imported",
    "procedure_from_order",
]
