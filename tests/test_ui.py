"""The Streamlit app renders and shows the engine's answer (AppTest, no browser)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "ui" / "app.py")


def _text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_the_clinician_page_shows_cards_for_a_demo_case() -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    at.selectbox[0].set_value("esi-lumbar-radicular-indicated").run()
    assert not at.exception
    text = _text(at)
    assert "**INDICATED**] Epidural steroid injection, transforaminal, lumbar spine (L4-L5)" in text
    assert "esi.disc_radicular" in text


def test_a_red_flag_case_shows_the_red_flag_first() -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.selectbox[0].set_value("red-flag-cauda-equina").run()
    assert at.error and "RED FLAG" in at.error[0].value


def test_pasted_invalid_json_gives_a_clear_error_not_a_traceback() -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.radio[0].set_value("Paste JSON").run()
    at.text_area[0].set_value('{"age": "fifty"}').run()
    assert not at.exception
    assert at.error and "age: Input should be a valid number" in at.error[0].value


def test_the_rules_page_lists_rules_with_sources() -> None:
    def page() -> None:
        from ui.pages import rules_page

        rules_page()

    at = AppTest.from_function(page, default_timeout=60).run()
    assert not at.exception
    at.selectbox[0].set_value("antithrombotics").run()
    assert any("hold.apixaban" in e.label for e in at.expander)
    assert "asra_2018#doacs" in _text(at)
