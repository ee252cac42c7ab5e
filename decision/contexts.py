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
from decision.per_object import PerObject
from decision.truth import Evaluator, Truth, candidate_fields
from knowledge.conditions import ConditionNode
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
    reads = _raise_reads(knowledge)
    raised_by: dict[tuple[Any, ...], tuple[Truth, tuple[str, ...]]] = {}
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
            raised, asked = _raised(raised_when, context, params, reads, raised_by)
            context.values.update(risk_values(cand_values["candidate.bleeding_risk"], raised))
            if cand_values["candidate.bleeding_risk"] is UNKNOWN and diagnosis.region is not None:
                context.risk_questions = ("diagnoses.levels",)  # the guideline classes this procedure by level
            elif raised == "U":
                context.risk_questions = asked
            contexts.append(context)
    return contexts


_raise_reads: PerObject[Knowledge, tuple[str, ...] | None] = PerObject(
    lambda knowledge: (
        None if knowledge.bleeding_risk_raised_when is None else candidate_fields(knowledge.bleeding_risk_raised_when)
    )
)
"""The candidate and diagnosis fields the bleeding-risk raise reads, once per knowledge."""


def _raised(
    raised_when: ConditionNode | None,
    context: Context,
    params: Mapping[str, Any],
    reads: tuple[str, ...] | None,
    raised_by: dict[tuple[Any, ...], tuple[Truth, tuple[str, ...]]],
) -> tuple[Truth, tuple[str, ...]]:
    """Whether patient factors raise the candidate's bleeding-risk class (T/F/U), and the fields
    that would decide it when unknown. Every candidate context holds the case's own fields
    unchanged, so the answer follows from the candidate and diagnosis fields the condition reads
    (`reads`): it is worked out once per set of their values (once per diagnosis for the shipped
    condition), not once per procedure option. `reads` None (a count comparing with the
    candidate): worked out in each context."""
    if raised_when is None:
        return "F", ()
    key = None if reads is None else tuple(context.values.get(name, UNKNOWN) for name in reads)
    found = None if key is None else raised_by.get(key)
    if found is None:
        evaluator = Evaluator(context, params)
        truth = evaluator.truth(raised_when)
        asked = tuple(dict.fromkeys(evaluator.unknown_fields(raised_when))) if truth == "U" else ()
        found = (truth, asked)
        if key is not None:
            raised_by[key] = found
    return found
