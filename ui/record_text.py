"""Text that came from a record (a case title, a FHIR `code.text`, a `?case=` id, a name, a problem that
quotes a value) shown as the words it is, never as Markdown: on the pages (`st.markdown`, `st.error`,
`st.warning`, `st.success`, `st.info` all render Markdown) and in the Markdown and CSV exports.

Without this a `Condition.code.text` of `![x](https://host/beacon.png)` loaded an image from another
host on the MDT page, and a title of `=HYPERLINK(...)` became a live formula in a spreadsheet.
"""

from __future__ import annotations

from decision.explain import markdown_text

__all__ = ["csv_cell", "markdown_text"]

CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""A spreadsheet reads a cell starting with one of these as a formula (OWASP, "CSV Injection")."""


def csv_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: one that would start a formula is prefixed with `'`."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(CSV_FORMULA_START) else text
