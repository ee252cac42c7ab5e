"""Clinician: assess a case, answer what is missing, ask "what if", save, share and export."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import streamlit as st
import yaml

from decision.case_summary import case_summary
from decision.evaluator import InvalidCase
from decision.fhir import FhirInputError, case_from_bundle
from decision.letter import clinical_letter, document_markdown
from decision.report import Report
from ui.case_answers import CaseAnswers
from ui.case_form import case_form
from ui.case_questions import forget_answers, missing_questions, what_if_panel
from ui.case_saving import forget_saved, save_to_mdt_list, show_saved_link
from ui.components import demos, evaluator, show_report, store
from ui.export import document_pdf
from ui.identity import User, require_role
from ui.patient_sheet import forget_sheet, patient_sheet_section
from ui.policy_compare import policy_comparison
from ui.record_text import markdown_text

ANSWERS = "case_answers"
"""The case's one set of answers (ui.case_answers): the form, the questions and what-if share it."""
IMPORTED = "imported_fhir"
FORM_LEFT_OUT = "form_left_out"
INPUT_TABS = "input_tab"
"""The open input tab ("Demo case", "Case form", "Paste or upload JSON"): only that tab is drawn (lazy
tabs), since drawing the ~70 widgets of the case form on every page rerun was most of its time."""
DEMO_TAB, FORM_TAB, JSON_TAB = "Demo case", "Case form", "Paste or upload JSON"


@st.fragment  # saving or downloading reruns only this section: neither changes the report
def _save_and_share(case: dict[str, Any], report: Report, user: User) -> None:
    cols = st.columns(3)
    assessed_at = dt.datetime.now().astimezone()
    knowledge = evaluator().knowledge

    def letter() -> Any:  # written on the download click, not on every rerun of the page
        return clinical_letter(case, report, knowledge, assessed_at=assessed_at)

    with cols[0]:
        st.download_button(
            "Report as Markdown", lambda: document_markdown(letter()), file_name=f"{report.case_id or 'case'}.md"
        )
    with cols[1]:
        st.download_button(
            "Report as PDF",
            lambda: document_pdf(letter()),  # laid out on the click, not on every rerun (seconds per page)
            file_name=f"{report.case_id or 'case'}.pdf",
            mime="application/pdf",
        )
    with cols[2]:
        save_to_mdt_list(case, report, user)  # saving again is a new version of the stored case
    show_saved_link()


def _new_patient(answers: CaseAnswers, case: Any) -> None:
    """Load a case from a share link, a demo or a file: nothing typed or saved for the patient on
    the page before may answer for, or be saved over by, this one."""
    forget_answers()
    forget_saved()
    forget_sheet()
    answers.load(case)


def _fingerprint(case: Any) -> str:
    return json.dumps(case, sort_keys=True, default=str)


def _is_bundle(document: Any) -> bool:
    return isinstance(document, dict) and document.get("resourceType") == "Bundle"


def _from_fhir(bundle: dict[str, Any]) -> dict[str, Any]:
    """The bundle as a case; its ignored input is kept beside it and shown while the case is this one."""
    imported = case_from_bundle(bundle)
    case: dict[str, Any] = json.loads(imported.case.model_dump_json(exclude_none=True))
    st.session_state[IMPORTED] = (_fingerprint(case), imported.ignored_input)
    return case


@st.fragment
def _form_tab(answers: CaseAnswers) -> None:
    """The case form as a fragment: each answer typed reruns only the form (the report below stays as
    it is until Assess, which writes the form's answers and reruns the page)."""
    submitted = case_form(answers)
    if submitted is not None:
        answers.from_form(submitted.case)
        st.session_state[FORM_LEFT_OUT] = (_fingerprint(submitted.case), submitted.left_out)
        st.rerun()


def page_answers() -> CaseAnswers:
    """The answers of the case on this page, one set per session."""
    answers = st.session_state.get(ANSWERS)
    if not isinstance(answers, CaseAnswers):
        answers = st.session_state[ANSWERS] = CaseAnswers()
    return answers


