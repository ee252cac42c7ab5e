"""A report as a PDF a clinician can file: the same words as the Markdown export."""

from __future__ import annotations

from fpdf import FPDF

from decision.explain import to_text
from decision.report import Report

_REPLACEMENTS = {"≥": ">=", "≤": "<=", "—": "-", "–": "-", "’": "'", "‘": "'", "“": '"', "”": '"', "…": "..."}


def _latin1(text: str) -> str:
    """The PDF core fonts are Latin-1; anything else is written plainly rather than dropped."""
    for old, new in _REPLACEMENTS.items():
        text = text.replace(old, new)
    return text.encode("latin-1", "replace").decode("latin-1")


def report_pdf(report: Report) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 13)
    pdf.multi_cell(0, 7, _latin1(f"spine-cds report: {report.case_id or '(no id)'}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Courier", size=8)
    for line in to_text(report).splitlines()[1:]:
        pdf.multi_cell(0, 4, _latin1(line) or " ", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
