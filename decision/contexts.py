"""The contexts a case is weighed in: the whole case, then one per (diagnosis, procedure option).

Apart from decision.facts because building a candidate's context asks the truth evaluator
whether patient factors raise its bleeding-risk class, and the evaluator reads contexts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from decision.case import Case
from decision.facts import (
    UNKNOWN,
    Context,
    candidate_values,
    canonical_medications,
    case_values,
    lab_judgements,
    options_for,
    risk_values,
)
from decision.truth import Evaluator
from knowledge.loader import Knowledge


def build_contexts(case: Case, knowledge: Knowledge, params: Mapping[str, Any] | None = None) -> list[Context]:
    """The whole-case context first, then one per (diagnosis, option) pair, in a stable order.

    `params` are the active policy's answers: lab default ranges and the thresholds in the
    condition that raises a bleeding-risk class are read from them.
    """
    params = params or {}
    values, lists = case_values(case)
    values.update(lab_judgements(case, knowledge, params))
    lists["medications"] = canonical_medications(lists["medications"], knowledge)
    contexts = [Context(0, "case", values, lists, case.assessment_date)]
    raised_when = knowledge.bleeding_risk_raised_when
    for d_index, diagnosis in enumerate(case.diagnoses or ()):
        for option in options_for(diagnosis, knowledge):
            cand_values, key = candidate_values(option, diagnosis, params.get("antithrombotic_guideline"))
            context = Context(
                index=len(contexts),
                kind="cand",
                values={**values, **cand_values},
                lists=lists,
                assessment_date=case.assessment_date,
                option=option,
                diagnosis=diagnosis,
                diagnosis_index=d_index,
                key=key,
                levels=tuple(diagnosis.levels or ()) if option.target_region is None else (),
            )
            evaluator = Evaluator(context, params)
            raised = "F" if raised_when is None else evaluator.truth(raised_when)
            context.values.update(risk_values(cand_values["candidate.bleeding_risk"], raised))
            if cand_values["candidate.bleeding_risk"] is UNKNOWN and diagnosis.region is not None:
                context.risk_questions = ("diagnoses.levels",)  # the guideline classes this procedure by level
            elif raised == "U" and raised_when is not None:
                context.risk_questions = tuple(dict.fromkeys(evaluator.unknown_fields(raised_when)))
            contexts.append(context)
    return contexts
