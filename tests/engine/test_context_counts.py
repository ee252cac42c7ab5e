"""A count that compares entries with the candidate is worked out once per case for each set of
values of the fields it compares with, and must come out in every context exactly as counting
afresh there does: whatever context asked first, and whichever candidates share those values. So
must each context's engine fact, whose count part contexts with the same values share."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import LEVELS, cases, diagnoses

from decision.case import Case
from decision.case_facts import engine_fact, engine_facts
from decision.contexts import build_contexts
from decision.evaluator import default_evaluator
from decision.truth import Evaluator, SharedMemo


def _check(case_data: dict[str, Any], reverse: bool) -> int:
    """Shared counts against fresh ones in every context, every policy; how many were asked."""
    evaluator = default_evaluator()
    asked = 0
    case = Case.model_validate(case_data)
    for compiled in evaluator.policies.values():
        params = compiled.param_values()
        contexts = build_contexts(case, evaluator.knowledge, params)
        shared, memo = SharedMemo(compiled.case_nodes, compiled.count_targets), {}
        evaluators = [
            Evaluator(c, params, memo, compiled.count_kinds, compiled.count_tests, shared, compiled.count_lookups)
            for c in contexts
        ]
        # each context's engine fact, its count parts shared between contexts (decision.case_facts),
        # is the fact worked out for that context alone
        whole = engine_facts(contexts, compiled, evaluators).whole()
        for context, fact in zip(contexts, whole, strict=True):
            assert fact == engine_fact(context, compiled, Evaluator(context, params)), context.key
        order = list(zip(contexts, evaluators, strict=True))
        for context, fast in reversed(order) if reverse else order:
            plain = Evaluator(context, params)
            for node, *_ in compiled.context_counts:
                assert fast.count_range(node) == plain.count_range(node), (context.key, node)
                asked += 1
    return asked


PROCEDURES = ["epidural_steroid_injection", "facet_joint_injection", "medial_branch_block", "radiofrequency_ablation"]
REGIONS = ["cervical", "thoracic", "lumbar"]
INJECTION = st.fixed_dictionaries(
    {},
    optional={
        "procedure": st.sampled_from(PROCEDURES),
        "region": st.sampled_from(REGIONS),
        "date": st.sampled_from(["2026-09-01", "2025-01-10"]),
        "steroid": st.booleans(),
        "relief_percent": st.sampled_from([0, 50, 80]),
    },
)
BLOCK = st.fixed_dictionaries(
    {},
    optional={
        "procedure": st.sampled_from(PROCEDURES),
        "region": st.sampled_from(REGIONS),
        "levels": st.lists(st.sampled_from(LEVELS), max_size=2, unique=True),
        "relief_percent": st.sampled_from([0, 50, 80]),
    },
)


def _entries(entry: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[list[dict[str, Any]] | None]:
    return st.one_of(st.none(), st.lists(entry, max_size=4, unique_by=lambda e: repr(sorted(e.items()))))


@settings(max_examples=80)
@given(
    cases(),
    st.lists(diagnoses(), min_size=2, max_size=3, unique_by=lambda d: repr(sorted(d.items()))),
    _entries(INJECTION),
    _entries(BLOCK),
    st.booleans(),
)
def test_shared_context_counts_equal_counting_in_each_context(
    case: dict[str, Any],
    several: list[dict[str, Any]],
    injections: list[dict[str, Any]] | None,
    blocks: list[dict[str, Any]] | None,
    reverse: bool,
) -> None:
    _check({**case, "diagnoses": several, "prior_injections": injections, "diagnostic_blocks": blocks}, reverse)


def test_a_case_with_several_candidates_and_earlier_injections_asks_shared_counts() -> None:
    case = {
        "assessment_date": "2026-11-01",
        "diagnoses": [
            {"condition": "herniated_disc", "region": "lumbar", "side": "left", "levels": ["L4-L5"]},
            {"condition": "facet_arthropathy", "region": "lumbar", "levels": ["L4-L5", "L5-S1"]},
            {"condition": "spinal_stenosis", "region": "cervical", "levels": ["C5-C6"]},
        ],
        "diagnostic_blocks": [{"procedure": "medial_branch_block", "region": "lumbar", "relief_percent": 80}],
        "prior_injections": [
            {"procedure": "epidural_steroid_injection", "region": "lumbar", "date": "2026-08-01", "steroid": True},
            {"procedure": "facet_joint_injection", "region": "lumbar", "date": "2026-06-01"},
            {"region": "cervical"},
        ],
    }
    assert _check(case, reverse=False) > 20
    assert _check(case, reverse=True) > 20
