"""End to end in a real browser: Playwright drives Debian's Chromium against `streamlit run`.

Screenshots of each role's page are saved to test-artifacts/screenshots/ (the README shows them).
Locally without Chromium the tests are skipped with the reason; in CI (CI set) they must run.
"""

from __future__ import annotations

from browser_app import choose, open_page, open_tab, require_browser, settled, shot

require_browser()


def test_a_clinician_assesses_a_demo_case_in_the_browser(page: object, app_url: str) -> None:
    open_page(page, app_url)
    choose(page, "Demo case", "esi-lumbar-radicular-indicated")
    page.get_by_text("Epidural steroid injection, transforaminal, lumbar spine (L4-L5)").first.wait_for()  # type: ignore[attr-defined]
    body = page.inner_text("body")  # type: ignore[attr-defined]
    assert "INDICATED" in body and "NOT INDICATED" in body
    assert "esi.disc_radicular" not in body  # reasons cite their sources by title; ids behind the toggle
    page.get_by_text("Sources: show rule and source ids").first.click()  # type: ignore[attr-defined]
    settled(page)
    page.get_by_text("esi.disc_radicular").first.wait_for()  # type: ignore[attr-defined]
    shot(page, "clinician")


def test_a_red_flag_case_shows_the_red_flag(page: object, app_url: str) -> None:
    open_page(page, app_url)
    choose(page, "Demo case", "red-flag-cauda-equina")
    page.get_by_text("RED FLAG", exact=True).first.wait_for()  # type: ignore[attr-defined]
    assert "refer for emergency assessment" in page.inner_text("body")  # type: ignore[attr-defined]


def test_choosing_listed_shows_the_medication_table_at_once(page: object, app_url: str) -> None:
    open_page(page, app_url)
    open_tab(page, "Case form")
    history = page.locator('[data-testid="stRadio"]').filter(has_text="Medication history")  # type: ignore[attr-defined]
    history.get_by_text("Listed", exact=True).click()
    # no Assess: the table and what an empty one means are on the page straight away
    page.get_by_text("No rows yet: the medication list is treated as not yet known").wait_for(timeout=15_000)  # type: ignore[attr-defined]
    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=15_000)  # type: ignore[attr-defined]


def test_a_trainee_sees_the_matrix_and_the_rules(page: object, app_url: str) -> None:
    open_page(page, f"{app_url}/matrix", "Trainee: which procedure for which condition")
    choose(page, "Open a cell", "Herniated disc with radiculopathy (sciatica) × Epidural")
    page.get_by_text("Epidural steroid injection for radicular pain from a herniated disc").first.wait_for()  # type: ignore[attr-defined]
    shot(page, "trainee")
    page.goto(f"{app_url}/rules?rule=hold.apixaban.intermediate_high")  # type: ignore[attr-defined]
    page.get_by_text("Apixaban is stopped at least 120 hours").first.wait_for()  # type: ignore[attr-defined]


def test_the_mdt_records_a_decision_that_survives_a_reload(page: object, app_url: str) -> None:
    open_page(page, f"{app_url}/mdt", "MDT: review cases")
    page.get_by_text("Demo cases too").click()  # type: ignore[attr-defined]  # the list shows real cases only
    choose(page, "Open a case", "(esi-lumbar-radicular-indicated)")
    page.get_by_text("The meeting's decision").first.wait_for()  # type: ignore[attr-defined]  # a rerun may briefly show the stale copy too
    page.get_by_text("The meeting chooses", exact=False).first.wait_for()  # type: ignore[attr-defined]  # no default
    choose(page, "Chosen procedure", "Epidural steroid injection, transforaminal")
    page.get_by_text("Decided by: local user, not authenticated (from the sign-in)").wait_for()  # type: ignore[attr-defined]
    page.get_by_role("button", name="Record decision").click()  # type: ignore[attr-defined]
    page.get_by_text(  # type: ignore[attr-defined]
        "Recorded: Epidural steroid injection, transforaminal, lumbar spine (L4-L5) by local user, not authenticated"
    ).wait_for()
    page.reload()  # type: ignore[attr-defined]
    page.get_by_text("MDT: review cases").wait_for()  # type: ignore[attr-defined]
    page.get_by_text("Demo cases too").click()  # type: ignore[attr-defined]
    choose(page, "Open a case", "(esi-lumbar-radicular-indicated)")
    page.get_by_role("cell", name="local user, not authenticated").first.wait_for()  # type: ignore[attr-defined]
    assert "decision recorded" in page.inner_text("body")  # type: ignore[attr-defined]
    shot(page, "mdt")
