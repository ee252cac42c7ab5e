"""The spine-cds engine: knowledge compiled into durable-rules, a case evaluated into a report."""

from decision.case import Case
from decision.evaluate import CaseEvaluator, InvalidCase, default_evaluator, evaluate
from decision.report import Report

__all__ = ["Case", "CaseEvaluator", "InvalidCase", "Report", "default_evaluator", "evaluate"]
