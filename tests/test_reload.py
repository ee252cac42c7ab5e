"""A broken knowledge edit is refused while the last good knowledge keeps serving; a fix is picked up."""

from __future__ import annotations

import shutil
from pathlib import Path

from vignette_format import SHARED_VIGNETTES, load_vignette

from decision.reload import ReloadingEvaluator
from knowledge.loader import KNOWLEDGE_DIR
from knowledge.release import write_release

CASE = load_vignette(SHARED_VIGNETTES / "esi-apixaban-24h-deferred.yaml")["case"]
TF = ("epidural_steroid_injection", "transforaminal", "lumbar")


def _status_of(report: object) -> str:
    return next(c.status for c in report.candidates if (c.procedure, c.approach, c.region) == TF)  # type: ignore[attr-defined]


def test_a_broken_edit_keeps_the_last_good_knowledge_and_a_fix_is_picked_up(tmp_path: Path) -> None:
    root = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    service = ReloadingEvaluator(root, check_every_seconds=0)
    good_hash = service.status().content_hash
    assert _status_of(service.evaluate(CASE)) == "deferred"

    holds = root / "holds" / "asra_2018.yaml"
    original = holds.read_text()
    holds.write_text(original.replace("sources: [asra_2018#doacs]", "sources: [asra_2018#doac]", 1))
    status = service.status()
    assert status.content_hash == good_hash and status.error
    assert any("did you mean 'doacs'" in p for p in status.error)
    report = service.evaluate(CASE)
    assert report.knowledge_hash == good_hash and _status_of(report) == "deferred"

    apixaban = original.index("- medication: apixaban")
    row_end = original.index("- medication:", apixaban + 1)
    row = original[apixaban:row_end]
    assert "stop_hours: 120," in row
    holds.write_text(original[:apixaban] + row.replace("stop_hours: 120,", "stop_hours: 12,") + original[row_end:])
    status = service.status()
    assert status.content_hash == good_hash and status.error, "an edit is not served before it is released"
    assert any("file holds/asra_2018.yaml: changed since the release" in p for p in status.error)
    assert any("rule hold.apixaban.intermediate_high: changed since the release" in p for p in status.error)
    write_release(root)
    status = service.status()
    assert status.error is None and status.content_hash != good_hash
    report = service.evaluate(CASE)
    assert report.knowledge_hash == status.content_hash and _status_of(report) != "deferred"