def clinician_page() -> None:
    user = require_role("clinician")
    st.header("Clinician: assess a case")
    answers = page_answers()
    shared = st.query_params.get("case")
    if shared and st.session_state.get("loaded_shared") != shared:
        stored = store().get_case(shared)
        if stored is None:
            st.error(f"No stored case has the id {markdown_text(repr(shared))}.")
        else:
            _new_patient(answers, stored.case)
            st.session_state["loaded_shared"] = shared
    # Lazy tabs: switching tabs reruns the page and only the open tab runs. What was typed in a
    # closed tab is kept: the form's widgets persist while not drawn (ui.case_form), and the form
    # shows answers changed elsewhere meanwhile when it is next opened (its refill).
    tab_demo, tab_form, tab_json = st.tabs([DEMO_TAB, FORM_TAB, JSON_TAB], key=INPUT_TABS, on_change="rerun")
    if tab_demo.open:
        with tab_demo:
            cases = demos()
            chosen = st.selectbox(
                "Demo case",
                ["(choose)", *cases],
                key="demo_choice",
                format_func=lambda k: k if k == "(choose)" else f"{k}: {cases[k]['title']}",
                persist_state="page",
            )
            if chosen != "(choose)" and st.session_state.get("demo_loaded") != chosen:
                _new_patient(answers, cases[chosen]["case"])
                st.session_state["demo_loaded"] = chosen
            if chosen != "(choose)":
                st.caption(cases[chosen]["teaches"])
    if tab_form.open:
        with tab_form:
            _form_tab(answers)
    if tab_json.open:
        with tab_json:
            st.caption("A spine-cds case, or a FHIR R4B Bundle from a record system (what it cannot use is listed).")
            uploaded = st.file_uploader("Case file (JSON or YAML)", type=["json", "yaml", "yml"])
            text = st.text_area(
                "Case JSON", height=200, placeholder='{"diagnoses": [...], ...}', key="case_json", persist_state="page"
            )
            raw = uploaded.getvalue().decode("utf-8-sig", errors="replace") if uploaded else text
            if raw.strip() and st.button("Assess this JSON"):
                try:
                    parsed = (
                        yaml.safe_load(raw)
                        if uploaded and uploaded.name.endswith((".yaml", ".yml"))
                        else json.loads(raw)
                    )
                    _new_patient(answers, _from_fhir(parsed) if _is_bundle(parsed) else parsed)
                    st.rerun()  # the form shows the new answers when it is next opened
                except (json.JSONDecodeError, yaml.YAMLError) as exc:
                    st.error(f"Not a valid case file: {markdown_text(exc)}")
                except FhirInputError as exc:
                    st.error(
                        "Not a FHIR R4B bundle spine-cds can read:\n"
                        + "\n".join(f"- {markdown_text(p)}" for p in exc.echoed_problems)
                    )
    case = answers.case
    if case is None:
        st.info("Choose a demo case, fill in the form, or paste a case to assess.")
        return
    policies = sorted(evaluator().policies)
    titles = {pid: evaluator().knowledge.policies[pid].title for pid in policies}
    chosen_policy = st.selectbox(
        "Policy profile",
        ["(the case's own, else clinic)", *policies],
        key="policy_choice",
        format_func=lambda choice: titles.get(choice, choice),
    )
    policy = None if chosen_policy.startswith("(") else chosen_policy
    try:
        report = answers.report(evaluator(), policy)
    except InvalidCase as exc:
        st.error("The case is not valid:\n" + "\n".join(f"- {markdown_text(p)}" for p in exc.echoed_problems))
        return
    imported = st.session_state.get(IMPORTED)
    if imported and imported[0] == _fingerprint(case):
        report = report.model_copy(update={"ignored_input": imported[1]})
    left_out = st.session_state.get(FORM_LEFT_OUT)
    if left_out and left_out[1] and left_out[0] == _fingerprint(case):
        st.warning(
            "**Left out of this assessment** (complete the rows in the case form and assess again):\n"
            + "\n".join(f"- {markdown_text(line)}" for line in left_out[1])
        )
    st.markdown(f"**Case summary.** {markdown_text(case_summary(case, report).text)}")
    missing_questions(answers, report)
    show_report(report)
    what_if_panel(answers, report, policy)
    policy_comparison(case)
    _save_and_share(case, report, user)
    patient_sheet_section(report)
    with st.expander("The case as JSON"):
        st.json(case)
