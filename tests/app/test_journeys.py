"""The app's three users, end to end in a real browser (issue 15): Playwright drives Debian's Chromium.

1. A pain consultant enters a new patient in the case form: a 71-year-old man with L4-L5 foraminal
   stenosis who takes apixaban, last dose 48 hours ago. First the "listed but empty" trap, then the
   apixaban row, an answer given in place, what-if, the case summary, the policies side by side,
   the PDF letter, the patient information sheet, and the save with its share link.
2. A registrar on the trainee pages: the indications matrix, the rules with their sources, the quiz.
3. An MDT chair: the meeting's list, a decision recorded with its reason that survives a reload,
   and the consultant's saved case opened from its share link.

Each journey is a sequence of steps (one test each, in file order) on one browser page, so a step
that finds a known defect is marked as such without hiding the steps after it. What the app should
answer for apixaban is read from the knowledge (ASRA 2018 holds, procedures' bleeding-risk class),
not assumed. Screenshots go to test-artifacts/screenshots/ (the README shows copies from
docs/screenshots/). Skipped locally without Chromium; in CI they must run (see tests/browser_app.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from browser_app import (
    ROOT,
    chromium,
    local_url,
    open_page,
    open_tab,
    require_browser,
    seeded_store,
    settled,
    shot,
    streamlit_app,
)
from local_server import free_port

playwright_api = require_browser()

ESI_TF = "Epidural steroid injection, transforaminal, lumbar spine (L4-L5)"
ESI_IL = "Epidural steroid injection, interlaminar, lumbar spine (L4-L5)"
CASE_REFERENCE = "journey-0071"
SAVED_TITLE = "L4-L5 foraminal stenosis on apixaban (journey)"
LAST_DOSE_HOURS = 48
WHAT_IF_HOURS = 130
STATUS_LABELS = {
    "INDICATED",
    "INDICATED WITH CAUTION",
    "NEEDS INFORMATION",
    "DEFERRED",
    "CONTRAINDICATED",
    "NOT INDICATED",
}
EMOJI = re.compile("[\U0001f000-\U0001faff\u2705\u274c\u274e\u2753-\u2755\u2757\u26d4\u2b50]")
"""Characters drawn as emoji: empty boxes on a machine without an emoji font."""
WHAT_IF = "What if… change one answer and see what changes"
JOURNEY: dict[str, Any] = {}
"""What one step leaves for the next (the share link of the consultant's saved case)."""

Page = Any
"""playwright.sync_api.Page (the module is imported only when Playwright is installed)."""


def _apixaban_stop_hours(procedure: str = "esi_transforaminal") -> int:
    """How long apixaban is stopped before the procedure, as the knowledge says (ASRA 2018 row for the
    procedure's bleeding-risk class), so the test checks the app against the knowledge, not a guess."""
    procedures = yaml.safe_load((ROOT / "knowledge" / "procedures.yaml").read_text())["options"]
    risk = next(p for p in procedures if p["id"] == procedure)["bleeding_risk"]["default"]
    drugs = yaml.safe_load((ROOT / "knowledge" / "holds" / "asra_2018.yaml").read_text())["drugs"]
    rows = next(d for d in drugs if d["medication"] == "apixaban")["rows"]
    row = next(r for key, r in rows.items() if risk in key.split("_or_"))
    assert row["action"] == "stop", row
    return int(row["stop_hours"])


# --- the app and the browser -------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`streamlit run` on a store of its own (demo cases seeded, as `make run` does), with the
    settings' UI URL set to where it listens, so the share link it shows is one a browser opens."""
    port = free_port()
    env = {
        "SPINE_CDS_DATABASE_URL": seeded_store(tmp_path_factory.mktemp("journeys")),
        "SPINE_CDS_UI_URL": local_url(port),
    }
    with streamlit_app(env, port=port) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def _new_page(browser: Any) -> Page:
    tab = browser.new_page(viewport={"width": 1400, "height": 1100}, locale="en-US", accept_downloads=True)
    tab.set_default_timeout(60_000)
    return tab


@pytest.fixture(scope="module")
def consultant(browser: Any) -> Page:
    return _new_page(browser)


@pytest.fixture(scope="module")
def registrar(browser: Any) -> Page:
    return _new_page(browser)


@pytest.fixture(scope="module")
def chair(browser: Any) -> Page:
    return _new_page(browser)


# --- how a user works the page: by the labels they read ---------------------------------------


def _settled(page: Page) -> None:
    """Wait until the app's rerun has finished and painted: no "running" status and no element
    still drawn from the run before (Streamlit marks those stale); a step that reads the page
    earlier sees the answer before the one it gave."""
    settled(page, pause=0.5, stale=True)


def _select(page: Page, label: str, option: str, attempts: int = 4, exact: bool = False) -> None:
    """Open the drop-down the question labels, type the option's words and pick it; a rerun that
    lands while the list is open closes it, so the pick is tried again from a settled page."""
    for attempt in range(attempts):
        _settled(page)
        page.get_by_role("combobox", name=label, exact=True).first.click()
        page.keyboard.type(option)
        try:
            offered = page.get_by_role("option", name=option, exact=True) if exact else page.get_by_role("option")
            offered.filter(has_text=option).first.click(timeout=10_000)
        except playwright_api.TimeoutError:
            page.keyboard.press("Escape")
            if attempt == attempts - 1:
                raise
            continue
        _settled(page)
        return


def _radio(page: Page, question: str, answer: str, within: Any = None) -> None:
    _settled(page)
    scope = within if within is not None else page
    scope.locator('[data-testid="stRadio"]').filter(has_text=question).first.get_by_text(answer, exact=True).click()
    _settled(page)


def _type(page: Page, label: str, value: object) -> None:
    """A number or text answer: typed into the box its question labels, confirmed with Enter."""
    _settled(page)
    box = page.get_by_label(label, exact=True).first
    box.fill(str(value))
    box.press("Enter")
    _settled(page)


ROW_HEIGHT = 35
"""Streamlit's table rows and header are this many pixels high."""


def _select_cell(page: Page, table: Any, column: int, row: int) -> None:
    """Select one cell of an editable table as a user does: click the row's first cell (the grid is
    drawn on a canvas, so by position), then move right with the arrow keys."""
    grid = table.locator('[data-testid="stDataFrameResizable"]').first
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    while True:  # the page scrolls smoothly: wait until the table stops moving
        time.sleep(0.3)
        moved, box = box, grid.bounding_box()
        if box == moved:
            break
    x, y = box["x"] + 45, box["y"] + ROW_HEIGHT * (row + 1) + ROW_HEIGHT / 2
    page.mouse.move(x, y)  # the grid takes the pointer first (its toolbar shows), then the click
    time.sleep(0.3)
    page.mouse.click(x, y)
    time.sleep(0.3)
    for _ in range(column - 1):
        page.keyboard.press("ArrowRight")
    time.sleep(0.2)


def _cell(page: Page, table: Any, column: int, row: int, text: str) -> None:
    """Type into one cell of an editable table: select the cell, open its editor, type, confirm."""
    _select_cell(page, table, column, row)
    page.keyboard.press("Enter")
    time.sleep(0.3)
    page.keyboard.type(text)
    time.sleep(0.3)
    page.keyboard.press("Enter")
    _settled(page)  # each edit reruns the app; the next one waits for it


def _tick(page: Page, table: Any, column: int, row: int) -> None:
    _select_cell(page, table, column, row)
    page.keyboard.press("Space")
    _settled(page)


def _table_column(table: Any, header: str) -> int:
    """The column number of a table's column, found by its header's words."""
    found = table.locator('th[role="columnheader"]').filter(has_text=header).first
    return int(found.get_attribute("aria-colindex"))  # the grid counts its row-marker column as 0


def _assess(page: Page) -> None:
    page.get_by_role("button", name="Assess", exact=True).click()
    _settled(page)
    page.get_by_text("Case summary.").first.wait_for()


def _shot_at(page: Page, where: Any, name: str) -> None:
    """A screenshot of the screen that starts at `where` (the part of the page the step is about)."""
    where.first.evaluate("e => e.scrollIntoView({block: 'start'})")
    shot(page, name)


def _body(page: Page) -> str:
    return str(page.inner_text("body"))


def _status(page: Page, title: str) -> str:
    """A candidate's status as its card shows it (the label before the candidate's title)."""
    labels = "INDICATED WITH CAUTION|NEEDS INFORMATION|NOT INDICATED|CONTRAINDICATED|DEFERRED|INDICATED"
    found = re.search(rf"({labels})\s+{re.escape(title)}", _body(page))
    assert found, f"no card for {title}"
    return found.group(1)


def _needs_information(page: Page) -> Any:
    return page.locator('[data-testid="stVerticalBlock"]').filter(
        has=page.get_by_text("Needs information before a decision", exact=True)
    )


def _box_text(page: Page) -> str:
    box = _needs_information(page)
    return str(box.last.inner_text()) if box.count() else ""


def _expand(page: Page, title: str) -> None:
    """Open an expander by its title (its summary line; a sidebar link may carry the same words)."""
    page.locator("summary").filter(has_text=title).first.click()
    _settled(page)


# --- 1. the pain consultant: a new patient in the case form ------------------------------------


def _the_new_patient(page: Page) -> None:
    """The issue's patient, answered as a consultant would, except osteoporosis (asked later)."""
    _settled(page)
    page.get_by_role("button", name="None of these", exact=False).first.click()  # red flags asked first
    _settled(page)
    _type(page, "Case reference for this assessment (no name, NHS number or other identifier)?", CASE_REFERENCE)
    _type(page, "How old is the patient?", 71)
    _select(page, "What is the patient's sex?", "Male")
    page.get_by_text("Is the patient pregnant?").wait_for(state="detached", timeout=15_000)  # not for a man
    _select(page, "What is the diagnosis?", "Spinal stenosis")
    _select(page, "Which region of the spine (or limb) is affected?", "Lumbar spine")
    _select(
        page, "What type is it (for stenosis central, foraminal or lateral recess; for CRPS type 1 or 2)?", "Foraminal"
    )
    _type(page, "At which level or levels (e.g. L4-L5, L5-S1)?", "L4-L5")
    _select(page, "On which side?", "Left")
    _radio(page, "Has the patient had surgery or radiotherapy at the site to be injected?", "No")
    _select(page, "Is the pain axial, radicular, mixed, or regional in a limb?", "Radicular")
    _type(page, "How many weeks ago did the symptoms begin?", 12)
    _type(page, "How bad is the pain on a 0-10 scale?", 7)
    _type(page, "For how many weeks has conservative care (physiotherapy, exercise, analgesia) been tried?", 8)
    _radio(page, "Has conservative care failed to give enough relief?", "Yes")
    _radio(page, "Imaging", "Listed")
    scans = page.locator(".st-key-f_imaging_table")
    scans.locator('th[role="columnheader"]').first.wait_for(state="attached")
    scan_date = (dt.date.today() - dt.timedelta(days=60)).strftime("%m/%d/%Y")  # en-US date entry
    _cell(page, scans, 1, 0, "mri")
    _cell(page, scans, 2, 0, scan_date)
    _tick(page, scans, 3, 0)
    _settled(page)
    _type(page, "What is the latest INR?", 1.0)
    _type(page, "What is the latest platelet count?", 250)
    for question in (
        "Does the patient have an active infection (systemic or at the injection site)?",
        "Is there an infection at the injection site?",
        "Does the patient have a bleeding disorder?",
        "Does the patient have a spinal tumour or cancer?",
        "Does the patient have severe kidney disease?",
        "Does the patient have severe liver disease?",
        "Is the patient's renal function impaired (to any degree)?",
    ):
        _radio(page, question, "No")
    _select(page, "Does the patient have diabetes, and is it controlled?", "Not present")
    _select(page, "Does the patient have heart failure, and is it controlled?", "Not present")
    _radio(page, "Is the patient allergic to contrast, corticosteroid, local anaesthetic or latex?", "None")
    _radio(page, "Earlier injections", "None")


def test_the_consultant_enters_a_new_patient_and_an_empty_listed_medication_table_is_asked_not_read_as_none(
    consultant: Page, app_url: str
) -> None:
    page = consultant
    open_page(page, app_url)
    open_tab(page, "Case form")
    _the_new_patient(page)
    _radio(page, "Medication history", "Listed")
    # the table and what an empty one means are there at once, before Assess
    page.locator(".st-key-f_medications_table").wait_for()
    page.get_by_text("No rows yet: the medication list is treated as not yet known").wait_for()
    _shot_at(page, page.get_by_text("Imaging", exact=True), "consultant-listed-table")
    _assess(page)
    assert _status(page, ESI_TF) != "INDICATED WITH CAUTION"
    assert _status(page, ESI_IL) != "INDICATED WITH CAUTION"
    assert _status(page, ESI_TF) not in {"INDICATED", "INDICATED WITH CAUTION"}
    box = _box_text(page)
    assert "Does the patient take any medicines" in box, box[:600]
    _shot_at(page, page.get_by_text("Case summary."), "consultant-listed-but-empty")


def test_apixaban_48_hours_ago_defers_the_epidurals_as_the_asra_2018_hold_says(consultant: Page) -> None:
    page = consultant
    stop_hours = _apixaban_stop_hours()
    assert stop_hours > LAST_DOSE_HOURS  # the knowledge says: not yet stopped long enough
    medicines = page.locator(".st-key-f_medications_table")
    medicines.scroll_into_view_if_needed()
    _cell(page, medicines, _table_column(medicines, "Name"), 0, "apixaban")
    _cell(page, medicines, _table_column(medicines, "Hours since the last dose"), 0, str(LAST_DOSE_HOURS))
    _settled(page)
    assert "No rows yet: the medication list" not in _body(page)
    _assess(page)
    body = _body(page)
    assert "Does the patient take any medicines" not in _box_text(page)
    for title in (ESI_TF, ESI_IL):
        assert _status(page, title) == "DEFERRED", title
    assert re.search(rf"Apixaban [^.]*\b{stop_hours} hours", body), "the hold is not named with its hours"
    _shot_at(page, page.get_by_text("Case summary."), "consultant-apixaban-deferred")


def test_an_answer_given_in_place_is_kept_and_its_question_does_not_come_back(consultant: Page) -> None:
    page = consultant
    question = "Does the patient have osteoporosis?"
    assert question in _box_text(page)
    _radio(page, question, "No", within=_needs_information(page).last)
    page.get_by_role("button", name="Re-assess with these answers").click()
    _settled(page)
    page.get_by_text("Case summary.").first.wait_for()
    assert question not in _box_text(page)
    _assess(page)  # the form's Assess keeps the answer given in the box
    assert question not in _box_text(page)
    assert _status(page, ESI_TF) == "DEFERRED"


def test_what_if_the_last_apixaban_dose_were_130_hours_ago_says_the_change_in_words(consultant: Page) -> None:
    page = consultant
    assert _apixaban_stop_hours() <= WHAT_IF_HOURS  # the knowledge says: stopped long enough
    _expand(page, WHAT_IF)
    page.get_by_role("combobox", name="Answer to change", exact=True).click()
    page.keyboard.type("last dose")  # the list is long and drawn as it scrolls: ask it for the words
    time.sleep(0.5)
    offered = [str(o.inner_text()) for o in page.get_by_role("option").all()]
    last_dose = [o for o in offered if "last dose" in o.lower() and "apixaban" in o.lower()]
    page.keyboard.press("Escape")
    _settled(page)
    assert last_dose, "what-if offers no way to change the recorded apixaban's last dose"
    _select(page, "Answer to change", last_dose[0])
    _type(page, "How many hours ago was the last dose taken?", WHAT_IF_HOURS)
    words = str(page.locator('[data-testid="stExpander"]').filter(has_text=WHAT_IF).first.inner_text())
    _shot_at(page, page.locator("summary").filter(has_text=WHAT_IF), "consultant-what-if")
    assert f"{ESI_TF}: DEFERRED → INDICATED" in words, words  # DEFERRED → INDICATED (WITH CAUTION)
    no_longer = words[words.index("Rules no longer met") :]
    assert f"Apixaban is stopped at least {_apixaban_stop_hours()} hours" in no_longer, words  # in its words


def test_the_case_summary_is_at_the_top_and_the_policies_are_side_by_side(consultant: Page) -> None:
    page = consultant
    body = _body(page)
    summary = body.index("Case summary.")
    if "Needs information before a decision" in body:
        assert summary < body.index("Needs information before a decision")
    assert summary < body.index(ESI_TF)
    words = body[summary : summary + 1200]
    assert "71-year-old man" in words and "L4-L5" in words
    assert "apixaban" in words.lower() and str(LAST_DOSE_HOURS) in words
    _expand(page, "Policies side by side")
    table = page.locator('[data-testid="stTable"]').filter(has_text=ESI_TF).first
    table.wait_for()
    text = str(table.inner_text())
    assert "Clinic" in text and "NICE" in text
    assert not re.search(r"\b(indicated_with_caution|needs_information|not_indicated)\b", text), text
    assert "DEFERRED" in text.upper()
    _shot_at(page, page.locator("summary").filter(has_text="Policies side by side"), "consultant-policies")


def test_the_letter_downloads_as_a_pdf_named_for_the_case(consultant: Page) -> None:
    page = consultant
    with page.expect_download() as waiting:
        page.get_by_role("button", name="Report as PDF").click()
    download = waiting.value
    assert download.suggested_filename == f"{CASE_REFERENCE}.pdf"
    content = Path(download.path()).read_bytes()
    assert content.startswith(b"%PDF-")
    pypdf = pytest.importorskip("pypdf")
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(content)).pages)
    assert "apixaban" in text.lower() and "71" in text
    assert "does not make" in text  # "supports, and does not make, a decision"


