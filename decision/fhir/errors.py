"""How FHIR input is refused: one error naming each entry and element that could not be read."""

from __future__ import annotations

from pydantic import ValidationError

from knowledge.problems import ProblemError, validation_problems


class FhirInputError(ProblemError):
    """The input is not FHIR R4B we can read; `problems` name each entry and element."""

    title = "invalid FHIR input"


def resource_problems(label: str, err: ValidationError) -> list[str]:
    """A resource's validation errors as "label: element: what is wrong", at most ten (a mangled
    bundle can hold thousands), never quoting the value given (it is patient data)."""
    return validation_problems(
        err,
        echo_values=False,
        whole="(resource)",
        unknown_field="Extra inputs are not permitted",
        location=lambda loc: (label, ".".join(str(p) for p in loc if p != "__root__")),
        limit=10,
    )
