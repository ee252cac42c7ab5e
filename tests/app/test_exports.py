"""Exports a clinician or an MDT files: the clinical letter (Markdown and PDF) and the meeting's case list."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shutil
from pathlib import Path
from typing import Any

import pypdf
import pytest
from vignette_format import SHARED_VIGNETTES, load_vignette

from decision import evaluate
from decision.demo_cases import demo_cases
from decision.evaluator import default_evaluator
from decision.letter import SUPPORT_STATEMENT, Document, clinical_letter, document_markdown
from decision.store import NO_PROCEDURE, CaseStore
from ui.export import FONT_FOLDER, document_pdf, letter_pdf
from ui.mdt import meeting_csv, meeting_markdown

CASE = load_vignette(SHARED_VIGNETTES / "esi-apixaban-24h-deferred.yaml")["case"]
ASSESSED = dt.datetime(2026, 10, 5, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=1), "BST"))
GENERATED = dt.datetime(2026, 10, 5, 9, 45, tzinfo=dt.timezone(dt.timedelta(hours=1), "BST"))
SECTIONS = (
    "Case summary",
    "Candidates",
    "Antithrombotic plan (stop and restart)",
    "Missing information",
    "Knowledge and times",
    "Decision support",
    "Signed",
)
RAW_ID = re.compile(r"\b[a-z0-9]+_[a-z0-9_]+\b|\b[a-z_]+\.[a-z_]+\b|#[a-z_]+\b")
"""A vocabulary or rule id (`indicated_with_caution`, `seed_003`), a field path or a source anchor."""


def _letter(case: dict[str, Any]) -> Document:
    knowledge = default_evaluator().knowledge
    return clinical_letter(case, evaluate(case), knowledge, assessed_at=ASSESSED, generated_at=GENERATED)


def _words(text: str) -> str:
    return " ".join(text.split())


def _pdf_text(pdf: bytes) -> str:
    return _words(" ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages))


def _required_content(report_hash: str, version: str) -> list[str]:
    return [
        *SECTIONS,
        "52-year-old man with herniated disc",
        "Epidural steroid injection, transforaminal, lumbar spine (L4-L5): deferred",
        "Apixaban: stop at least 120 hours (5 days) before; restart 12-24 hours after the procedure.",
        f"Knowledge version {version}, content hash {report_hash}",
        "Assessed at 2026-10-05 09:30 BST",
        "Generated at 2026-10-05 09:45 BST",
        SUPPORT_STATEMENT,
        "Name:",
        "Role:",
        "Date:",
    ]


def test_the_letter_in_markdown_has_every_section_a_clinician_files() -> None:
    report = evaluate(CASE)
    markdown = document_markdown(_letter(CASE))
    plain = _words(markdown.replace("\\", ""))
    for expected in _required_content(report.knowledge_hash, report.knowledge_version):
        assert _words(expected) in plain, expected
    assert "## Candidates" in markdown and "### Epidural steroid injection, transforaminal" in markdown


def test_the_pdf_letter_says_what_the_markdown_says() -> None:
    report = evaluate(CASE)
    text = _pdf_text(document_pdf(_letter(CASE)))
    for expected in _required_content(report.knowledge_hash, report.knowledge_version):
        assert _words(expected) in text, expected
    assert "Comprehensive Guide to Fluoroscopic-Guided Injections for Pain Relief" in text  # a source's title


@pytest.mark.parametrize("demo", sorted(demo_cases()))
def test_no_letter_shows_a_field_path_a_rule_id_or_a_source_id(demo: str) -> None:
    letter = _letter(demo_cases()[demo]["case"])
    texts = [letter.title, *letter.meta[1:]]
    for section in letter.sections:
        texts += [section.heading, *section.paragraphs, *(line.text for line in section.lines)]
        texts += [line.note for line in section.lines]
    found = {match for text in texts for match in RAW_ID.findall(text)}
    assert not found, found


def test_missing_information_is_listed_in_words_and_an_unasked_medication_history_stays_unknown() -> None:
    case = {**CASE, "medications": None}
    letter = _letter(case)
    missing = next(s for s in letter.sections if s.heading == "Missing information")
    assert any(line.text.startswith("Medication history: ") for line in missing.lines)
    plan = next(s for s in letter.sections if s.heading.startswith("Antithrombotic plan"))
    assert plan.paragraphs and "not known" in plan.paragraphs[0] and not plan.lines


def test_record_text_in_the_letter_cannot_forge_markdown() -> None:
    case = {**CASE, "case_id": "![x](http://attacker.example/x.png) # heading"}
    markdown = document_markdown(_letter(case))
    assert "![x](" not in markdown and "\n# heading" not in markdown


def test_the_pdf_prints_text_outside_latin_1_when_dejavu_is_installed() -> None:
    case = {**CASE, "case_id": "Zoë Łukasiewicz 北"}
    text = _pdf_text(letter_pdf(case, evaluate(case), assessed_at=ASSESSED))
    expected = "Zoë Łukasiewicz 北" if (FONT_FOLDER / "DejaVuSans.ttf").is_file() else "Zoë ?ukasiewicz ?"
    if "北" in expected:
        expected = "Zoë Łukasiewicz"  # DejaVu has no CJK glyphs; the Latin text must survive whole
    assert expected in text


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


def test_the_readmes_letter_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- letter-example -->", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "examples").mkdir()
    shutil.copy(root / "examples" / "warfarin-inr-unknown.json", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    monkeypatch.setattr("sys.stdout", printed)
    exec(compile(block, "README.md", "exec"), {})  # the README's own example
    assert "67-year-old woman" in printed.getvalue() and "# Spinal injection assessment" in printed.getvalue()
    assert (tmp_path / "patient-information.pdf").read_bytes().startswith(b"%PDF")