def test_the_patient_information_sheet_opens_for_the_chosen_epidural(consultant: Page, app_url: str) -> None:
    page = consultant
    _expand(page, "Patient information sheet")
    _select(page, "Procedure the sheet is for", "transforaminal")
    page.get_by_role("link", name="Open the sheet to print").click()
    _settled(page)
    page.get_by_role("button", name="Download as PDF").wait_for()
    body = _body(page)
    assert "Transforaminal" in body or "transforaminal" in body
    assert "apixaban" in body.lower()
    assert not EMOJI.search(body)
    shot(page, "consultant-patient-sheet")
    page.get_by_role("link", name="Assess a case").click()  # back to the case, answers kept
    _settled(page)
    page.get_by_text("Case summary.").first.wait_for()


def test_the_consultant_saves_to_the_mdt_list_and_gets_a_full_share_link(consultant: Page, app_url: str) -> None:
    page = consultant
    _type(page, "Title for the MDT list", SAVED_TITLE)
    page.get_by_role("button", name="Save to the MDT list").click()
    _settled(page)
    page.get_by_text("Shareable link").first.wait_for()
    found = re.search(rf"{re.escape(app_url)}/\?case=[\w-]+", _body(page))
    assert found, "the share link is not a full link to this app"
    JOURNEY["share_link"] = found.group(0)
    assert page.get_by_role("button", name="Save again (new version)").count() == 1
    _shot_at(page, page.get_by_role("button", name="Report as PDF"), "consultant-saved")


