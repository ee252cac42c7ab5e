"""The report states the steroid injections so far across all regions, which the repeat limits count region by region."""

from __future__ import annotations

from typing import Any

from vignette_format import SHARED_VIGNETTES, load_vignette

from decision.evaluator import evaluate
from decision.explain import to_text

BASE = load_vignette(SHARED_VIGNETTES / "esi-lumbar-radicular-indicated.yaml")["case"]


def _case(prior: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {**BASE, "prior_injections": prior}


def test_steroid_injections_in_every_region_within_twelve_months_are_counted_together() -> None:
    prior = [
        {"procedure": "epidural_steroid_injection", "region": "lumbar", "date": "2026-03-01", "steroid": True},
        {"procedure": "facet_joint_injection", "region": "cervical", "date": "2025-10-01", "steroid": True},
        {"procedure": "si_joint_injection", "region": "sacral", "date": "2025-09-30", "steroid": True},  # outside
        {"procedure": "medial_branch_block", "region": "lumbar", "date": "2026-05-01", "steroid": False},
        {"procedure": "si_joint_injection", "region": "sacral", "steroid": True},  # undated
    ]
    count = evaluate(_case(prior)).steroid_injections
    assert count is not None
    assert (count.window_months, count.counted, count.uncertain) == (12, 2, 1)
    assert "2 steroid injections in the last 12 months" in to_text(evaluate(_case(prior)))


def test_an_unasked_injection_history_gives_no_count_and_none_gives_zero() -> None:
    assert evaluate(_case(None)).steroid_injections is None
    count = evaluate(_case([])).steroid_injections
    assert count is not None and count.counted == 0 and count.uncertain == 0
