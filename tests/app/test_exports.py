"""Exports a clinician or an MDT files: the PDF report and the meeting's case list."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from vignette_format import SHARED_VIGNETTES, load_vignette

from decision import evaluate
from decision.store import NO_PROCEDURE, CaseStore
from ui.export import report_pdf
from ui.mdt import meeting_csv, meeting_markdown

CASE = load_vignette(SHARED_VIGNETTES / "esi-apixaban-24h-deferred.yaml")["case"]


def test_the_pdf_report_is_a_pdf_with_the_report_in_it() -> None:
    pdf = report_pdf(evaluate(CASE))
    assert pdf.startswith(b"%PDF") and len(pdf) > 2000


def test_the_meeting_list_exports_decisions_as_csv_and_markdown(tmp_path: Path) -> None:
    store = CaseStore(f"sqlite:///{tmp_path / 'mdt.sqlite'}")
    case_id = store.save_case(CASE, evaluate(CASE), "Apixaban | 24 h", "dr a")
    store.record_decision(case_id, NO_PROCEDURE, "Dr Chair")
    cases = store.list_cases()
    rows = list(csv.DictReader(io.StringIO(meeting_csv(cases, store))))
    assert rows[0]["case_id"] == case_id and rows[0]["decision"] == NO_PROCEDURE
    assert rows[0]["decided_by"] == "Dr Chair" and rows[0]["engine_best_status"] == "deferred"
    markdown = meeting_markdown(cases, store)
    assert "| Apixaban \\| 24 h (" in markdown and "Dr Chair" in markdown and "DEFERRED" in markdown