# --- 2. the registrar on the trainee pages -----------------------------------------------------


def _rule_ids() -> set[str]:
    from decision import default_evaluator

    return set(default_evaluator().knowledge.rule_index)


def _table_rows(table: Any) -> list[dict[str, str]]:
    """A static table's rows (st.table) by its column headers, the index column included."""
    headers = [str(h).strip() for h in table.locator("thead th").all_inner_texts()]
    rows = []
    for row in table.locator("tbody tr").all():
        cells = [str(c).strip() for c in row.locator("th, td").all_inner_texts()]
        rows.append(dict(zip(headers, cells, strict=False)))
    return rows


def test_the_registrar_reads_the_indications_matrix_in_words(registrar: Page, app_url: str) -> None:
    page = registrar
    open_page(page, f"{app_url}/matrix", "Trainee: which procedure for which condition")
    _settled(page)
    table = page.locator('[data-testid="stTable"]').first
    table.locator("tbody tr").first.wait_for()
    headers = [str(h).strip() for h in table.locator("thead th").all_inner_texts()]
    rows = _table_rows(table)
    cells = [cell for row in rows for column, cell in row.items() if column != headers[0]]
    shot(page, "registrar-matrix")
    assert not EMOJI.search(_body(page))
    shown_ids = sorted({part.strip() for cell in cells for part in re.split("[,;]", cell)} & _rule_ids())
    assert not shown_ids, f"rule ids as the cells' text: {shown_ids[:3]}"
    assert any(cell for cell in cells), "the matrix is empty"
    assert "Spinal stenosis" in [row[headers[0]] for row in rows]
    raw = [h for h in headers if re.fullmatch(r"[a-z]+(_[a-z]+)+", h)]
    assert not raw, f"ids as column headers: {raw}"


