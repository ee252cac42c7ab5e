"""Demo cases ship inside the package and are seeded only on request, only into the embedded database.

Each shipped demo is a verbatim copy of a vignette (`make demo-cases` refreshes them), so it cannot
silently drift from the case it was copied from; a database named by SPINE_CDS_DATABASE_URL (a shared
MDT store) never receives them.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from decision import evaluate
from decision.case import Case
from decision.cli.command import main
from decision.demo_cases import DEMO_FOLDER, demo_cases
from decision.settings import Settings, default_database, default_database_url, env_name
from decision.store import CaseStore
from knowledge.loader import load_knowledge

ROOT = Path(__file__).resolve().parents[2]
VIGNETTE_FOLDERS = (ROOT.parent / "shared" / "vignettes", ROOT / "tests" / "vignettes")
SHIPPED = sorted(DEMO_FOLDER.glob("*.yaml"))
MOST_DEMOS = 50
"""Enough to show every diagnosis and safety feature, few enough not to drown an MDT list."""


@pytest.fixture(scope="module")
def reports() -> dict[str, Any]:
    return {demo_id: evaluate(demo["case"]) for demo_id, demo in demo_cases().items()}


@pytest.fixture
def user_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No SPINE_CDS_ setting, and a data folder of the test's own: the embedded database is the default."""
    for field in Settings.model_fields:
        monkeypatch.delenv(env_name(field), raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data" / "spine-cds"


@pytest.fixture
def streamlit_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """`spine-cds ui` without starting Streamlit: the command it would run is recorded instead."""
    calls: list[list[str]] = []
    monkeypatch.setattr(subprocess, "call", lambda command: calls.append(command) or 0)
    return calls


def test_a_modest_curated_set_of_demo_cases_ships_inside_the_package() -> None:
    assert 20 <= len(SHIPPED) <= MOST_DEMOS
    assert len(demo_cases()) == len(SHIPPED)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.stem)
def test_each_shipped_demo_is_a_valid_case_named_by_its_id(path: Path) -> None:
    vignette = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert vignette["id"] == path.stem
    assert vignette["title"] and vignette["teaches"]
    Case.model_validate(vignette["case"])


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.stem)
def test_each_shipped_demo_equals_the_vignette_it_was_copied_from(path: Path) -> None:
    sources = [folder / path.name for folder in VIGNETTE_FOLDERS if (folder / path.name).exists()]
    if not sources:
        if VIGNETTE_FOLDERS[0].is_dir():
            pytest.fail(f"{path.name} is a copy of no vignette: add the vignette, or remove the demo")
        pytest.skip("the shared golden vignettes are not beside this checkout")
    assert path.read_bytes() == sources[0].read_bytes(), f"{path.name} is stale: run `make demo-cases`"


def test_every_shared_golden_vignette_is_a_demo() -> None:
    if not VIGNETTE_FOLDERS[0].is_dir():
        pytest.skip("the shared golden vignettes are not beside this checkout")
    golden = {path.name for path in VIGNETTE_FOLDERS[0].glob("*.yaml")}
    assert golden <= {path.name for path in SHIPPED}


def test_the_demos_show_every_diagnosis_and_every_status_and_a_red_flag(reports: dict[str, Any]) -> None:
    conditions = {diagnosis["condition"] for demo in demo_cases().values() for diagnosis in demo["case"]["diagnoses"]}
    assert conditions == set(load_knowledge().vocabulary.conditions)
    statuses = {candidate.status for report in reports.values() for candidate in report.candidates}
    assert {"indicated", "indicated_with_caution", "needs_information", "deferred", "contraindicated"} <= statuses
    assert any(report.red_flags for report in reports.values())


def test_ui_demo_seeds_the_embedded_database_once_marked_as_demo(
    user_data: Path, streamlit_calls: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ui", "--demo"], out=io.StringIO()) == 0
    assert f"demo cases: {len(SHIPPED)} added, 0 already there" in capsys.readouterr().err
    stored = CaseStore(default_database_url()).list_cases()
    assert {case.id for case in stored} == set(demo_cases())
    assert {case.source for case in stored} == {"demo"}
    assert main(["ui", "--demo"], out=io.StringIO()) == 0
    assert f"demo cases: 0 added, {len(SHIPPED)} already there" in capsys.readouterr().err
    assert len(CaseStore(default_database_url()).list_cases()) == len(SHIPPED)
    assert len(streamlit_calls) == 2 and Path(streamlit_calls[0][4]).is_file()
    assert default_database().parent == user_data


def test_ui_without_demo_seeds_nothing(user_data: Path, streamlit_calls: list[list[str]]) -> None:
    assert main(["ui"], out=io.StringIO()) == 0
    assert len(streamlit_calls) == 1
    assert not (user_data / "spine-cds.sqlite").exists()


def test_a_database_given_by_url_is_never_seeded_and_the_refusal_says_why(
    user_data: Path,
    streamlit_calls: list[list[str]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shared_mdt = tmp_path / "mdt.sqlite"
    monkeypatch.setenv("SPINE_CDS_DATABASE_URL", f"sqlite:///{shared_mdt}")
    assert main(["ui", "--demo"], out=io.StringIO()) == 2
    refusal = capsys.readouterr().err
    assert "SPINE_CDS_DATABASE_URL names another, so nothing was seeded" in refusal
    assert str(shared_mdt) not in refusal  # a database URL may carry a password: never echoed
    assert not shared_mdt.exists() and not streamlit_calls


def test_the_app_itself_never_seeds_its_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    monkeypatch.setenv("SPINE_CDS_DATABASE_URL", url)
    script = f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nfrom ui.mdt import mdt_page\nmdt_page()\n"
    at = AppTest.from_string(script, default_timeout=60).run()
    assert not at.exception
    assert CaseStore(url).list_cases() == []
