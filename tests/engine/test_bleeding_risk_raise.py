"""Patient factors that raise a procedure's bleeding-risk class are weighed per diagnosis.

`build_contexts` works the raise out once per set of the candidate and diagnosis fields its
condition reads (the shipped condition reads a diagnosis's earlier surgery at the site), not once
per procedure option. These tests hold it to what each candidate context alone gives.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from decision.case import Case
from decision.contexts import build_contexts
from decision.facts import UNKNOWN, candidate_values, risk_values
from decision.truth import Evaluator
from knowledge.loader import load_knowledge

KNOWLEDGE = load_knowledge()
SURGERY = (True, False, None)


def _case(surgery: tuple[bool | None, ...], comorbidity: bool | None) -> Case:
    conditions = ("herniated_disc", "facet_arthropathy", "spinal_stenosis")
    diagnoses: list[dict[str, Any]] = []
    for number, at_site in enumerate(surgery):
        diagnosis: dict[str, Any] = {"condition": conditions[number % 3], "region": "lumbar", "levels": ["L4-L5"]}
        if at_site is not None:
            diagnosis["prior_surgery_at_site"] = at_site
        diagnoses.append(diagnosis)
    comorbidities = None
    if comorbidity is not None:
        comorbidities = {"bleeding_disorder": comorbidity, "renal_disease": False, "liver_disease": False}
    return Case.model_validate({"diagnoses": diagnoses, "comorbidities": comorbidities})


@pytest.mark.parametrize("surgery", [*itertools.product(SURGERY, repeat=2), (True, False, None)])
@pytest.mark.parametrize("comorbidity", [False, None, True])
def test_each_candidate_gets_the_raise_its_own_context_gives(
    surgery: tuple[bool | None, ...], comorbidity: bool | None
) -> None:
    raised_when = KNOWLEDGE.bleeding_risk_raised_when
    assert raised_when is not None
    contexts = build_contexts(_case(surgery, comorbidity), KNOWLEDGE, {})
    assert len(contexts) > len(surgery)
    for context in contexts[1:]:
        assert context.option is not None and context.diagnosis is not None
        alone = Evaluator(context, {})
        raised = alone.truth(raised_when)
        base = candidate_values(context.option, context.diagnosis)[0]["candidate.bleeding_risk"]
        expected = risk_values(base, raised)
        assert {name: context.values[name] for name in expected} == expected, context.key
        if base is not UNKNOWN and raised == "U":
            assert context.risk_questions == tuple(dict.fromkeys(alone.unknown_fields(raised_when)))


def test_an_earlier_operation_at_one_diagnosis_raises_only_its_candidates() -> None:
    """Comorbidities all absent: the class is raised for the operated diagnosis's candidates only."""
    contexts = build_contexts(_case((True, False), False), KNOWLEDGE, {})
    raised_high = {
        c.diagnosis_index: c.values["candidate.high_risk"]
        for c in contexts[1:]
        if c.option is not None and c.option.id == "esi_interlaminar"
    }
    assert raised_high == {0: True, 1: False}
