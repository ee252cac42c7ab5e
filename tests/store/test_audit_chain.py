"""The audit chain cannot fork under concurrent writers, cannot be quietly rewritten by someone with
the database file (entries are signed with a key kept outside it, and they hash the rows they
record), cannot lose its tail unseen after a checkpoint, and a missing key is explained."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cds_hooks_requests import ORDER_SELECT
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from vignette_format import SHARED_VIGNETTES, load_vignette

from decision import evaluate
from decision.cli.command import main
from decision.settings import Settings
from decision.store import AuditKeyError, CaseStore, StoreUnavailable
from decision.store import tables as store_tables
from decision.store import writes as store_writes

RADICULAR = load_vignette(SHARED_VIGNETTES / "esi-lumbar-radicular-indicated.yaml")["case"]
TF = "epidural_steroid_injection/transforaminal/lumbar"
CONCURRENT_CALLS, IN_FLIGHT = 200, 20


@pytest.fixture
def keyed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A throwaway SQLite store with a key file of its own (never the developer's key)."""
    monkeypatch.setenv("SPINE_CDS_AUDIT_KEY_FILE", str(tmp_path / "audit.key"))
    monkeypatch.delenv("SPINE_CDS_AUDIT_KEY", raising=False)
    return Settings(database_url=f"sqlite:///{tmp_path / 'mdt.sqlite'}", audit_key_file=tmp_path / "audit.key")


def _store(settings: Settings) -> CaseStore:
    return CaseStore(settings.database_url, settings=settings)


def _verify(url: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["audit", "verify", "--database", url], out=out)
    return code, out.getvalue()


def _hammer(store: CaseStore, case_id: str, card_uuid: str) -> list[BaseException]:
    """CONCURRENT_CALLS writes, IN_FLIGHT at a time: feedback and decisions interleaved."""

    def one(number: int) -> None:
        if number % 2:
            store.record_feedback(card_uuid, "overridden", [], None, f"call {number}", "2026-01-01T10:00:00Z")
        else:
            store.record_decision(case_id, "none", f"chair {number}", "declined")

    failures: list[BaseException] = []
    with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
        for future in [pool.submit(one, n) for n in range(CONCURRENT_CALLS)]:
            if future.exception() is not None:
                failures.append(future.exception())  # type: ignore[arg-type]
    return failures


def _issued_card(store: CaseStore) -> tuple[str, str]:
    from decision.store import CardRecord

    case_id = store.save_case(RADICULAR, evaluate(RADICULAR), "hammered", "dr a")
    store.record_issued_cards(case_id, ORDER_SELECT, "hook-1", [CardRecord("card-1", TF, "info")], "client")
    return case_id, "card-1"


# -- no fork -----------------------------------------------------------------------------------


def test_200_concurrent_feedback_and_decision_writes_leave_one_unbroken_chain(keyed: Settings) -> None:
    store = _store(keyed)
    case_id, card = _issued_card(store)
    assert _hammer(store, case_id, card) == []
    trail = store.audit_trail()
    assert len(trail) == 2 + CONCURRENT_CALLS
    assert len({e.prev_hash for e in trail}) == len(trail), "two entries follow the same one: a fork"
    assert store.verify_audit() == []
    assert _verify(keyed.database_url)[0] == 0


def test_concurrent_writers_in_separate_processes_never_fork_the_chain(keyed: Settings) -> None:
    """Each process has its own connection pool: only the database's write lock orders them."""
    import subprocess
    import sys

    store = _store(keyed)
    _, card = _issued_card(store)
    url, key = keyed.database_url, str(keyed.audit_key_file)
    script = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parents[1])!r});"
        "from decision.settings import Settings; from decision.store import CaseStore;"
        f"s = CaseStore({url!r}, settings=Settings(database_url={url!r}, audit_key_file={key!r}));"
        f"[s.record_feedback({card!r}, 'overridden', [], None, str(n), '2026-01-01T10:00:00Z') for n in range(25)]"
    )
    writers = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(4)]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0, 0]
    assert len(store.audit_trail()) == 2 + 100 and store.verify_audit() == []


def test_the_database_refuses_a_second_entry_after_the_same_one(keyed: Settings) -> None:
    store = _store(keyed)
    store.save_case(RADICULAR, evaluate(RADICULAR), "t", "dr a")
    (first,) = store.audit_trail()
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit (case_id, at, who, action, details, knowledge_version, records, prev_hash, "
                "hash, key_id) SELECT case_id, at, who, action, details, knowledge_version, records, prev_hash, "
                "'f' || substr(hash, 2), key_id FROM audit WHERE seq = :seq"
            ),
            {"seq": first.seq},
        )


# -- no quiet rewrite --------------------------------------------------------------------------