def test_the_registrar_reads_a_rule_with_its_sources(registrar: Page, app_url: str) -> None:
    page = registrar
    open_page(page, f"{app_url}/rules?rule=hold.apixaban.intermediate_high", "Trainee: rules and their sources")
    stop_hours = _apixaban_stop_hours()
    page.get_by_text(f"Apixaban is stopped at least {stop_hours} hours").first.wait_for()
    body = _body(page)
    assert "antiplatelet and anticoagulant medications" in body  # the ASRA guideline, by its title
    assert not EMOJI.search(body)


def test_the_registrar_answers_every_quiz_candidate_and_sees_the_engines_answer_beside_theirs(
    registrar: Page, app_url: str
) -> None:
    page = registrar
    open_page(page, f"{app_url}/quiz", "Trainee: quiz")
    _settled(page)
    form = page.locator('[data-testid="stForm"]').first
    questions = form.get_by_role("combobox").all()
    assert questions, "the quiz asks nothing"
    labels = [str(q.get_attribute("aria-label")) for q in questions]
    chosen = {}
    for number, label in enumerate(labels):
        chosen[label] = ["DEFERRED", "INDICATED"][number % 2]  # every candidate answered
        _select(page, label, chosen[label], exact=True)
    page.get_by_role("button", name="Check my answers").click()
    _settled(page)
    page.get_by_text(re.compile(r"\d+ of \d+ right")).first.wait_for()
    body = _body(page)
    _shot_at(page, page.get_by_text(re.compile(r"\d+ of \d+ right")), "registrar-quiz")
    assert not EMOJI.search(body), EMOJI.findall(body)[:3]
    marked = _table_rows(page.locator('[data-testid="stTable"]').filter(has_text="Your answer").first)
    assert [row["Procedure"] for row in marked] == labels  # every candidate, in the order asked
    for row in marked:
        assert row["Your answer"] == chosen[row["Procedure"]], row  # the learner's answer ...
        assert row["Engine"] in STATUS_LABELS, row  # ... beside the engine's, in words
        assert row["Mark"] and not EMOJI.search(row["Mark"]), row  # marked in text
    right = {row["Mark"] for row in marked if row["Your answer"] == row["Engine"]}
    wrong = {row["Mark"] for row in marked if row["Your answer"] != row["Engine"]}
    assert len(right) <= 1 and len(wrong) <= 1 and not right & wrong, marked  # one mark for each
    score = re.search(r"(\d+) of (\d+) right", body)
    assert score and score.groups() == (str(sum(r["Your answer"] == r["Engine"] for r in marked)), str(len(marked)))


