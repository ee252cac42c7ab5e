"""The patient information sheet: chosen on the Assess page, downloaded as PDF or shown on a page
of its own that prints cleanly (the browser's Print leaves out the app's menus and buttons).

The sheet itself is `decision.patient_sheet`; this module only offers the choice and draws it.
"""

from __future__ import annotations

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from decision.explain import candidate_title
from decision.letter import Document, document_markdown, status_words
from decision.patient_sheet import NoPatientInformation, patient_sheet
from decision.report import Report
from ui.components import evaluator
from ui.export import document_pdf
from ui.identity import require_role

SHEET = "patient_sheet_document"
"""The sheet last prepared on the Assess page, for the print-friendly page."""
UNSUITABLE = frozenset({"not_indicated", "contraindicated"})
"""Statuses under which no sheet is offered: the procedure is not one to prepare a patient for."""
PRINT_STYLE = """<style>
@media print {
  [data-testid="stSidebar"], [data-testid="stHeader"], [data-testid="stToolbar"],
  [data-testid="stDecoration"], .stButton, .stDownloadButton { display: none !important; }
  .block-container { padding: 0 !important; max-width: 100% !important; }
}
</style>"""


def forget_sheet() -> None:
    """The print page shows the sheet last prepared: drop it when it is not this patient's."""
    for key in (SHEET, "patient_sheet_choice"):
        st.session_state.pop(key, None)


def patient_sheet_section(report: Report) -> None:
    """On the Assess page: choose the procedure, then download the sheet or open it to print."""
    choices = {c.key: c for c in report.candidates if c.status not in UNSUITABLE}
    with st.expander("Prepare a patient information sheet"):
        if not choices:
            forget_sheet()
            st.info("No procedure in this report is one to prepare the patient for, so there is no sheet to give.")
            return
        key = st.selectbox(
            "Procedure the sheet is for",
            list(choices),
            key="patient_sheet_choice",
            format_func=lambda k: f"{candidate_title(choices[k])} ({status_words(choices[k].status)})",
        )
        try:
            sheet = patient_sheet(report, key, evaluator().knowledge)
        except NoPatientInformation as exc:
            st.session_state.pop(SHEET, None)
            st.warning(f"No sheet: {exc}.")
            return
        st.session_state[SHEET] = sheet
        cols = st.columns(2)
        with cols[0]:
            st.download_button(
                "Patient sheet as PDF",
                lambda: document_pdf(sheet),  # laid out on the click: a PDF takes most of a second
                file_name="patient-information.pdf",
                mime="application/pdf",
            )
        with cols[1]:
            st.page_link(sheet_page(), label="Open the sheet to print")


def _show(sheet: Document) -> None:
    st.markdown(PRINT_STYLE, unsafe_allow_html=True)  # a fixed style sheet, no record text
    st.markdown(document_markdown(sheet))  # every text in it escaped by document_markdown


def patient_sheet_page() -> None:
    """The sheet alone, laid out to print (the browser's Print, or the PDF download)."""
    require_role("clinician")
    sheet = st.session_state.get(SHEET)
    if not isinstance(sheet, Document):
        st.info(
            "Prepare a sheet first: on *Assess a case*, open *Prepare a patient information sheet* and choose the procedure."
        )
        return
    st.download_button(
        "Download as PDF", lambda: document_pdf(sheet), file_name="patient-information.pdf", mime="application/pdf"
    )
    _show(sheet)


def sheet_page() -> StreamlitPage:
    """The page, for the navigation (under Clinician) and the Assess page's link to it; made in
    each run, as streamlit builds a page from the run it is made in."""
    return st.Page(patient_sheet_page, title="Patient information sheet", url_path="patient-sheet")
