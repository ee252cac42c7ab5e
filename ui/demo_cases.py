"""Demo cases for the app: the project's own vignettes, plus the shared golden ones when present."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = (ROOT.parent / "shared" / "vignettes", ROOT / "tests" / "vignettes")


def demo_cases() -> dict[str, dict[str, Any]]:
    """Vignette id -> {title, teaches, case}, in a stable order."""
    found: dict[str, dict[str, Any]] = {}
    for folder in FOLDERS:
        for path in sorted(folder.glob("*.yaml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and "case" in data:
                found[str(data.get("id", path.stem))] = {
                    "title": data.get("title", path.stem),
                    "teaches": data.get("teaches", ""),
                    "case": data["case"],
                }
    return found
