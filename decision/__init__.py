"""The spine-cds engine: knowledge compiled into durable-rules, a case evaluated into a report.

The names below are loaded on first use, so that `from decision.case import Case` (a form, the
FHIR import, the store) does not load the durable-rules C extension and compile the knowledge.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from decision.case import Case
    from decision.evaluator import CaseEvaluator, InvalidCase, default_evaluator, evaluate
    from decision.report import Report

_HOMES = {
    "Case": "decision.case",
    "CaseEvaluator": "decision.evaluator",
    "InvalidCase": "decision.evaluator",
    "default_evaluator": "decision.evaluator",
    "evaluate": "decision.evaluator",
    "Report": "decision.report",
}

__all__ = ["Case", "CaseEvaluator", "InvalidCase", "Report", "default_evaluator", "evaluate"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'decision' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value
