"""Policies side by side on the clinician page: every profile's answer in words, and where one
differs, the rule and source that make the difference."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from ui.policy_compare import OPEN_KEY

ROOT = Path(__file__).resolve().parents[2]


def test_the_clinician_sees_every_profile_side_by_side_with_the_reason_they_differ() -> None:
    script = (
        f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nfrom ui.clinician import clinician_page\nclinician_page()\n"
    )
    at = AppTest.from_string(script, default_timeout=60).run()
    at.selectbox(key="demo_choice").set_value("esi-repeat-limit-3-in-12-months").run()
    assert not at.exception
    assert not any("Medicare LCDs (CMS)" in t.value.columns for t in at.table)  # closed: not worked out
    at.session_state[OPEN_KEY] = True  # the clinician opens the expander
    at.run()
    table = next(t.value for t in at.table if "Medicare LCDs (CMS)" in t.value.columns)
    assert {"Clinic (default)", "NICE NG59", "Medicare LCDs (CMS)"} <= set(table.columns)
    assert any(title.startswith("Clinic with ASIPP") for title in table.columns)
    assert "Epidural steroid injection, transforaminal, lumbar spine (L4-L5)" in table.index
    row = table.loc["Epidural steroid injection, transforaminal, lumbar spine (L4-L5)"]
    assert row["Clinic (default)"] == "Deferred" and row["Medicare LCDs (CMS)"].startswith("not covered")
    shown = "\n".join(m.value for m in at.markdown)
    assert "Medicare: a repeat epidural needs relief from the previous one" in shown  # the rule, in words
    assert "applies under Medicare LCDs (CMS) only" in shown
    assert "L39240" in shown  # its source, by title