def _unkeyed(payload: list[Any]) -> str:
    """The store's former entry hash: SHA-256 that anyone with the file can recompute."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _written_trail(settings: Settings) -> tuple[CaseStore, str]:
    store = _store(settings)
    case_id = store.save_case(RADICULAR, evaluate(RADICULAR), "L5 radicular pain", "dr a")
    store.record_decision(case_id, TF, "chair")
    store.record_decision(case_id, "none", "chair", "declined")
    assert store.verify_audit() == []
    return store, case_id


def test_a_decision_rewritten_with_every_hash_recomputed_unkeyed_is_detected(keyed: Settings) -> None:
    store, _ = _written_trail(keyed)
    db = sqlite3.connect(keyed.database_url.removeprefix("sqlite:///"))
    rows = db.execute(
        "SELECT seq, case_id, at, who, action, details, knowledge_version, records FROM audit ORDER BY seq"
    ).fetchall()
    db.execute("UPDATE decisions SET procedure = 'none', override_reason = 'declined' WHERE id = 1")
    prev = "0" * 64
    for seq, case_id, at, who, action, details, version, records in rows:
        details = json.loads(details)
        if action == "decision recorded" and details["procedure"] == TF:
            details = {**details, "procedure": "none", "override_reason": "declined"}
        at_utc = dt.datetime.fromisoformat(at).replace(tzinfo=dt.UTC).isoformat()
        digest = _unkeyed([prev, case_id, at_utc, who, action, details, version, json.loads(records)])
        db.execute(
            "UPDATE audit SET details = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            (json.dumps(details), prev, digest, seq),
        )
        prev = digest
    db.execute("UPDATE audit_head SET head_hash = ?", (prev,))
    db.commit()
    db.close()
    problems = store.verify_audit()
    assert sum("content was changed" in p for p in problems) == 3
    assert _verify(keyed.database_url)[0] == 4


def test_entries_deleted_after_a_checkpoint_are_detected(keyed: Settings) -> None:
    store, _ = _written_trail(keyed)
    out = io.StringIO()
    assert main(["audit", "checkpoint", "--database", keyed.database_url, "--who", "MDT chair"], out=out) == 0
    assert out.getvalue().startswith("audit checkpoint 1: 3 entries, head ")
    store.record_decision(store.list_cases()[0].id, TF, "chair")
    with store.engine.connect() as conn:
        head_after_two = conn.execute(text("SELECT hash FROM audit WHERE seq = 2")).scalar_one()
    with store.engine.begin() as conn:  # the tail and its rows go; the head is made to agree
        conn.execute(text("DELETE FROM audit WHERE seq > 2"))
        conn.execute(text("DELETE FROM decisions WHERE id > 1"))
        conn.execute(text("UPDATE audit_head SET entries = 2, head_hash = :h"), {"h": head_after_two})
    problems = store.verify_audit()
    assert "entries removed after checkpoint 1: it signed 3 entries, the trail has 2" in problems
    code, printed = _verify(keyed.database_url)
    assert code == 4 and "entries removed after checkpoint 1" in printed


def test_a_cut_tail_without_a_checkpoint_no_longer_matches_the_signed_head(keyed: Settings) -> None:
    store, _ = _written_trail(keyed)
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit WHERE seq = 3"))
        conn.execute(text("DELETE FROM decisions WHERE id = 2"))
    assert any(p.startswith("audit head: signed for 3 entries") for p in store.verify_audit())


def test_an_edited_stored_report_is_detected(keyed: Settings) -> None:
    store, case_id = _written_trail(keyed)
    with store.engine.begin() as conn:
        report = json.loads(conn.execute(text("SELECT report_json FROM cases")).scalar_one())
        report["candidates"][0]["status"] = "contraindicated"
        conn.execute(text("UPDATE cases SET report_json = :r"), {"r": json.dumps(report)})
    assert f"entry 1: its case {case_id} was changed after it was written" in store.verify_audit()


def test_an_edited_decision_procedure_is_detected(keyed: Settings) -> None:
    store, _ = _written_trail(keyed)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE decisions SET procedure = 'none' WHERE id = 1"))
    assert "entry 2: its decision 1 was changed after it was written" in store.verify_audit()


def test_a_decision_added_outside_spine_cds_is_detected(keyed: Settings) -> None:
    store, _ = _written_trail(keyed)
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO decisions (case_id, decided_at, decided_by, procedure, engine_status, knowledge_version) "
                "SELECT case_id, decided_at, 'intruder', procedure, engine_status, knowledge_version "
                "FROM decisions WHERE id = 1"
            )
        )
    assert "decision 3: no audit entry records it (added outside spine-cds)" in store.verify_audit()


def test_a_trail_written_before_keyed_entries_is_reported_as_such(tmp_path: Path, keyed: Settings) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE audit (seq INTEGER PRIMARY KEY, case_id VARCHAR(40), at DATETIME, who VARCHAR(200), "
        "action VARCHAR(60), details JSON, knowledge_version VARCHAR(40), prev_hash VARCHAR(64), hash VARCHAR(64))"
    )
    at = "2026-01-01 10:00:00.000000"
    digest = _unkeyed(["0" * 64, "c1", "2026-01-01T10:00:00+00:00", "dr a", "case saved", {}, "2026.1.0"])
    db.execute(
        "INSERT INTO audit VALUES (1, 'c1', ?, 'dr a', 'case saved', '{}', '2026.1.0', ?, ?)", (at, "0" * 64, digest)
    )
    db.commit()
    db.close()
    code, printed = _verify(f"sqlite:///{path}")
    assert code == 4 and "UNVERIFIABLE: 1 entries" in printed and "written before keyed entries" in printed
    with pytest.raises(Exception, match="written before keyed entries"):
        CaseStore(f"sqlite:///{path}", settings=keyed).save_case(RADICULAR, evaluate(RADICULAR), "t", "dr a")


# -- the key -----------------------------------------------------------------------------------


def test_the_key_file_is_created_on_first_use_readable_by_its_owner_only(keyed: Settings) -> None:
    assert keyed.audit_key_file is not None and not keyed.audit_key_file.exists()
    _written_trail(keyed)
    assert keyed.audit_key_file.stat().st_mode & 0o777 == 0o600
    assert len(bytes.fromhex(keyed.audit_key_file.read_text().strip())) == 32


def test_without_its_key_the_trail_is_not_verified_and_the_absence_is_explained(
    keyed: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    _written_trail(keyed)
    assert keyed.audit_key_file is not None
    keyed.audit_key_file.rename(keyed.audit_key_file.with_suffix(".moved"))
    code, _ = _verify(keyed.database_url)
    err = capsys.readouterr().err
    assert code == 2 and "does not exist" in err and "SPINE_CDS_AUDIT_KEY" in err and "signed with key" in err
    with pytest.raises(AuditKeyError, match="a new key could not verify the trail"):
        _store(keyed).record_decision(_store(keyed).list_cases()[0].id, TF, "chair")
    assert not keyed.audit_key_file.exists(), "no second key is made for a trail signed with another"


def test_another_key_is_named_as_such_not_reported_as_an_edit(keyed: Settings) -> None:
    _written_trail(keyed)
    other = Settings(database_url=keyed.database_url, audit_key=os.urandom(32).hex())
    problems = CaseStore(keyed.database_url, settings=other).verify_audit()
    assert problems and all("signed with key" in p or "signature does not match" in p for p in problems)
    with pytest.raises(AuditKeyError, match="the trail is signed with key"):
        CaseStore(keyed.database_url, settings=other).record_decision(_store(keyed).list_cases()[0].id, TF, "chair")


def test_a_database_server_without_a_configured_key_is_refused_with_how_to_configure_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from decision.store.audit_key import resolve_audit_key

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("SPINE_CDS_AUDIT_KEY_FILE", raising=False)  # the suite's own throwaway key
    settings = Settings(database_url="postgresql+psycopg://mdt@db/spine")
    with pytest.raises(AuditKeyError) as refused:
        resolve_audit_key(settings, settings.database_url, None, may_create=True)
    (problem,) = refused.value.problems
    assert "SPINE_CDS_AUDIT_KEY" in problem and "SPINE_CDS_AUDIT_KEY_FILE" in problem and "token_hex" in problem
    assert not (tmp_path / "data" / "spine-cds" / "spine-cds.audit-key").exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [("abcd", "at least 32 bytes"), ("not a key!", "hex or base64")],
)
def test_a_bad_key_is_refused_without_quoting_it(value: str, message: str, tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'k.sqlite'}", audit_key=value)
    with pytest.raises(AuditKeyError, match=message) as refused:
        CaseStore(settings=settings).save_case(RADICULAR, evaluate(RADICULAR), "t", "dr a")
    assert value not in str(refused.value.problems)


def test_a_key_file_others_can_read_is_refused(keyed: Settings) -> None:
    _written_trail(keyed)
    assert keyed.audit_key_file is not None
    keyed.audit_key_file.chmod(0o644)
    with pytest.raises(AuditKeyError, match="chmod 600"):
        _store(keyed).verify_audit()


# -- a store that cannot write says so ---------------------------------------------------------


@pytest.fixture
def busy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Short waits, so that a held write lock makes the store give up within a second."""
    monkeypatch.setattr(store_tables, "SQLITE_BUSY_TIMEOUT_SECONDS", 0.1)
    monkeypatch.setattr(store_writes, "WRITE_ATTEMPTS", 2)
    yield


def _hold_write_lock(path: str) -> sqlite3.Connection:
    """Another connection that holds SQLite's write lock until it rolls back."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_a_busy_database_refuses_a_write_as_unavailable_and_stores_nothing(keyed: Settings, busy: None) -> None:
    store, case_id = _written_trail(keyed)
    holder = _hold_write_lock(keyed.database_url.removeprefix("sqlite:///"))
    try:
        with pytest.raises(StoreUnavailable, match="stayed busy"):
            store.record_decision(case_id, TF, "chair")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert len(store.audit_trail()) == 3 and store.verify_audit() == []


def test_busy_sqlite_is_waited_for_within_the_bound(keyed: Settings) -> None:
    store, case_id = _written_trail(keyed)
    holder = _hold_write_lock(keyed.database_url.removeprefix("sqlite:///"))
    timer = threading.Timer(1.0, lambda: holder.execute("ROLLBACK"))
    timer.start()
    try:
        store.record_decision(case_id, TF, "chair")  # waits for the holder, then writes
    finally:
        timer.join()
        holder.close()
    assert len(store.audit_trail()) == 4
