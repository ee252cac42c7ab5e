"""Batch cannot destroy its input, cannot report success when its output was cut, reads no line
without bound, refuses a bad policy once, and numbers every record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from vignette_format import SHARED_VIGNETTES, load_vignette

from decision.cli.command import main

GOOD = load_vignette(SHARED_VIGNETTES / "esi-lumbar-radicular-indicated.yaml")["case"]
SCRIPT = Path(sys.executable).parent / "spine-cds"


def _cases(tmp_path: Path, count: int = 3) -> Path:
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps({**GOOD, "case_id": f"c{i}"}) + "\n" for i in range(count)))
    return path


def test_a_hard_link_to_the_input_is_refused_and_the_input_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _cases(tmp_path)
    before = source.read_bytes()
    link = tmp_path / "reports.jsonl"
    os.link(source, link)
    assert main(["batch", str(source), "--out", str(link)]) == 2
    assert "is the input file" in capsys.readouterr().err
    assert source.read_bytes() == before


def test_a_symbolic_link_to_the_input_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _cases(tmp_path)
    link = tmp_path / "reports.jsonl"
    link.symlink_to(source)
    assert main(["batch", str(source), "--out", str(link)]) == 2
    assert json.loads(source.read_text().splitlines()[0])["case_id"] == "c0"


def test_the_output_appears_only_when_complete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import decision.cli.batch

    source = _cases(tmp_path, 5)
    target = tmp_path / "reports.jsonl"
    target.write_text("the previous run\n")

    def failing(*_args: object) -> object:
        yield decision.cli.batch.Block('{"line":1}\n', 1, 0)
        raise RuntimeError("the machine went away")

    monkeypatch.setattr(decision.cli.batch, "serial_blocks", failing)
    assert main(["batch", str(source), "--out", str(target)]) == 1
    assert target.read_text() == "the previous run\n", "an interrupted run must not replace the output"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")], "the partial file is removed"


def test_a_closed_pipe_is_not_success(tmp_path: Path) -> None:
    source = _cases(tmp_path, 40)
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "decision.cli.command"]
    shell = f"{' '.join(command)} batch {source} | head -c 10 >/dev/null; echo ${{PIPESTATUS[0]}}"
    result = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, check=False, timeout=120)
    assert result.stdout.strip() == "141", result.stderr
    assert "Traceback" not in result.stderr and "not every result was written" in result.stderr


def test_a_line_too_long_is_refused_unread_and_the_batch_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from decision.cli.batch import MAX_LINE_BYTES

    source = tmp_path / "cases.jsonl"
    huge = json.dumps({**GOOD, "case_id": "x" * (MAX_LINE_BYTES + 10)})
    source.write_text(json.dumps(GOOD) + "\n" + huge + "\n" + json.dumps({**GOOD, "case_id": "after"}) + "\n")
    target = tmp_path / "reports.jsonl"
    assert main(["batch", str(source), "--out", str(target)]) == 2
    records = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["line"] for r in records] == [1, 2, 3]
    assert "longer than" in records[1]["error"]["problems"][0]
    assert records[2]["case_id"] == "after"


def test_an_unknown_policy_fails_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _cases(tmp_path, 20)
    target = tmp_path / "reports.jsonl"
    assert main(["batch", str(source), "--policy", "clinc", "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("unknown policy") == 1 and "did you mean 'clinic'" in err
    assert not target.exists()


def test_ids_printed_in_error_records_carry_no_control_characters(tmp_path: Path) -> None:
    source = tmp_path / "cases.jsonl"
    source.write_text(json.dumps({**GOOD, "case_id": "a\u202eb\x1b[2Jc\u2028d", "age": "x"}) + "\n")
    target = tmp_path / "reports.jsonl"
    assert main(["batch", str(source), "--out", str(target)]) == 2
    assert json.loads(target.read_text())["case_id"] == "ab[2Jcd"
