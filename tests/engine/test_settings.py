"""One Settings: every option read from its SPINE_CDS_ variable, defaults as documented, a bad value
refused in one readable line, and a command-line flag winning over the environment."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from decision.cli.command import main
from decision.settings import Settings, SettingsError, default_database, env_name, load_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No SPINE_CDS_ setting in the environment (conftest points the database at a temporary file), and
    a data folder of the test's own (the default database must not land in the developer's)."""
    for field in Settings.model_fields:
        monkeypatch.delenv(env_name(field), raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return monkeypatch


def test_without_the_environment_every_setting_has_its_documented_default(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = load_settings()
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'spine-cds' / 'spine-cds.sqlite'}"
    assert settings.debug is False
    assert settings.ui_url == "http://localhost:8501"
    assert (settings.service_host, settings.service_port, settings.service_policy) == ("127.0.0.1", 8080, None)


def test_each_setting_is_read_from_its_spine_cds_variable(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SPINE_CDS_DATABASE_URL", "postgresql+psycopg://mdt@db/spine")
    clean_env.setenv("SPINE_CDS_DEBUG", "1")
    clean_env.setenv("SPINE_CDS_UI_URL", "https://spine.example/app")
    clean_env.setenv("SPINE_CDS_SERVICE_HOST", "0.0.0.0")
    clean_env.setenv("SPINE_CDS_SERVICE_PORT", "9090")
    clean_env.setenv("SPINE_CDS_SERVICE_POLICY", "nice")
    assert load_settings() == Settings(
        database_url="postgresql+psycopg://mdt@db/spine",
        debug=True,
        ui_url="https://spine.example/app",
        service_host="0.0.0.0",
        service_port=9090,
        service_policy="nice",
    )


def test_an_empty_variable_counts_as_unset(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SPINE_CDS_DATABASE_URL", "")
    assert load_settings().database_url == f"sqlite:///{default_database()}"


def test_the_default_database_lives_in_the_users_data_folder_created_private(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "data" / "spine-cds"
    assert not folder.exists()
    assert default_database() == folder / "spine-cds.sqlite"
    assert folder.stat().st_mode & 0o777 == 0o700  # the store holds clinical cases: its owner's only
    assert ROOT not in default_database().parents  # never beside the source (site-packages once installed)


def test_without_xdg_data_home_the_data_folder_is_under_local_share(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.delenv("XDG_DATA_HOME")
    clean_env.setenv("HOME", str(tmp_path / "home"))
    assert default_database() == tmp_path / "home" / ".local" / "share" / "spine-cds" / "spine-cds.sqlite"


def test_a_bad_value_is_refused_naming_the_variable_without_quoting_it(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SPINE_CDS_SERVICE_PORT", "eighty")
    clean_env.setenv("SPINE_CDS_UI_URL", "spine.example")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert [problem.split(":")[0] for problem in refused.value.problems] == [
        "SPINE_CDS_UI_URL",
        "SPINE_CDS_SERVICE_PORT",
    ]
    assert "eighty" not in str(refused.value) and "spine.example" not in str(refused.value)


def test_serve_with_a_bad_variable_exits_2_with_one_readable_line_and_no_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "SPINE_CDS_SERVICE_PORT": "eighty", "SPINE_CDS_DATABASE_URL": f"sqlite:///{tmp_path}/s.db"}
    script = Path(sys.executable).parent / "spine-cds"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "decision.cli.command"]
    result = subprocess.run([*command, "serve"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "invalid settings:",
        "  - SPINE_CDS_SERVICE_PORT: Input should be a valid integer, unable to parse string as an integer",
    ]


def test_a_command_line_flag_wins_over_the_environment(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    served: dict[str, Any] = {}
    clean_env.setattr(uvicorn, "run", lambda app, **options: served.update(options))
    clean_env.setenv("SPINE_CDS_DATABASE_URL", f"sqlite:///{tmp_path / 'store.sqlite'}")
    clean_env.setenv("SPINE_CDS_SERVICE_PORT", "9090")
    clean_env.setenv("SPINE_CDS_UI_URL", "https://from-env.example")
    assert main(["serve", "--port", "9191"], out=io.StringIO()) == 0
    assert (served["host"], served["port"]) == ("127.0.0.1", 9191)
    assert "cards link to https://from-env.example" in capsys.readouterr().err
    assert load_settings(service_port=9191, ui_url=None).ui_url == "https://from-env.example"


def test_debug_shows_the_traceback_of_an_internal_error(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from decision.report import Report

    def broken(cls: type[Report]) -> dict[str, Any]:
        raise RuntimeError("boom")

    clean_env.setattr(Report, "model_json_schema", classmethod(broken))
    clean_env.setenv("SPINE_CDS_DEBUG", "true")
    assert main(["schema", "report"], out=io.StringIO()) == 1
    assert "Traceback" in capsys.readouterr().err
    clean_env.setenv("SPINE_CDS_DEBUG", "0")
    assert main(["schema", "report"], out=io.StringIO()) == 1
    assert "Traceback" not in capsys.readouterr().err
