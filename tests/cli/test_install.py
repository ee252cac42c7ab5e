"""A plain install runs what the README shows: the project built as a wheel and installed without extras,
non-editable, into a fresh virtual environment, then every command of the README run from a folder
outside the checkout (so nothing can come from the source tree: not `tests/vignettes`, not `examples/`
except the copies made here, not a SQLite file beside the source).

Slow on purpose (about two and a half minutes, most of it pip installing streamlit, pandas and pyarrow
into the new environment): it is the only test that sees the package as a user gets it, and the way
`pip install .` found `httpx` missing. It runs in `make test`, so CI runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_server import free_port, wait_until

from decision.cli.command import build_parser

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
pytestmark = pytest.mark.slow

COVERED = {
    "evaluate",
    "batch",
    "kb validate",
    "kb show",
    "kb release",
    "schema",
    "audit verify",
    "audit checkpoint",
    "serve",
    "ui",
}
"""The `spine-cds` subcommands this test runs from the installed package."""
NOT_RUN = {"bench": "minutes of benchmarking; the same engine as `evaluate`, which is run"}


def _copy_source(target: Path) -> Path:
    """The checkout without its environment, caches and tests: building never writes into the checkout."""
    ignored = shutil.ignore_patterns(".git", ".venv", "tests", "build", "*.egg-info", "*cache*", "*.sqlite*")
    shutil.copytree(ROOT, target, ignore=ignored)
    return target


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin folder of a fresh venv holding `spine-cds` from a wheel, without extras."""
    base = tmp_path_factory.mktemp("install")
    subprocess.run([sys.executable, "-m", "venv", str(base / "venv")], check=True, timeout=120)
    pip = [str(base / "venv" / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    source = _copy_source(base / "source")
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(base / "wheels"), str(source)], check=True, timeout=300)
    (wheel,) = (base / "wheels").glob("spine_cds-*.whl")
    subprocess.run([*pip, "install", str(wheel)], check=True, timeout=900)
    return base / "venv" / "bin"


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working folder away from the checkout, holding copies of the README's example files."""
    folder = tmp_path_factory.mktemp("elsewhere")
    for name in ("warfarin-inr-unknown.json", "fhir-bundle-warfarin.json"):
        shutil.copy(ROOT / "examples" / name, folder / name)
    shutil.copytree(ROOT / "examples" / "cds-hooks", folder / "cds-hooks")
    return folder


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """No SPINE_CDS_ setting and a data folder of the test's own: the installed defaults are used."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith(("SPINE_CDS_", "PYTHON"))}
    return {**clean, "XDG_DATA_HOME": str(tmp_path_factory.mktemp("data"))}


def _run(bin_dir: Path, args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(bin_dir / "spine-cds"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _started(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """A server in its own process group, so that stopping it stops what it started (streamlit under `ui`)."""
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def _stop(server: subprocess.Popen[str]) -> str:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        _, stderr = server.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        _, stderr = server.communicate()
    return stderr


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return bytes(answer.read())


@pytest.fixture
def serving(installed: Path, outside: Path, env: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    store = {**env, "SPINE_CDS_DATABASE_URL": f"sqlite:///{outside / 'hooks.sqlite'}"}
    server = _started(
        [str(installed / "spine-cds"), "serve", "--port", str(port), "--allow-unauthenticated"], outside, store
    )
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_until(lambda: bool(_get(f"{url}/health")), seconds=90, pause=0.5):
            pytest.fail(f"spine-cds serve did not answer within 90 s: {_stop(server)}")
        yield url, store
    finally:
        if server.poll() is None:
            _stop(server)


def test_every_spine_cds_command_in_the_readme_is_run_here() -> None:
    parser = build_parser()
    (subcommands,) = [action.choices for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    shown = {
        command if command.split()[0] in {"kb", "audit"} else command.split()[0]
        for command in re.findall(r"spine-cds ((?:kb|audit) \w+|\w+)", README)
        if command.split()[0] in subcommands
    }
    assert shown <= COVERED | set(NOT_RUN), f"README commands this test does not run: {shown - COVERED - set(NOT_RUN)}"


def test_the_installed_command_line_runs_the_readme_commands(
    installed: Path, outside: Path, env: dict[str, str]
) -> None:
    assert "{evaluate,batch,kb,schema,audit,bench,ui,serve}" in _run(installed, ["--help"], outside, env).stdout
    validated = _run(installed, ["kb", "validate"], outside, env)
    assert validated.returncode == 0 and "is valid" in validated.stdout
    assert "hold.warfarin.intermediate_high" in _run(installed, ["kb", "show"], outside, env).stdout
    shipped = subprocess.run(
        [str(installed / "python"), "-c", "import knowledge; print(knowledge.__path__[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    shutil.copytree(shipped, outside / "draft", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    released = _run(installed, ["kb", "release", "--root", "draft"], outside, env)
    assert released.returncode == 0 and "released" in released.stdout, released.stderr
    assert _run(installed, ["kb", "validate", "--root", "draft"], outside, env).returncode == 0

    report = _run(installed, ["evaluate", "warfarin-inr-unknown.json"], outside, env)
    assert report.returncode == 0 and report.stdout.startswith("spine-cds report for case example-warfarin")
    imported = _run(installed, ["evaluate", "--fhir", "fhir-bundle-warfarin.json"], outside, env)
    assert imported.returncode == 0 and "IGNORED INPUT" in imported.stdout
    assert json.loads(_run(installed, ["schema", "case"], outside, env).stdout)["title"] == "Case"

    case = json.loads((outside / "warfarin-inr-unknown.json").read_text(encoding="utf-8"))
    (outside / "cases.jsonl").write_text(json.dumps(case) + "\n" + json.dumps({**case, "case_id": "two"}) + "\n")
    batch = _run(installed, ["batch", "cases.jsonl", "--out", "reports.jsonl"], outside, env)
    assert batch.returncode == 0, batch.stderr
    assert [json.loads(line)["case_id"] for line in (outside / "reports.jsonl").read_text().splitlines()] == [
        "example-warfarin",
        "two",
    ]

    python_example = re.search(r"```python\n(.*?)```", README, re.S)
    assert python_example is not None
    ran = subprocess.run(
        [str(installed / "python"), "-c", python_example.group(1)], cwd=outside, env=env, capture_output=True, text=True
    )
    assert ran.returncode == 0 and '"candidates"' in ran.stdout, ran.stderr


def test_the_installed_service_answers_and_its_audit_trail_verifies(
    installed: Path, outside: Path, serving: tuple[str, dict[str, str]]
) -> None:
    url, store = serving
    services = json.loads(_get(f"{url}/cds-services"))["services"]
    assert {service["id"] for service in services} == {"spine-cds-order-select", "spine-cds-patient-view"}
    call = urllib.request.Request(
        f"{url}/cds-services/spine-cds-patient-view",
        data=(outside / "cds-hooks" / "patient-view.json").read_bytes(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(call, timeout=60) as answer:
        assert json.loads(answer.read())["cards"]
    verified = _run(installed, ["audit", "verify"], outside, store)
    assert verified.returncode == 0 and verified.stdout.startswith("audit trail intact: 2 entries"), verified.stdout
    checkpoint = _run(installed, ["audit", "checkpoint"], outside, store)
    assert checkpoint.returncode == 0, checkpoint.stderr
    verified = _run(installed, ["audit", "verify"], outside, store)
    assert verified.returncode == 0 and "intact" in verified.stdout, verified.stdout


def test_the_installed_app_starts_with_the_demo_cases_in_the_users_data_folder(
    installed: Path, outside: Path, env: dict[str, str]
) -> None:
    assert "--demo" in _run(installed, ["ui", "--help"], outside, env).stdout
    port = free_port()
    app_env = {**env, "STREAMLIT_SERVER_PORT": str(port), "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    app = _started([str(installed / "spine-cds"), "ui", "--demo"], outside, app_env)
    try:
        started = wait_until(lambda: _get(f"http://127.0.0.1:{port}/_stcore/health") == b"ok", seconds=120, pause=0.5)
    finally:
        log = _stop(app)
    assert started, log
    database = Path(env["XDG_DATA_HOME"]) / "spine-cds" / "spine-cds.sqlite"
    assert re.search(rf"demo cases: \d+ added, 0 already there, in {re.escape(str(database))}", log), log
    assert database.parent.stat().st_mode & 0o777 == 0o700
    seeded = _run(installed, ["audit", "verify"], outside, env)
    assert seeded.returncode == 0 and "audit trail intact" in seeded.stdout
    assert {path.name for path in outside.glob("*.sqlite")} <= {"hooks.sqlite"}  # nothing stored beside the work
