"""Which case fields FHIR import fills: the lists a record states, the single values an Observation may carry."""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel

from decision.case import Case

LIST_FIELDS = ("diagnoses", "imaging", "medications", "allergies", "prior_injections", "diagnostic_blocks")
INJECTION_LISTS = ("prior_injections", "diagnostic_blocks")
"""A Procedure may belong to either list until its codes say which."""


@cache
def case_scalar_paths() -> frozenset[str]:
    """Dotted case fields that hold one value (what a spine-cds Observation may carry)."""
    out = set()
    for name, info in Case.model_fields.items():
        if name in ("case_id", "policy", "assessment_date") or name in LIST_FIELDS:
            continue
        sub = _model_of(info.annotation)
        if sub is None:
            out.add(name)
        else:
            out.update(
                f"{name}.{child}"
                for child, child_info in sub.model_fields.items()
                if _model_of(child_info.annotation) is None and "dict" not in str(child_info.annotation)
            )
    return frozenset(out)


def _model_of(annotation: object) -> type[BaseModel] | None:
    for arg in getattr(annotation, "__args__", (annotation,)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None
