"""The clinician page's input tabs are lazy (only the open one is drawn): AppTest opens the case form
as a click would, by setting the tabs' state, so tests reach the form's widgets."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from ui.clinician import FORM_TAB, INPUT_TABS


def open_tab(at: AppTest, tab: str) -> AppTest:
    """The page rerun with `tab` open ("Demo case", "Case form", "Paste or upload JSON")."""
    at.session_state[INPUT_TABS] = tab
    return at.run()


def open_form(at: AppTest) -> AppTest:
    """The page rerun with the case form open."""
    return open_tab(at, FORM_TAB)
