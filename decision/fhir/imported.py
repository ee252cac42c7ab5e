"""What an import returns (the case and the input it could not use) and how it is evaluated."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from decision.case import Case
from decision.report import IgnoredInput, Report


class ImportedCase(BaseModel):
    model_config = ConfigDict(frozen=True)
    case: Case
    ignored_input: list[IgnoredInput]


def evaluate_imported(imported: ImportedCase, policy: str | None = None) -> Report:
    """Evaluate an imported case; the report lists the ignored input."""
    from decision.evaluate import default_evaluator

    report = default_evaluator().evaluate(imported.case, policy=policy)
    return report.model_copy(update={"ignored_input": list(imported.ignored_input)})
