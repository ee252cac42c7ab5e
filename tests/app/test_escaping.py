"""Record text is shown as text: no image loads from a case's words, no formula runs from an export.

Each Markdown string the app hands to Streamlit is rendered here with a CommonMark parser (with the
GFM tables and strikethrough Streamlit also reads), and must come out as the same words, without
an image, a link or raw HTML.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from fhir_bundles import bundle_from_case
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest
from vignette_format import SHARED_VIGNETTES, load_vignette

from decision import evaluate
from decision.fhir import case_from_bundle
from decision.store import CaseStore
from ui.mdt import meeting_csv, meeting_markdown
from ui.record_text import csv_cell, markdown_text

ROOT = Path(__file__).resolve().parents[2]
BEACON = "![x](http://127.0.0.1:9/beacon.png)"
HOSTILE = [
    BEACON,
    "[click](javascript:alert(1))",
    "<img src=http://127.0.0.1:9/b.png>",
    "<http://127.0.0.1:9/x>",
    ":red[**alarm**]",
    "# Heading",
    "- list\n# heading on a new line",
    "1. ordered",
    "a | b",
    "`code` *em* _em_ ~~gone~~ $x^2$ &amp;",
]
RENDER = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def _html(markdown: str) -> str:
    return RENDER.render(markdown)


def _is_plain(markdown: str) -> bool:
    html = _html(markdown)
    return not any(tag in html for tag in ("<img", "<a ", "<em", "<strong", "<code", "<h1", "<li", "<del", "<table"))


def _links_nothing(markdown: str) -> bool:
    html = _html(markdown)
    return "<img" not in html and "<a " not in html


def test_record_text_renders_as_the_same_words_and_nothing_else() -> None:
    for text in HOSTILE:
        shown = markdown_text(text)
        assert _is_plain(f"Case: {shown}") and _is_plain(shown), text
        assert "\n" not in shown  # a record cannot start a line of its own


def test_csv_cells_that_would_start_a_formula_are_neutralised() -> None:
    for formula in ('=HYPERLINK("http://127.0.0.1:9","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1"):
        assert csv_cell(formula) == "'" + formula
    assert csv_cell("Dr Chair") == "Dr Chair" and csv_cell(None) == ""


def _bundle_with_an_uncoded_condition(text: str) -> dict[str, object]:
    bundle = bundle_from_case(load_vignette(SHARED_VIGNETTES / "esi-lumbar-radicular-indicated.yaml")["case"])
    bundle["entry"].append(  # type: ignore[union-attr]
        {
            "resource": {
                "resourceType": "Condition",
                "id": "c-beacon",
                "subject": {"reference": "Patient/p1"},
                "code": {"text": text},
            }
        }
    )
    return bundle


def _store() -> CaseStore:
    return CaseStore()  # the app's store: the throwaway database tests/conftest.py names


def _page(name: str) -> AppTest:
    module, function = name.split(".")
    script = f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nfrom ui.{module} import {function}\n{function}()\n"
    return AppTest.from_string(script, default_timeout=60)


def _every_markdown(at: AppTest) -> list[str]:
    shown = [*at.markdown, *at.error, *at.warning, *at.info, *at.success]
    return [element.value for element in shown]


def test_a_condition_text_from_a_record_is_not_rendered_as_markdown_on_the_mdt_page() -> None:
    imported = case_from_bundle(_bundle_with_an_uncoded_condition(BEACON))
    case = json.loads(imported.case.model_dump_json(exclude_none=True))
    report = evaluate(case).model_copy(update={"ignored_input": imported.ignored_input})
    case_id = _store().save_case(case, report, f"Beacon {BEACON}", "test")
    at = _page("mdt.mdt_page").run()
    at.selectbox(key="mdt_case").set_value(case_id).run()
    assert not at.exception
    shown = _every_markdown(at)
    assert any("beacon.png" in text for text in shown)  # the words are there ...
    assert all(_links_nothing(text) for text in shown if "beacon.png" in text)  # ... as words, not an image


def test_a_case_link_value_is_not_rendered_as_markdown_in_the_error() -> None:
    at = _page("clinician.clinician_page")
    at.query_params["case"] = BEACON
    at.run()
    assert at.error and "beacon.png" in at.error[0].value
    assert _links_nothing(at.error[0].value)


def test_the_meeting_list_exports_carry_no_live_formula_and_no_markdown_from_a_title(tmp_path: Path) -> None:
    store = CaseStore(f"sqlite:///{tmp_path / 'mdt.sqlite'}")
    case = load_vignette(SHARED_VIGNETTES / "esi-apixaban-24h-deferred.yaml")["case"]
    store.save_case(case, evaluate(case), '=HYPERLINK("http://127.0.0.1:9/?leak","open") ' + BEACON, "test")
    cases = store.list_cases()
    row = next(csv.DictReader(io.StringIO(meeting_csv(cases, store))))
    assert row["title"].startswith("'=HYPERLINK(")
    html = _html(meeting_markdown(cases, store))
    assert "<table>" in html and "<img" not in html and "beacon.png" in html
