"""Stored reports: every vignette and a fixed set of generated cases, under every policy.

Why: refactors and speed work must not change a single byte of what a clinician is told. The
snapshot is regenerated on purpose, never by a test run:

    .venv/bin/python tests/report_snapshot.py --update

and the diff of `tests/snapshots/reports.jsonl` is then read like any other change of advice.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vignette_format import load_vignette, vignette_files

SNAPSHOT = Path(__file__).resolve().parent / "snapshots" / "reports.jsonl"
"""One line per report: key, policy and the SHA-256 of its JSON (the reports themselves are 15 MB)."""
GENERATED = 150
POLICIES = ("clinic", "nice", "cms", "asipp")


def snapshot_inputs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(key, policy, case) for every stored report, in a fixed order."""
    from decision.cli.casegen import generate_cases
    from knowledge.loader import load_knowledge

    for path in vignette_files():
        vignette = load_vignette(path)
        origin = "shared" if "shared" in path.parts else "own"
        for policy in POLICIES:
            yield f"{origin}/{path.stem}", policy, vignette["case"]
    for number, case in enumerate(generate_cases(load_knowledge(), GENERATED, seed=20261203)):
        yield f"generated/{number}", POLICIES[number % len(POLICIES)], case


def current_reports() -> Iterator[dict[str, str]]:
    from decision import evaluate

    for key, policy, case in snapshot_inputs():
        report = evaluate(case, policy).model_dump_json()
        yield {"key": key, "policy": policy, "sha256": hashlib.sha256(report.encode()).hexdigest(), "report": report}


def stored_reports() -> dict[tuple[str, str], str]:
    stored: dict[tuple[str, str], str] = {}
    for line in SNAPSHOT.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        stored[(row["key"], row["policy"])] = row["sha256"]
    return stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="rewrite the stored snapshot")
    if not parser.parse_args().update:
        parser.error("pass --update to rewrite tests/snapshots/reports.jsonl")
    SNAPSHOT.parent.mkdir(exist_ok=True)
    with SNAPSHOT.open("w", encoding="utf-8") as out:
        for row in current_reports():
            row.pop("report")
            out.write(json.dumps(row, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
