"""The "listed but empty" journey in a real browser (issue 15, item 1): Playwright drives Chromium.

A consultant marks the medication and imaging histories "Listed": both tables appear at once,
before Assess; assessed with the tables left empty, the lists are asked, never read as "none".
"""

from __future__ import annotations

from browser_app import open_page, open_tab, require_browser, settled, shot

require_browser()


def _keyed(tab: object, key: str) -> object:
    """A widget found by its key (streamlit's class for it: other characters become "-")."""
    return tab.locator(".st-key-" + "".join(c if c.isalnum() or c in "_-" else "-" for c in key))  # type: ignore[attr-defined]


def _listed(tab: object, key: str) -> None:
    """Choose "Listed" on one list's history question."""
    _keyed(tab, key).get_by_text("Listed", exact=True).click()  # type: ignore[attr-defined]
    settled(tab)


def _pick(tab: object, key: str, typed: str) -> None:
    """Choose a selectbox's option by typing the start of its label."""
    settled(tab)
    _keyed(tab, key).get_by_role("combobox").click()  # type: ignore[attr-defined]
    tab.keyboard.type(typed)  # type: ignore[attr-defined]
    tab.get_by_role("option").filter(has_text=typed).first.click(timeout=15_000)  # type: ignore[attr-defined]
    settled(tab)


def test_listed_but_empty_lists_show_their_tables_at_once_and_are_asked_after_assess(
    page: object, app_url: str
) -> None:
    open_page(page, app_url)
    open_tab(page, "Case form")
    _pick(page, "f_diagnoses.condition", "Herniated disc")
    _pick(page, "f_diagnoses.region", "Lumbar")
    _listed(page, "f_medications_taken")
    _listed(page, "f_imaging_taken")
    # no Assess yet: both tables are on the page, each saying an empty table is not "none"
    tables = page.locator('[data-testid="stDataFrame"]')  # type: ignore[attr-defined]
    tables.nth(1).wait_for(timeout=15_000)
    page.get_by_text("No rows yet: the medication list is treated as not yet known").wait_for()  # type: ignore[attr-defined]
    page.get_by_text("No rows yet: the imaging list is treated as not yet known").wait_for()  # type: ignore[attr-defined]
    page.locator(".st-key-f_assess").get_by_role("button").click()  # type: ignore[attr-defined]
    settled(page)
    box = page.get_by_text("Needs information before a decision")  # type: ignore[attr-defined]
    box.wait_for(timeout=30_000)
    # the needs-information box asks both lists again, as the form asks them
    page.locator(".st-key-answer_medications_taken").wait_for()  # type: ignore[attr-defined]
    page.locator(".st-key-answer_imaging_taken").wait_for()  # type: ignore[attr-defined]
    body = page.inner_text("body")  # type: ignore[attr-defined]
    assert "INDICATED WITH CAUTION" not in body
    page.locator(".st-key-answer_medications_taken").scroll_into_view_if_needed()  # type: ignore[attr-defined]
    shot(page, "clinician-listed-but-empty")


def test_what_is_typed_in_the_form_is_still_there_after_another_tab_is_opened(page: object, app_url: str) -> None:
    """The input tabs draw only the open one; the form's answers and a typed table row are kept."""
    from test_journeys import _cell, _grid_rows, _table_column, _type

    open_page(page, app_url)
    open_tab(page, "Case form")
    _type(page, "How old is the patient?", 71)  # type: ignore[arg-type]
    _listed(page, "f_medications_taken")
    medicines = page.locator(".st-key-f_medications_table")  # type: ignore[attr-defined]
    medicines.locator('th[role="columnheader"]').first.wait_for(state="attached")
    _cell(page, medicines, _table_column(medicines, "Name"), 0, "apixaban")  # type: ignore[arg-type]
    open_tab(page, "Demo case")
    medicines.wait_for(state="detached", timeout=15_000)  # the closed form is not drawn
    open_tab(page, "Case form")
    age = page.get_by_label("How old is the patient?", exact=True).first  # type: ignore[attr-defined]
    assert float(age.input_value()) == 71  # shown as the widget formats it (71.00)
    medicines.locator('th[role="columnheader"]').first.wait_for(state="attached")
    assert _grid_rows(medicines)[0]["Name"] == "apixaban"
