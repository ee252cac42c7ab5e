"""The app is closed by default: it listens on loopback only, and a failing store shows a line the
user can act on, never the SQL it ran nor the case JSON it carried."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_server import free_port, wait_until
from sqlalchemy.exc import SQLAlchemyError
from streamlit.testing.v1 import AppTest

import decision.store.writes
from decision import evaluate
from decision.demo_cases import demo_cases
from decision.store import CaseStore

ROOT = Path(__file__).resolve().parents[2]
TITLE = "Title-Only-In-The-Case-Json-7731"


def _listening_addresses(port: int) -> set[str]:
    """The local addresses with a socket listening on `port`, from the kernel's own table."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_the_projects_streamlit_config_binds_loopback_and_hides_error_details() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["client"]["showErrorDetails"] in (False, "none")
    assert config["server"]["enableXsrfProtection"] is True


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's table of listening sockets")
def test_plain_streamlit_run_listens_on_loopback_only(tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "ui/app.py", "--server.port", str(port)],  # no address given
        cwd=ROOT,
        env={**os.environ, "SPINE_CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'store.sqlite'}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until(lambda: bool(_listening_addresses(port)), seconds=60, pause=0.5)
        assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only: not 0.0.0.0, not ::
    finally:
        server.terminate()
        server.wait(timeout=20)


def _clinician_page() -> AppTest:
    script = (
        f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nfrom ui.clinician import clinician_page\nclinician_page()\n"
    )
    return AppTest.from_string(script, default_timeout=60)


def _shown(at: AppTest) -> str:
    """Every message on the page (the case's own JSON viewer aside) and any exception."""
    elements = [*at.markdown, *at.error, *at.warning, *at.info, *at.success, *at.exception]
    return "\n".join(str(element.value) for element in elements)


def _save_a_demo_case(at: AppTest) -> AppTest:
    at.run()
    at.selectbox(key="demo_choice").set_value("caution-controlled-diabetes").run()
    at.text_input(key="save_title").set_value(TITLE).run()
    next(b for b in at.button if b.label == "Save to the MDT list").click().run()
    return at


@pytest.fixture
def app_database() -> Iterator[Path]:
    """The file of the store the app opens in tests (tests/conftest.py names it)."""
    CaseStore()  # its tables exist
    yield Path(os.environ["SPINE_CDS_DATABASE_URL"].removeprefix("sqlite:///"))


def test_a_locked_database_during_save_says_so_and_shows_no_case_json(
    app_database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(decision.store.writes, "WRITE_ATTEMPTS", 1)  # one 2 s wait, not four
    lock = sqlite3.connect(app_database, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        at = _save_a_demo_case(_clinician_page())
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert not at.exception
    assert any(e.value.startswith("Not saved: the database stayed busy") for e in at.error)
    assert TITLE not in _shown(at) and "diagnoses" not in _shown(at) and "INSERT" not in _shown(at)
    assert "saved_case_id" not in at.session_state


def test_a_database_error_during_save_shows_a_generic_line_without_sql_or_case_json(app_database: Path) -> None:
    refuse = sqlite3.connect(app_database, isolation_level=None)
    refuse.execute("CREATE TRIGGER refuse_cases BEFORE INSERT ON cases BEGIN SELECT RAISE(ABORT, 'refused'); END")
    try:
        at = _save_a_demo_case(_clinician_page())
    finally:
        refuse.execute("DROP TRIGGER refuse_cases")
        refuse.close()
    assert not at.exception
    assert any(e.value.startswith("Not saved: the case store failed; nothing was stored") for e in at.error)
    assert TITLE not in _shown(at) and "diagnoses" not in _shown(at) and "INSERT" not in _shown(at)


def test_a_database_error_names_its_statement_but_never_the_case_it_carried(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    store = CaseStore(f"sqlite:///{path}")
    with sqlite3.connect(path) as refuse:
        refuse.execute("CREATE TRIGGER refuse_cases BEFORE INSERT ON cases BEGIN SELECT RAISE(ABORT, 'refused'); END")
    demo = demo_cases()["caution-controlled-diabetes"]
    with pytest.raises(SQLAlchemyError) as refused:
        store.save_case(demo["case"], evaluate(demo["case"]), TITLE, "test")
    assert "INSERT INTO cases" in str(refused.value)
    assert TITLE not in str(refused.value) and "diagnoses" not in str(refused.value)
