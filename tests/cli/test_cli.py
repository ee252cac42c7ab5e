"""The `spine-cds` command: clear errors for bad input, exit codes, formats, batch that never aborts."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from vignette_format import SHARED_VIGNETTES, check_report, load_vignette

from decision.cli.command import main
from decision.report import Report

GOOD = load_vignette(SHARED_VIGNETTES / "esi-lumbar-radicular-indicated.yaml")["case"]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(argv, out=out)
    return code, out.getvalue(), capsys.readouterr().err


def write(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


def test_evaluate_json_gives_a_valid_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["evaluate", write(tmp_path, "c.json", json.dumps(GOOD)), "--format", "json"], capsys)
    assert code == 0
    report = Report.model_validate_json(out)
    assert not check_report(report, load_vignette(SHARED_VIGNETTES / "esi-lumbar-radicular-indicated.yaml")["expect"])


@pytest.mark.parametrize("path", sorted(SHARED_VIGNETTES.glob("*.yaml")), ids=lambda p: p.stem)
def test_evaluate_on_each_public_vignette_gives_the_expected_statuses(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["evaluate", str(path), "--format", "json"], capsys)
    assert code == 0 and "a vignette" in err
    assert not check_report(Report.model_validate_json(out), load_vignette(path)["expect"])


def test_text_and_markdown_reports_say_status_rule_and_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = write(tmp_path, "c.json", json.dumps(GOOD))
    code, text, _ = run(["evaluate", case], capsys)
    assert code == 0 and "[INDICATED] Epidural steroid injection, transforaminal" in text
    assert "rule esi.disc_radicular" in text and "nice_ng59#epidurals_sciatica" in text
    code, markdown, _ = run(["evaluate", case, "--format", "markdown"], capsys)
    assert code == 0 and markdown.startswith("# spine-cds report") and "| INDICATED |" in markdown


def test_policy_flag_switches_the_profile(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(SHARED_VIGNETTES / "stenosis-central-claudication-nice-policy.yaml")
    _, nice, _ = run(["evaluate", path, "--format", "json"], capsys)
    _, clinic, _ = run(["evaluate", path, "--format", "json", "--policy", "clinic"], capsys)
    assert json.loads(nice)["policy"] == "nice" and json.loads(clinic)["policy"] == "clinic"


BAD_INPUTS = {
    "missing file": (None, "no such file"),
    "empty file": ("", "empty"),
    "not json": ("{not json", "not valid JSON"),
    "not utf8": (b"\xff\xfe{}", "not UTF-8"),
    "a list, not a case": ("[1, 2]", "expected a JSON object"),
    "wrong type": (json.dumps({**GOOD, "age": "fifty"}), "age: Input should be a valid number"),
    "unknown field": (json.dumps({**GOOD, "weight": 80}), "weight: unknown field"),
    "unknown id": (
        json.dumps({**GOOD, "diagnoses": [{"condition": "herniated_disk"}]}),
        "diagnoses.0.condition: unknown condition 'herniated_disk' (did you mean 'herniated_disc'?)",
    ),
    "negative age": (json.dumps({**GOOD, "age": -1}), "age: Input should be greater than or equal to 0"),
    "relief over 100": (
        json.dumps({**GOOD, "diagnostic_blocks": [{"relief_percent": 150}]}),
        "diagnostic_blocks.0.relief_percent: Input should be less than or equal to 100",
    ),
    "future date": (
        json.dumps({**GOOD, "imaging": [{"modality": "mri", "date": "2027-01-01"}]}),
        "imaging[0].date (2027-01-01) is after assessment_date",
    ),
    "bad date": (
        json.dumps({**GOOD, "assessment_date": "01/10/2026"}),
        "assessment_date: expected a date as YYYY-MM-DD",
    ),
    "string for bool": (json.dumps({**GOOD, "pregnant": "no"}), "pregnant: Input should be a valid boolean"),
    "unknown policy": (
        json.dumps({**GOOD, "policy": "nicer"}),
        "unknown policy 'nicer' (did you mean 'nice'?)",
    ),
    "deep nesting": ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_exits_2_with_a_message_naming_the_problem(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content, expected = BAD_INPUTS[name]
    path = str(tmp_path / "absent.json") if content is None else write(tmp_path, "case.json", content)
    code, out, err = run(["evaluate", path], capsys)
    assert code == 2, err
    assert expected in err, err
    assert "Traceback" not in err and out == ""


def test_batch_writes_one_line_per_case_and_an_error_record_for_a_bad_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        json.dumps(GOOD),
        "{broken",
        json.dumps({**GOOD, "case_id": "bad-age", "age": "x"}),
        "",
        json.dumps({**GOOD, "case_id": "second"}),
    ]
    source = write(tmp_path, "cases.jsonl", "\n".join(lines) + "\n")
    target = tmp_path / "reports.jsonl"
    code, _, err = run(["batch", source, "--out", str(target)], capsys)
    records = [json.loads(line) for line in target.read_text().splitlines()]
    assert code == 2 and "4 cases: 2 evaluated, 2 invalid" in err
    assert [r.get("case_id") for r in records] == [
        "esi-lumbar-radicular-indicated",
        None,
        "bad-age",
        "second",
    ]
    assert records[1]["line"] == 2 and "not valid JSON" in records[1]["error"]["problems"][0]
    assert records[2]["error"]["problems"][0].startswith("age:")
    assert [r["line"] for r in records] == [1, 2, 3, 5]
    Report.model_validate({key: value for key, value in records[3].items() if key != "line"})


def test_batch_of_good_cases_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write(tmp_path, "cases.jsonl", "\n".join(json.dumps({**GOOD, "case_id": str(i)}) for i in range(5)))
    code, out, err = run(["batch", source, "--progress"], capsys)
    assert code == 0 and len(out.splitlines()) == 5 and "5 cases: 5 evaluated, 0 invalid" in err


def test_kb_validate_passes_and_reports_the_counts(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["kb", "validate"], capsys)
    assert code == 0 and "is valid" in out and "rules" in out


def test_kb_validate_on_broken_knowledge_exits_3_naming_file_rule_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from knowledge.loader import KNOWLEDGE_DIR

    root = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    fixture = Path(__file__).parents[1] / "fixtures" / "broken_knowledge" / "rule-unknown-field.yaml"
    shutil.copy(fixture, root / "rules" / fixture.name)
    code, _, err = run(["kb", "validate", "--root", str(root)], capsys)
    assert code == 3
    assert "rules/rule-unknown-field.yaml: rule broken.unknown_field" in err and "symptoms.duraton_weeks" in err


def test_kb_show_lists_rules_and_shows_one_with_sources(capsys: pytest.CaptureFixture[str]) -> None:
    code, listing, _ = run(["kb", "show"], capsys)
    assert code == 0 and "hold.apixaban" in listing
    code, shown, _ = run(["kb", "show", "hold.apixaban.intermediate_high"], capsys)
    assert code == 0 and "asra_2018#doacs" in shown and "when/then as written" in shown
    code, _, err = run(["kb", "show", "hold.apixaban.intermediate_hig"], capsys)
    assert code == 2 and "did you mean 'hold.apixaban.intermediate_high'" in err


def test_schema_prints_json_schema_for_case_and_report(capsys: pytest.CaptureFixture[str]) -> None:
    for which, field in (("case", "medications"), ("report", "candidates")):
        code, out, _ = run(["schema", which], capsys)
        assert code == 0 and field in json.loads(out)["properties"]


def test_the_installed_command_never_prints_a_traceback(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("spine-cds")
    bad = write(tmp_path, "bad.json", "{")
    result = subprocess.run([str(exe), "evaluate", bad], capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "not valid JSON" in result.stderr


MORE_BAD_INPUTS = {
    "male and pregnant": ({**GOOD, "pregnant": True}, "pregnant is true but sex is male"),
    "level outside its region": (
        {**GOOD, "diagnoses": [{"condition": "herniated_disc", "region": "lumbar", "levels": ["C5-C6"]}]},
        "diagnoses.0: level 'C5-C6' is not in region 'lumbar'",
    ),
    "condition in a region it cannot be": (
        {**GOOD, "diagnoses": [{"condition": "crps", "region": "lumbar"}]},
        "region 'lumbar' does not fit condition 'crps'",
    ),
    "null list item": ({**GOOD, "imaging": [None]}, "imaging.0: Input should be a valid dictionary (got null)"),
}


@pytest.mark.parametrize("name", sorted(MORE_BAD_INPUTS))
def test_contradictions_in_a_case_are_rejected_naming_the_field(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case, expected = MORE_BAD_INPUTS[name]
    code, _, err = run(["evaluate", write(tmp_path, "case.json", json.dumps(case))], capsys)
    assert code == 2 and expected in err, err
    assert "instance of" not in err and "NoneType" not in err


def test_nan_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["evaluate", write(tmp_path, "c.json", '{"age": NaN}')], capsys)
    assert code == 2 and "age: expected a finite number" in err


def test_deeply_nested_yaml_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["evaluate", write(tmp_path, "c.yaml", "[" * 5000 + "]" * 5000)], capsys)
    assert code == 2 and "Traceback" not in err


def test_json_with_a_byte_order_mark_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(["evaluate", write(tmp_path, "c.json", b"\xef\xbb\xbf" + json.dumps(GOOD).encode())], capsys)
    assert code == 0


def test_a_case_id_cannot_add_lines_to_the_text_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = {**GOOD, "case_id": "x\n\nRED FLAGS (urgent"}
    code, out, _ = run(["evaluate", write(tmp_path, "c.json", json.dumps(case))], capsys)
    assert code == 0 and out.splitlines()[0] == "spine-cds report for case x RED FLAGS (urgent"
    assert "\nRED FLAGS" not in out


def test_batch_refuses_to_overwrite_its_own_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write(tmp_path, "cases.jsonl", json.dumps(GOOD) + "\n")
    code, _, err = run(["batch", source, "--out", source], capsys)
    assert code == 2 and "is the input file" in err
    assert json.loads(Path(source).read_text()) == GOOD


@pytest.mark.parametrize("target", ["missing-folder/out.jsonl", "."])
def test_batch_with_an_unwritable_output_is_an_input_error(
    target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write(tmp_path, "cases.jsonl", json.dumps(GOOD) + "\n")
    code, _, err = run(["batch", source, "--out", str(tmp_path / target)], capsys)
    assert code == 2 and "--out" in err and "Traceback" not in err


def test_kb_validate_on_a_missing_folder_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["kb", "validate", "--root", "/no/such/knowledge"], capsys)
    assert code == 2 and "no such folder" in err


def test_kb_show_fills_in_the_figures_of_the_policy(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["kb", "show", "repeat.steroid_injections"], capsys)
    assert code == 0 and "{" not in out.split("when/then")[0] and "steroid_injections_max = 3" in out
    code, out, _ = run(["kb", "show", "facet.rfa_positive_blocks", "--policy", "nice"], capsys)
    assert code == 0 and "mbb_positive_blocks_required = 1" in out


def test_batch_dask_without_the_scale_extra_says_how_to_install_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import decision.cli.batch

    def without_dask(*_args: object) -> tuple[int, int]:
        raise ModuleNotFoundError("No module named 'dask'", name="dask")

    monkeypatch.setattr(decision.cli.batch, "run_dask", without_dask)
    source = write(tmp_path, "cases.jsonl", json.dumps(GOOD) + "\n")
    code, _, err = run(["batch", source, "--dask", "local", "--out", str(tmp_path / "parts")], capsys)
    assert code == 2 and "pip install 'spine-cds[scale]'" in err and "Traceback" not in err


def test_audit_verify_before_anything_was_stored_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPINE_CDS_DATABASE_URL", f"sqlite:///{tmp_path}/never.sqlite")
    code, _, err = run(["audit", "verify"], capsys)
    assert code == 2 and "nothing has been stored" in err and "--database" not in err
