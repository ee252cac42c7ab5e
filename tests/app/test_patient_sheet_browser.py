"""The patient information sheet in a real browser (issue 15, item 8): the consultant prepares the
sheet for the chosen procedure on the Assess page and opens it on its own page to print."""

from __future__ import annotations

from browser_app import choose, open_page, require_browser, settled, shot

require_browser()


def test_the_consultant_prepares_a_patient_sheet_and_opens_it_to_print(page: object, app_url: str) -> None:
    open_page(page, app_url)
    choose(page, "Demo case", "caution-controlled-diabetes")
    page.get_by_text("Case summary.").first.wait_for()  # type: ignore[attr-defined]
    page.get_by_text("Prepare a patient information sheet").click()  # type: ignore[attr-defined]
    settled(page)
    page.get_by_text("Open the sheet to print").click()  # type: ignore[attr-defined]
    page.get_by_text("Before your spinal injection: epidural steroid injection").first.wait_for()  # type: ignore[attr-defined]
    body = page.inner_text("body")  # type: ignore[attr-defined]
    assert "You have diabetes: the steroid can raise your blood sugar for 1-2 weeks" in body
    assert "Do not drive for 24 hours, and have someone to take you home." in body
    assert "Source: Nerve Root Injection: What You Need To Know" in body
    shot(page, "patient-sheet")
    page.emulate_media(media="print")  # type: ignore[attr-defined]
    assert not page.locator('[data-testid="stSidebar"]').is_visible()  # type: ignore[attr-defined]
    assert page.get_by_text("Afterwards", exact=True).is_visible()  # type: ignore[attr-defined]
