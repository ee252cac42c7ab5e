"""The README's worked example is the real output of the command it shows."""

from __future__ import annotations

import io
import re
from pathlib import Path

from decision.cli.command import main

ROOT = Path(__file__).resolve().parents[2]


def _without_versions(text: str) -> str:
    return re.sub(r"^policy: .*$", "policy: ...", text, flags=re.MULTILINE)


def test_the_worked_example_in_the_readme_is_current() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- example-output", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    out = io.StringIO()
    assert main(["evaluate", str(ROOT / "examples" / "warfarin-inr-unknown.json")], out=out) == 0
    assert _without_versions(out.getvalue()) == _without_versions(block)


def test_the_worked_example_case_in_the_readme_is_the_example_file() -> None:
    import json

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- example-case", 1)[1].split("```json\n", 1)[1].split("```", 1)[0]
    assert json.loads(block) == json.loads((ROOT / "examples" / "warfarin-inr-unknown.json").read_text())


def test_the_ci_script_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make test" in readme and "make run" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
