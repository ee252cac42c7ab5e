"""Reports are byte-identical to the stored snapshot (see tests/report_snapshot.py)."""

from __future__ import annotations

import json

from report_snapshot import SNAPSHOT, current_reports, stored_reports


def test_every_report_is_byte_identical_to_the_snapshot() -> None:
    stored = stored_reports()
    seen: set[tuple[str, str]] = set()
    differences: list[str] = []
    for row in current_reports():
        key = (row["key"], row["policy"])
        seen.add(key)
        before = stored.get(key)
        if before is None:
            differences.append(f"{key}: not in the snapshot")
        elif before != row["sha256"]:
            report = json.loads(row["report"])
            summary = ", ".join(
                f"{c['procedure']}/{c['approach']}/{c['region']}: {c['status']}" for c in report["candidates"]
            )
            differences.append(f"{key}: the report changed; now {summary or 'no candidates'}")
    differences += [f"{key}: in the snapshot but no longer produced" for key in sorted(set(stored) - seen)]
    assert not differences, (
        f"{len(differences)} reports differ from {SNAPSHOT.name}; if the change of advice is intended, "
        "run `.venv/bin/python tests/report_snapshot.py --update` and review the diff:\n" + "\n\n".join(differences[:5])
    )
