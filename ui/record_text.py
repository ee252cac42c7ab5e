"""Text that came from a record (a case title, a FHIR `code.text`, a `?case=` id, a name, a problem that
quotes a value) shown as the words it is, never as Markdown: on the pages (`st.markdown`, `st.error`,
`st.warning`, `st.success`, `st.info` all render Markdown) and in the Markdown and CSV exports.

Without this a `Condition.code.text` of `![x](https://host/beacon.png)` loaded an image from another
host on the MDT page, and a title of `=HYPERLINK(...)` became a live formula in a spreadsheet.
"""

from __future__ import annotations

import re

_INLINE = re.compile(r"([\\`*_\[\]<>#!|~$&{}])")
"""CommonMark lets any ASCII punctuation be escaped with a backslash; these are the ones that start a
link or an image (`[`, `!`), raw HTML or an autolink (`<`), emphasis, code, a table cell, strikethrough,
maths (`$`), an entity (`&`) or one of Streamlit's `:color[...]` directives (its `[`)."""
_BLOCK_START = re.compile(r"^(\d*)([-+=.)])")
"""What makes the text a list item or a heading underline when it starts a line (`#`, `>` are escaped above)."""
CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""A spreadsheet reads a cell starting with one of these as a formula (OWASP, "CSV Injection")."""


def markdown_text(value: object) -> str:
    """`value` as literal text inside Markdown, on one line (a newline in a record cannot start a
    heading, a list or a table row of its own)."""
    one_line = " ".join(str(value).split())
    escaped = _INLINE.sub(r"\\\1", one_line)
    return _BLOCK_START.sub(r"\1\\\2", escaped, count=1)


def csv_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: one that would start a formula is prefixed with `'`."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(CSV_FORMULA_START) else text
