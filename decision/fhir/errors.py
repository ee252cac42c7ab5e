"""How FHIR input is refused: one error naming each entry and element that could not be read."""

from __future__ import annotations

from pydantic import ValidationError

from knowledge.problems import ProblemError


class FhirInputError(ProblemError):
    """The input is not FHIR R4B we can read; `problems` name each entry and element."""

    title = "invalid FHIR input"


def resource_problems(label: str, err: ValidationError) -> list[str]:
    """A resource's validation errors as "label: element: pydantic's message", at most ten.

    Not `knowledge.problems.validation_problems`: that one rewrites pydantic's messages ("Value
    error, " dropped, "unknown field" for an extra element) and skips validator locations, so the
    lines FHIR import has always given would change.
    """
    out = []
    for e in err.errors(include_url=False)[:10]:
        where = ".".join(str(p) for p in e["loc"] if p != "__root__")
        out.append(f"{label}: {where or '(resource)'}: {e['msg']}")
    return out
