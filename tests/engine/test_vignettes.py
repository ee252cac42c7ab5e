"""Every golden vignette and every vignette of our own is a test case (data-driven)."""

from __future__ import annotations

from pathlib import Path

import pytest
from vignette_format import check_report, load_vignette, vignette_files

from decision import evaluate


@pytest.mark.parametrize("path", vignette_files(), ids=lambda p: p.stem)
def test_vignette_report_meets_its_expectations(path: Path) -> None:
    vignette = load_vignette(path)
    report = evaluate(vignette["case"])
    failures = check_report(report, vignette["expect"])
    assert not failures, "\n".join(failures)


def test_the_shared_golden_vignettes_are_present() -> None:
    shared = [p for p in vignette_files() if "shared" in p.parts]
    assert len(shared) >= 24
