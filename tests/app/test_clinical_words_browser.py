"""Clinical words in a real browser (issue 15, item 3): Playwright drives Chromium.

The consultant's form opens with the red-flag questions, "None of these" answers them all "no",
pregnancy is not asked once the patient is a man, and the report names its sources by title with
the ids behind the "Sources" toggle.
"""

from __future__ import annotations

from browser_app import open_page, open_tab, require_browser, settled, shot
from test_answers_browser import _keyed, _pick

require_browser()

CAUDA = "Are there signs of cauda equina syndrome"


def _top(locator: object) -> float:
    box = locator.bounding_box()  # type: ignore[attr-defined]
    assert box is not None
    return float(box["y"])


def test_the_form_opens_with_the_red_flags_and_none_of_these_answers_them_no(page: object, app_url: str) -> None:
    open_page(page, app_url)
    open_tab(page, "Case form")
    heading = page.get_by_text("Red flags: does the patient have any of these?")  # type: ignore[attr-defined]
    cauda, age = page.get_by_text(CAUDA).first, page.get_by_text("How old is the patient?")  # type: ignore[attr-defined]
    age.wait_for(timeout=30_000)
    assert _top(heading) < _top(cauda) < _top(age)  # the red flags first, above the patient's own questions
    _keyed(page, "f_red_flags_none").get_by_role("button").click()  # type: ignore[attr-defined]
    settled(page)
    cauda = _keyed(page, "f_symptoms.cauda_equina_signs")
    no = cauda.get_by_role("radio", name="No", exact=True)  # type: ignore[attr-defined]
    page.wait_for_function("e => e.checked", arg=no.element_handle(), timeout=15_000)  # type: ignore[attr-defined]
    _pick(page, "f_sex", "Male")
    _keyed(page, "f_pregnant").wait_for(state="detached", timeout=15_000)  # type: ignore[attr-defined]
    assert "Is the patient pregnant?" not in page.inner_text("body")  # type: ignore[attr-defined]
    _keyed(page, "f_red_flags_none").scroll_into_view_if_needed()  # type: ignore[attr-defined]
    shot(page, "clinician-red-flags-first")


def test_the_report_names_sources_by_title_and_the_toggle_shows_the_ids(page: object, app_url: str) -> None:
    open_page(page, app_url)
    _pick(page, "demo_choice", "esi-lumbar-radicular-indicated")
    page.get_by_text("Medicare LCD L39240").first.wait_for(timeout=30_000)  # type: ignore[attr-defined]
    assert "cms_l39240#indications" not in page.inner_text("body")  # type: ignore[attr-defined]
    _keyed(page, "report_source_ids").get_by_text("Sources: show rule and source ids").click()  # type: ignore[attr-defined]
    page.get_by_text("cms_l39240#indications").first.wait_for(timeout=15_000)  # type: ignore[attr-defined]
