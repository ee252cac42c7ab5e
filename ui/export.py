"""Documents as PDF: the clinical letter and the patient information sheet, laid out for print.

The content is built once in `decision.letter` (a `Document`); this module only draws it, so the PDF
says exactly what the Markdown says. DejaVu Sans (Debian's fonts-dejavu-core) prints any text a
record may hold; without it the PDF core font is used and text outside Latin-1 is written plainly.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fpdf import FPDF

from decision.evaluator import default_evaluator
from decision.letter import Document, clinical_letter
from decision.report import Report
from knowledge.loader import Knowledge

FONT_FOLDER = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf"}
_REPLACEMENTS = {"≥": ">=", "≤": "<=", "—": "-", "–": "-", "’": "'", "‘": "'", "“": '"', "”": '"', "…": "...", "·": "-"}
_BODY, _SMALL = 10, 8


def _latin1(text: str) -> str:
    """The PDF core fonts are Latin-1; anything else is written plainly rather than dropped."""
    for old, new in _REPLACEMENTS.items():
        text = text.replace(old, new)
    return text.encode("latin-1", "replace").decode("latin-1")


class _Printer:
    """One document's PDF: a font that can print the text, and the few styles a letter needs."""

    def __init__(self) -> None:
        self.pdf = FPDF(format="A4")
        self.pdf.set_margins(20, 18, 20)
        self.pdf.set_auto_page_break(auto=True, margin=18)
        self.unicode = all((FONT_FOLDER / name).is_file() for name in FONT_FILES.values())
        self.family = "DejaVu" if self.unicode else "Helvetica"
        if self.unicode:
            for style, name in FONT_FILES.items():
                self.pdf.add_font("DejaVu", style, str(FONT_FOLDER / name))
        self.pdf.add_page()

    def text(self, value: str) -> str:
        return value if self.unicode else _latin1(value)

    def write(self, value: str, size: int = _BODY, style: str = "", height: float = 5, indent: float = 0) -> None:
        self.pdf.set_font(self.family, style, size)
        self.pdf.set_x(self.pdf.l_margin + indent)
        self.pdf.multi_cell(0, height, self.text(value) or " ", align="L", new_x="LMARGIN", new_y="NEXT")

    def gap(self, height: float = 2) -> None:
        self.pdf.ln(height)


def document_pdf(document: Document) -> bytes:
    """The document as an A4 PDF: title, the lines under it, sections, then the signature block."""
    out = _Printer()
    out.write(document.title, size=16, style="B", height=8)
    for line in document.meta:
        out.write(line, size=_SMALL, height=4)
    out.gap(3)
    for section in document.sections:
        out.gap(2 if section.level == 2 else 1)
        out.write(section.heading, size=12 if section.level == 2 else _BODY + 1, style="B", height=6)
        for paragraph in section.paragraphs:
            out.write(paragraph)
            out.gap(1)
        for line in section.lines:
            out.write(f"•  {line.text}" if out.unicode else f"-  {line.text}", indent=3)
            if line.note:
                out.write(line.note, size=_SMALL, style="I", height=4, indent=7)
    if document.signature:
        out.gap(6)
        out.write("Signed", size=12, style="B", height=6)
        for label in document.signature:
            out.gap(4)
            out.write(f"{label}: {'_' * 50}")
    return bytes(out.pdf.output())


def letter_pdf(
    case: dict[str, Any], report: Report, knowledge: Knowledge | None = None, assessed_at: dt.datetime | None = None
) -> bytes:
    """The report as a clinical letter in PDF (the shipped knowledge's source titles by default)."""
    chosen = knowledge or default_evaluator().knowledge
    moment = assessed_at or dt.datetime.now().astimezone()
    return document_pdf(clinical_letter(case, report, chosen, assessed_at=moment))
