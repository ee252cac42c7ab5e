"""A count whose filter names one value of an entry's field tests only the entries that could match.

The hold rules' counts over the medication list each name one drug; the list is indexed by name
once per case. Every count must come out as it does testing every entry: an entry whose name is
unknown or unplaced still counts as "may match".
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import MEDICATION_NAMES, cases

from decision.case import Case
from decision.contexts import build_contexts
from decision.evaluator import default_evaluator
from decision.truth import Evaluator, SharedMemo

NAMES = [*MEDICATION_NAMES, "warfrin", "xarelto 20mg", "aspirin and clopidogrel", "an unlisted drug"]


def _check(case_data: dict[str, Any]) -> int:
    """Counts looked up against counts testing every entry, for every policy; how many were looked up."""
    evaluator = default_evaluator()
    looked_up = 0
    for compiled in evaluator.policies.values():
        params = compiled.param_values()
        case = Case.model_validate(case_data)
        whole = build_contexts(case, evaluator.knowledge, params)[0]
        fast = Evaluator(
            whole,
            params,
            {},
            compiled.count_kinds,
            compiled.count_tests,
            SharedMemo(compiled.case_nodes),
            compiled.count_lookups,
        )
        plain = Evaluator(whole, params)
        for list_name, nodes, _ in compiled.case_count_groups:
            for node, found in zip(nodes, fast.case_count_ranges(list_name, nodes), strict=True):
                assert found == plain.count_range(node) == fast.count_range(node), (node, found)
                looked_up += id(node) in compiled.count_lookups and bool(whole.lists.get(node.list))
    return looked_up


@settings(max_examples=60)
@given(
    cases(),
    st.lists(
        st.fixed_dictionaries(
            {"name": st.sampled_from(NAMES)},
            optional={
                "last_dose_hours_ago": st.integers(0, 400),
                "drug_class": st.sampled_from(["direct_oral_anticoagulant", "nsaid"]),
            },
        ),
        max_size=8,
        unique_by=lambda entry: repr(sorted(entry.items())),
    ),
)
def test_looked_up_counts_equal_counting_every_entry(case: dict[str, Any], medications: list[dict[str, Any]]) -> None:
    _check({**case, "medications": medications})


def test_a_long_medication_list_is_counted_by_lookup() -> None:
    medications = [{"name": name} for name in ("apixaban", "aspirin", "warfrin", "metformin", "clopidogrel")]
    assert _check({"medications": medications, "assessment_date": "2026-11-01"}) > 50