# --- 3. the MDT chair ----------------------------------------------------------------------------


def _grid_rows(grid: Any) -> list[dict[str, str]]:
    """A read-only table's rows as the page shows them, by column header."""
    headers = [str(h).strip() for h in grid.locator('th[role="columnheader"]').all_inner_texts()]
    rows = []
    for row in grid.locator('tbody tr[role="row"]').all():
        cells = [str(c).strip() for c in row.locator('td[role="gridcell"]').all_inner_texts()]
        rows.append(dict(zip(headers[-len(cells) :], cells, strict=False)))
    return rows


def _open_mdt(page: Page, app_url: str) -> Any:
    open_page(page, f"{app_url}/mdt", "MDT: review cases")
    _settled(page)
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.locator('th[role="columnheader"]').first.wait_for(state="attached")
    return grid


def test_the_chair_sees_real_cases_only_until_demo_cases_are_asked_for_red_flags_first(
    chair: Page, app_url: str
) -> None:
    if "share_link" not in JOURNEY:
        pytest.skip("the consultant's journey did not save the case")
    page = chair
    grid = _open_mdt(page, app_url)
    rows = _grid_rows(grid)
    assert [r.get("Case") for r in rows] == [SAVED_TITLE], rows
    page.get_by_text("Demo cases too").click()
    _settled(page)
    time.sleep(1.0)
    shown = _grid_rows(page.locator('[data-testid="stDataFrame"]').first)  # the rows in view
    assert shown and shown[0].get("Engine") == "RED FLAG", shown[:2]
    with page.expect_download() as waiting:  # the whole list, in the meeting's order
        page.get_by_role("button", name="Meeting list (CSV)").click()
    listed = list(csv.DictReader(io.StringIO(Path(waiting.value.path()).read_text())))
    assert len(listed) > 1 and SAVED_TITLE in [row["title"] for row in listed]
    flagged = [row["red_flag"] == "yes" for row in listed]
    assert any(flagged) and flagged == sorted(flagged, reverse=True), flagged  # red flags first
    assert all(row["engine"] == "RED FLAG" for row in listed if row["red_flag"] == "yes")
    words = [row["engine"] for row in listed]
    assert not [w for w in words if w not in STATUS_LABELS | {"RED FLAG"}], words  # words, not ids
    shot(page, "chair-list")


