"""The MDT store: cases, decisions with override reasons, and a tamper-evident audit trail."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from local_server import free_port, wait_until
from sqlalchemy import text
from vignette_format import SHARED_VIGNETTES, load_vignette

from decision import evaluate
from decision.settings import Settings
from decision.store import NO_PROCEDURE, CardRecord, CaseStore, StoreError

RADICULAR = load_vignette(SHARED_VIGNETTES / "esi-lumbar-radicular-indicated.yaml")["case"]
CAUDA = load_vignette(SHARED_VIGNETTES / "red-flag-cauda-equina.yaml")["case"]
TF = "epidural_steroid_injection/transforaminal/lumbar"
POSTGRES_AUDIT_KEY = os.urandom(32).hex()


def _exercise(store: CaseStore) -> None:
    first = store.save_case(RADICULAR, evaluate(RADICULAR), "L5 radicular pain", "dr a")
    second = store.save_case(CAUDA, evaluate(CAUDA), "Cauda equina", "dr b")
    assert {c.id for c in store.list_cases()} == {first, second}
    assert [c.id for c in store.list_cases(status="indicated")] == [first]
    assert {c.id for c in store.list_cases(condition="herniated_disc")} == {first, second}
    assert store.list_cases(since=dt.date.today() + dt.timedelta(days=1)) == []
    assert store.get_case(first).report.case_id == RADICULAR["case_id"]  # type: ignore[union-attr]

    agreed = store.record_decision(first, TF, "MDT chair")
    assert agreed.override_reason is None and agreed.engine_status == "indicated"
    with pytest.raises(StoreError, match="override reason"):
        store.record_decision(first, NO_PROCEDURE, "MDT chair")
    overridden = store.record_decision(first, NO_PROCEDURE, "MDT chair", "patient prefers surgery")
    assert overridden.override_reason == "patient prefers surgery"
    with pytest.raises(StoreError, match="override reason"):
        store.record_decision(second, TF, "MDT chair")  # deferred by the red flag
    assert [d.procedure for d in store.decisions(first)] == [TF, NO_PROCEDURE]

    trail = store.audit_trail(first)
    assert [e.action for e in trail] == ["case saved", "decision recorded", "decision recorded"]
    assert trail[-1].who == "MDT chair" and trail[-1].knowledge_version
    assert store.verify_audit() == []


def test_sqlite_store_keeps_cases_decisions_and_audit(tmp_path: Path) -> None:
    _exercise(CaseStore(f"sqlite:///{tmp_path / 'mdt.sqlite'}"))


def test_the_store_survives_a_reopen(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mdt.sqlite'}"
    case_id = CaseStore(url).save_case(RADICULAR, evaluate(RADICULAR), "title", "dr a")
    CaseStore(url).record_decision(case_id, TF, "chair")
    reopened = CaseStore(url)
    assert reopened.decisions(case_id)[0].procedure == TF and reopened.verify_audit() == []


def test_an_edited_audit_entry_is_detected(tmp_path: Path) -> None:
    store = CaseStore(f"sqlite:///{tmp_path / 'mdt.sqlite'}")
    case_id = store.save_case(RADICULAR, evaluate(RADICULAR), "title", "dr a")
    store.record_decision(case_id, TF, "chair")
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit SET who = 'someone else' WHERE seq = 2"))
    assert any("entry 2" in p and "changed" in p for p in store.verify_audit())


def test_a_deleted_audit_entry_is_detected(tmp_path: Path) -> None:
    store = CaseStore(f"sqlite:///{tmp_path / 'mdt.sqlite'}")
    case_id = store.save_case(RADICULAR, evaluate(RADICULAR), "title", "dr a")
    store.record_decision(case_id, TF, "chair")
    store.record_decision(case_id, NO_PROCEDURE, "chair", "declined")
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit WHERE seq = 2"))
    assert any("entry 3" in p and "removed" in p for p in store.verify_audit())


def test_demo_seeding_is_idempotent(tmp_path: Path) -> None:
    store = CaseStore(f"sqlite:///{tmp_path / 'mdt.sqlite'}")
    demos = {"demo-a": {"title": "A", "case": RADICULAR}, "demo-b": {"title": "B", "case": CAUDA}}
    assert store.seed_demo_cases(demos, evaluate) == 2
    assert store.seed_demo_cases(demos, evaluate) == 0
    assert {c.id for c in store.list_cases()} == {"demo-a", "demo-b"}


def test_a_decision_needs_a_known_case_and_a_name(tmp_path: Path) -> None:
    store = CaseStore(f"sqlite:///{tmp_path / 'mdt.sqlite'}")
    with pytest.raises(StoreError, match="not in the store"):
        store.record_decision("nope", TF, "chair")
    case_id = store.save_case(RADICULAR, evaluate(RADICULAR), "t", "dr")
    with pytest.raises(StoreError, match="name is required"):
        store.record_decision(case_id, TF, "  ")


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server on loopback, when the server binaries are installed."""
    bindir = (
        next(
            (p for p in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True) if (p / "initdb").exists()),
            None,
        )
        if Path("/usr/lib/postgresql").exists()
        else None
    )
    if bindir is None:
        pytest.skip("PostgreSQL server binaries are not installed (apt package postgresql); SQLite path tested")
    runner: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as an unprivileged user")
        runner = ["runuser", "-u", "postgres", "--"]
    data = Path(tempfile.mkdtemp(prefix="spine-cds-pg-"))
    if runner:
        shutil.chown(data, "postgres")
    port = free_port()
    subprocess.run(
        [*runner, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "spine"],
        check=True,
        capture_output=True,
    )
    server = subprocess.Popen(
        [*runner, str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(data), "-h", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"postgresql+psycopg://spine@127.0.0.1:{port}/postgres"
    try:
        wait_until(lambda: bool(_postgres_store(url)), seconds=10, pause=0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(data, ignore_errors=True)


def _postgres_store(url: str) -> CaseStore:
    """A database server needs its audit key configured (no per-user key file is guessed)."""
    return CaseStore(url, settings=Settings(database_url=url, audit_key=POSTGRES_AUDIT_KEY))


def test_postgresql_store_behaves_like_sqlite(postgres_url: str) -> None:
    _exercise(_postgres_store(postgres_url))


def test_postgresql_keeps_one_chain_under_200_concurrent_writes(postgres_url: str) -> None:
    store = _postgres_store(postgres_url)
    case_id = store.save_case(RADICULAR, evaluate(RADICULAR), "hammered", "dr a")
    store.record_issued_cards(case_id, "spine-cds-order-select", "hook-1", [CardRecord("pg-card", TF, "info")], "x")
    before = len(store.audit_trail())

    def one(number: int) -> None:
        if number % 2:
            store.record_feedback("pg-card", "overridden", [], None, str(number), "2026-01-01T10:00:00Z")
        else:
            store.record_decision(case_id, NO_PROCEDURE, f"chair {number}", "declined")

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(one, range(200)))
    assert len(store.audit_trail()) == before + 200
    assert store.verify_audit() == []
