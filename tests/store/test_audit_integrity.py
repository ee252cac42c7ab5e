"""The audit trail survives a killed writer and reports tampering through `spine-cds audit verify`."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from vignette_format import SHARED_VIGNETTES, load_vignette

from decision import evaluate
from decision.cli.command import main
from decision.store import CaseStore

ROOT = Path(__file__).resolve().parents[2]
CASE = load_vignette(SHARED_VIGNETTES / "esi-lumbar-radicular-indicated.yaml")["case"]

WRITER = """
import sys, json
sys.path.insert(0, {root!r})
from decision import evaluate
from decision.store import CaseStore
store = CaseStore({url!r})
case = json.loads({case!r})
case_id = store.save_case(case, evaluate(case), "killed writer", "writer")
n = 0
while True:
    store.record_decision(case_id, "none", "writer", f"decision {{n}}")
    n += 1
    print(n, flush=True)  # printed only after the commit
"""


def test_a_writer_killed_mid_write_loses_no_committed_decision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mdt.sqlite'}"
    script = WRITER.format(root=str(ROOT), url=url, case=json.dumps(CASE))
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    committed = 0
    assert writer.stdout is not None
    deadline = time.monotonic() + 60
    while committed < 40 and time.monotonic() < deadline:
        line = writer.stdout.readline()
        if line.strip():
            committed = int(line)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    assert committed >= 40
    store = CaseStore(url)
    assert len(store.decisions()) >= committed
    assert store.verify_audit() == []


def _verify(url: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["audit", "verify", "--database", url], out=out)
    return code, out.getvalue()


def test_audit_verify_reports_intact_then_tampered(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mdt.sqlite'}"
    store = CaseStore(url)
    case_id = store.save_case(CASE, evaluate(CASE), "t", "dr a")
    store.record_decision(case_id, "none", "chair", "declined")
    code, out = _verify(url)
    assert code == 0 and "intact: 2 entries" in out
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit SET details = '{}' WHERE seq = 2"))
    code, out = _verify(url)
    assert code == 4 and "TAMPERED" in out and "entry 2" in out


def test_audit_verify_on_a_missing_database_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = _verify(f"sqlite:///{tmp_path / 'absent.sqlite'}")
    assert code == 2 and "no such SQLite file" in capsys.readouterr().err


def test_patient_fields_never_reach_the_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    marker = "PATIENT-MARKER-7731"
    case = {**CASE, "case_id": marker, "medications": [{"name": f"{marker.lower()}", "last_dose_hours_ago": 5}]}
    with caplog.at_level(logging.DEBUG):
        report = evaluate(case)
        store = CaseStore(f"sqlite:///{tmp_path / 'mdt.sqlite'}")
        case_id = store.save_case(case, report, marker, "dr a")
        store.record_decision(case_id, "none", "chair", "declined")
        main(["evaluate", str(SHARED_VIGNETTES / "esi-lumbar-radicular-indicated.yaml")], out=io.StringIO())
    assert all(
        marker not in record.getMessage() and marker.lower() not in record.getMessage() for record in caplog.records
    )