def test_the_chair_records_a_decision_with_a_reason_and_finds_it_after_a_reload(chair: Page, app_url: str) -> None:
    if "share_link" not in JOURNEY:
        pytest.skip("the consultant's journey did not save the case")
    page = chair
    _open_mdt(page, app_url)
    _select(page, "Open a case", SAVED_TITLE)
    page.get_by_text("The meeting's decision").wait_for()
    chosen = page.get_by_role("combobox", name="Chosen procedure", exact=True)
    shown = str(page.locator('[data-testid="stSelectbox"]').filter(has=chosen).first.inner_text())
    shown += " " + str(chosen.get_attribute("placeholder") or "") + " " + str(chosen.input_value())
    assert "Choose the meeting's decision" in shown, shown  # nothing preselected: the placeholder shows
    assert not any(label in shown for label in STATUS_LABELS), shown
    body = _body(page)
    assert "71-year-old man" in body  # the case itself, not only the engine's report
    _select(page, "Chosen procedure", "Epidural steroid injection, transforaminal")
    reason = "Go ahead once apixaban has been stopped as the guideline says; plan agreed with the prescriber"
    reason_box = page.get_by_label("Override reason (required when the decision differs from the engine's)")
    reason_box.fill(reason)
    page.get_by_role("button", name="Record decision").click()
    _settled(page)
    page.get_by_text(f"Recorded: {ESI_TF}").wait_for()
    page.reload()
    grid = _open_mdt(page, app_url)
    row = next(r for r in _grid_rows(grid) if r.get("Case") == SAVED_TITLE)
    assert row.get("Decision") == ESI_TF, row
    _select(page, "Open a case", SAVED_TITLE)
    page.get_by_text("decision recorded").first.wait_for()
    assert reason in _body(page)
    shot(page, "chair-decision")


def test_the_chair_opens_the_consultants_share_link_and_sees_the_case_summary(browser: Any) -> None:
    if "share_link" not in JOURNEY:
        pytest.skip("the consultant's journey did not save the case")
    page = _new_page(browser)
    page.goto(JOURNEY["share_link"])
    page.get_by_text("Case summary.").first.wait_for()
    body = _body(page)
    assert "71-year-old man" in body and "apixaban" in body.lower()
    assert _status(page, ESI_TF) == "DEFERRED"
    _shot_at(page, page.get_by_text("Case summary."), "chair-shared-case")
    page.close()
