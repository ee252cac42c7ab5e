"""The demo cases: a curated set of vignettes shipped inside the package (`decision/demos/*.yaml`).

Installed, the package has neither `tests/vignettes` nor the shared golden ones, so the app's demo
picker, the trainee quiz and `spine-cds ui --demo` read these copies. Each file is a verbatim copy of
the vignette of the same name (the shared golden vignettes, plus a few of ours so that every diagnosis
and the safety features appear); `make demo-cases` refreshes them and `tests/cli/test_seeding.py` checks
that none has drifted from its original.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DEMO_FOLDER = Path(__file__).resolve().parent / "demos"


def demo_cases() -> dict[str, dict[str, Any]]:
    """Vignette id -> {title, teaches, case}, in file-name order."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(DEMO_FOLDER.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "case" in data:
            found[str(data.get("id", path.stem))] = {
                "title": data.get("title", path.stem),
                "teaches": data.get("teaches", ""),
                "case": data["case"],
            }
    return found
