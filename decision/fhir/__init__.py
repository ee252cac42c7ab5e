"""FHIR R4B import: a Bundle or a set of resources becomes a case, with what was not used listed."""
