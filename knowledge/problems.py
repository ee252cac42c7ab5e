"""One shape for every refusal: an error carrying `problems`, readable lines a user can act on.

Why here: knowledge/ is the lowest layer (decision/ and ui/ import it, never the reverse), and the
knowledge loader refuses input the same way the case, FHIR import, CDS Hooks and the store do. The
command line maps each subclass to an exit code in one table, the service to an HTTP status in
another; nothing else needs to know which is which.

`validation_problems` is the one formatter of pydantic errors. `echo_values` decides whether the
given value is quoted back ("got 'abc'"): useful to a clinician at a terminal, never in the
service, where a value may be patient data bound for a log or another system.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any, Self

from pydantic import ValidationError


class ProblemError(Exception):
    """Input refused; `problems` lists each defect as one line, `title` says what was refused.

    `problems` never quotes a given value, so it is safe to send anywhere (the service, a log).
    `echoed_problems` may quote them back ("got 'abc'"): for the person who typed them, at the
    terminal or in their own browser session, where seeing the value helps to fix it.
    """

    title = "invalid input"

    def __init__(self, problems: Sequence[str], *, echoed: Sequence[str] | None = None) -> None:
        self.problems = list(problems)
        self.echoed_problems = list(echoed) if echoed is not None else self.problems
        super().__init__(self.title + ":\n" + "\n".join(f"  - {p}" for p in self.problems))

    @classmethod
    def from_validation(cls, error: ValidationError, **options: Any) -> Self:
        """The error with both wordings of a pydantic error (see `validation_problems` for options)."""
        return cls(
            validation_problems(error, echo_values=False, **options),
            echoed=validation_problems(error, echo_values=True, **options),
        )


# Pydantic error types whose message already says all there is to say (ours, from validators).
SELF_EXPLAINING = frozenset(
    {
        "unknown_id",
        "unknown_subtype",
        "date_after_assessment",
        "exam_count",
        "date_format",
        "date_type",
        "region_mismatch",
        "level_mismatch",
        "sex_contradiction",
        "range_order",
        "date_range",
        "age_contradiction",
        "duplicate_entry",
        "number_range",
    }
)


def shown(value: Any) -> str:
    """A given value as the user wrote it (JSON words), never a Python repr."""
    if value is None or isinstance(value, (bool, int, float, str)):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= 80 else text[:77] + "..."
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    return "a " + type(value).__name__.replace("datetime", "date and time")


def _plain_location(loc: Sequence[Any]) -> str:
    return ".".join(str(p) for p in loc if p != "__root__" and not str(p).startswith(("function-", "tagged-union")))


def validation_problems(
    error: ValidationError,
    *,
    echo_values: bool,
    prefix: str = "",
    whole: str = "(input)",
    unknown_field: str = "unknown field",
    location: Callable[[Sequence[Any]], tuple[str, str]] | None = None,
    limit: int | None = None,
) -> list[str]:
    """Pydantic errors as "where: what was expected" lines.

    `prefix` is put before every location, `whole` names the input when the error has no location,
    `unknown_field` words an extra (forbidden) field ({name} is its name), `location` may rewrite a location into
    (prefix, path) (the knowledge names a rule by its id rather than by its index), `limit` caps
    the number of lines (an attacker's document can hold thousands of errors).
    """
    lines = []
    for err in error.errors(include_url=False)[:limit]:
        head, path = location(err["loc"]) if location else (prefix, _plain_location(err["loc"]))
        where = ".".join(p for p in (head, path) if p) if location is None else f"{head}: {path or whole}"
        message = re.sub(r" or instance of \w+", "", err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = unknown_field.format(name=str(err["loc"][-1]) if err["loc"] else "")
        elif err["type"] == "finite_number":
            message = "expected a finite number"
        elif echo_values and err["type"] not in SELF_EXPLAINING:
            message = f"{message} (got {shown(err.get('input'))})"
        lines.append(f"{where or whole}: {message}")
    return lines
