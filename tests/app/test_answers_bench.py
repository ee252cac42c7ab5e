"""The app benchmark (`make bench-app`) runs and reports every interaction; its figures are not asserted."""

from __future__ import annotations

import json
from pathlib import Path

from ui.app_bench import main


def test_the_app_benchmark_times_every_interaction_and_the_plain_calls(tmp_path: Path) -> None:
    out = tmp_path / "bench-app.json"
    assert main(["--rounds", "1", "--calls-rounds", "1", "--out", str(out)]) == 0
    figures = json.loads(out.read_text(encoding="utf-8"))
    for interaction in (
        "assess: choose a demo case",
        "answer: a missing question",
        "answer: re-assess with the answers",
        "what-if: last dose 130 h ago",
        "what-if: keep the answer",
        "assess: the case form",
        "save to the MDT list",
        "call: assess",
        "call: what-if (add a medication)",
        "call: save",
    ):
        assert figures[interaction]["n"] >= 1 and figures[interaction]["median_ms"] > 0, interaction
