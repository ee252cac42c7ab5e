"""Reading vignettes (golden and our own) and checking a report against their expectations.

The format is shared/vignettes/README.md: `case`, and `expect` with candidates (procedure,
optional approach and region, status or status_in, guidance_includes/excludes), missing
information prefixes, red_flags and no_guideline_applies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from decision.report import Report

ROOT = Path(__file__).resolve().parent.parent
SHARED_VIGNETTES = ROOT.parent / "shared" / "vignettes"
OWN_VIGNETTES = ROOT / "tests" / "vignettes"


def vignette_files() -> list[Path]:
    files = sorted(SHARED_VIGNETTES.glob("*.yaml")) if SHARED_VIGNETTES.exists() else []
    return files + sorted(OWN_VIGNETTES.glob("*.yaml"))


def load_vignette(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and "case" in data and "expect" in data, f"{path.name}: not a vignette"
    return data


def _matches(candidate: Any, expected: dict[str, Any]) -> bool:
    return all(
        getattr(candidate, key) == expected[key] for key in ("procedure", "approach", "region") if key in expected
    )


def check_report(report: Report, expect: dict[str, Any]) -> list[str]:
    """Every way the report falls short of the vignette's expectations, as readable lines."""
    failures: list[str] = []
    for expected in expect.get("candidates", []):
        allowed = expected.get("status_in") or [expected["status"]]
        matching = [c for c in report.candidates if _matches(c, expected)]
        label = "/".join(str(expected.get(k, "*")) for k in ("procedure", "approach", "region"))
        if not matching:
            if allowed != ["not_indicated"] and "not_indicated" not in allowed:
                failures.append(f"{label}: no such candidate in the report (expected {allowed})")
            continue
        for cand in matching:
            if cand.status not in allowed:
                why = "; ".join(f"{r.rule_id}: {r.text}" for r in cand.reasons)
                failures.append(f"{label}: status {cand.status}, expected {allowed} ({why})")
            for modality in expected.get("guidance_includes", []):
                if modality not in cand.guidance:
                    failures.append(f"{label}: guidance {cand.guidance} lacks {modality}")
            for modality in expected.get("guidance_excludes", []):
                if modality in cand.guidance:
                    failures.append(f"{label}: guidance {cand.guidance} includes {modality}")
    for prefix in expect.get("missing_information", []):
        fields = [m.field for m in report.missing_information]
        if not any(f == prefix or f.startswith(prefix + ".") or f.startswith(prefix + "[") for f in fields):
            failures.append(f"missing_information lacks {prefix!r} (has {fields})")
    # Keys of our own vignettes (not in the shared format): rules that must or must not fire, and
    # the guidance that must come first.
    for rule_id in expect.get("fired_rules_include", []):
        if rule_id not in report.fired_rules:
            failures.append(f"rule {rule_id} did not fire (fired: {report.fired_rules})")
    for rule_id in expect.get("fired_rules_exclude", []):
        if rule_id in report.fired_rules:
            failures.append(f"rule {rule_id} fired but must not")
    for procedure, modality in expect.get("guidance_first", {}).items():
        for cand in (c for c in report.candidates if c.procedure == procedure):
            if not cand.guidance or cand.guidance[0] != modality:
                failures.append(f"{procedure}: guidance {cand.guidance} does not start with {modality}")
    if "red_flags" in expect and bool(report.red_flags) != expect["red_flags"]:
        failures.append(f"red_flags is {bool(report.red_flags)}, expected {expect['red_flags']}")
    if "no_guideline_applies" in expect and report.no_guideline_applies != expect["no_guideline_applies"]:
        failures.append(
            f"no_guideline_applies is {report.no_guideline_applies}, expected {expect['no_guideline_applies']}"
        )
    return failures
