"""What an import returns (the case and the input it could not use) and how it is evaluated."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from decision.case import Case
from decision.report import IgnoredInput, Report


class ImportedCase(BaseModel):
    model_config = ConfigDict(frozen=True)
    case: Case
    ignored_input: list[IgnoredInput]


def evaluate_imported(
    imported: ImportedCase, policy: str | None = None, evaluate: Callable[[Case, str | None], Report] | None = None
) -> Report:
    """Evaluate an imported case (with `evaluate`, default the shipped knowledge); the report
    lists the ignored input."""
    if evaluate is None:
        from decision.evaluator import default_evaluator

        evaluate = default_evaluator().evaluate
    report = evaluate(imported.case, policy)
    return report.model_copy(update={"ignored_input": list(imported.ignored_input)})
