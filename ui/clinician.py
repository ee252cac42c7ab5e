"""Clinician: assess a case, answer what is missing, ask "what if", save, share and export."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import streamlit as st
import yaml

from decision.case import with_field
from decision.case_summary import case_summary
from decision.diff import report_diff
from decision.evaluator import InvalidCase
from decision.fhir import FhirInputError, case_from_bundle
from decision.fields import NOT_RULE_FIELDS, FieldSpec, case_layout, field_catalogue
from decision.letter import clinical_letter, document_markdown
from decision.report import Report
from ui.case_form import answer_widget, case_form
from ui.components import demos, evaluator, show_report, store, store_refusals_shown
from ui.export import document_pdf
from ui.identity import User, require_role
from ui.record_text import markdown_text

CURRENT = "current_case"
IMPORTED = "imported_fhir"
FORM_LEFT_OUT = "form_left_out"


def _changeable_fields() -> dict[str, FieldSpec]:
    """The case's own fields and its parts' fields (not lists' items), each a what-if can change alone."""
    return {
        spec.path: spec
        for group in case_layout()
        if not group.repeated and not group.keys
        for spec in group.fields
        if spec.path not in NOT_RULE_FIELDS
    }


def _missing_questions(case: dict[str, Any], report: Report) -> None:
    """Missing information as questions, answered in place."""
    if not report.missing_information:
        return
    with st.container(border=True):
        st.markdown("**Needs information before a decision**")
        answers: dict[str, Any] = {}
        for item in report.missing_information:
            st.markdown(f"- `{item.field}`: {item.why}")
            spec = field_catalogue().scalars.get(item.field)
            if spec is not None:
                answered, value = answer_widget(spec, f"answer_{item.field}")
                if answered:
                    answers[item.field] = value
            elif item.field in field_catalogue().lists:
                if st.checkbox(f"{item.field}: none (asked, nothing to record)", key=f"answer_{item.field}"):
                    answers[item.field] = []
            else:
                st.caption("Answer this in the case form or the JSON.")
        if answers and st.button("Re-assess with these answers", type="primary"):
            updated = case
            for path, value in answers.items():
                updated = with_field(updated, path, value)
            st.session_state[CURRENT] = updated
            st.rerun()


def _what_if(case: dict[str, Any], report: Report) -> None:
    with st.expander("What if… change one answer and see what changes"):
        fields = _changeable_fields()
        path = st.selectbox(
            "Answer to change", list(fields), key="whatif_path", format_func=lambda p: f"{fields[p].label()} ({p})"
        )
        answered, value = answer_widget(fields[path], "whatif_value")
        changed_case = with_field(case, path, value if answered else None)
        try:
            changed = evaluator().evaluate(changed_case)
        except InvalidCase as exc:
            st.error(
                "That change makes the case invalid:\n"
                + "\n".join(f"- {markdown_text(p)}" for p in exc.echoed_problems)
            )
            return
        diff = report_diff(report, changed)
        if diff.empty:
            st.info("No change to the report.")
            return
        for change in diff.status_changes:
            st.markdown(f"- `{change.candidate}`: **{change.before}** → **{change.after}**")
        for field in diff.missing_added:
            st.markdown(f"- now needs `{field}`")
        for field in diff.missing_resolved:
            st.markdown(f"- no longer needs `{field}`")
        if diff.rules_now_firing:
            st.markdown("- rules now met: " + ", ".join(f"`{r}`" for r in diff.rules_now_firing))
        if diff.rules_no_longer_firing:
            st.markdown("- rules no longer met: " + ", ".join(f"`{r}`" for r in diff.rules_no_longer_firing))


def _save_and_share(case: dict[str, Any], report: Report, user: User) -> None:
    cols = st.columns(3)
    letter = clinical_letter(case, report, evaluator().knowledge, assessed_at=dt.datetime.now().astimezone())
    with cols[0]:
        st.download_button("Report as Markdown", document_markdown(letter), file_name=f"{report.case_id or 'case'}.md")
    with cols[1]:
        st.download_button(
            "Report as PDF", document_pdf(letter), file_name=f"{report.case_id or 'case'}.pdf", mime="application/pdf"
        )
    with cols[2]:
        title = st.text_input("Title for the MDT list", value=report.case_id or "", key="save_title")
        if st.button("Save to the MDT list"):
            with store_refusals_shown("Not saved"):
                case_id = store().save_case(case, report, title or "(untitled)", who=user.audit_name)
                st.session_state["saved_case_id"] = case_id
    saved = st.session_state.get("saved_case_id")
    if saved:
        st.success(f"Saved. Shareable link (carries only a random case id): `?case={saved}`")  # the store's own token
        st.markdown(f"[Open the saved assessment](/?case={saved})")


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


def clinician_page() -> None:
    user = require_role("clinician")
    st.header("Clinician: assess a case")
    shared = st.query_params.get("case")
    if shared and st.session_state.get("loaded_shared") != shared:
        stored = store().get_case(shared)
        if stored is None:
            st.error(f"No stored case has the id {markdown_text(repr(shared))}.")
        else:
            st.session_state[CURRENT] = stored.case
            st.session_state["loaded_shared"] = shared
    tab_demo, tab_form, tab_json = st.tabs(["Demo case", "Case form", "Paste or upload JSON"])
    with tab_demo:
        cases = demos()
        chosen = st.selectbox(
            "Demo case",
            ["(choose)", *cases],
            key="demo_choice",
            format_func=lambda k: k if k == "(choose)" else f"{k}: {cases[k]['title']}",
        )
        if chosen != "(choose)" and st.session_state.get("demo_loaded") != chosen:
            st.session_state[CURRENT] = cases[chosen]["case"]
            st.session_state["demo_loaded"] = chosen
        if chosen != "(choose)":
            st.caption(cases[chosen]["teaches"])
    with tab_form:
        submitted = case_form()
        if submitted is not None:
            st.session_state[CURRENT] = submitted.case
            st.session_state[FORM_LEFT_OUT] = (_fingerprint(submitted.case), submitted.left_out)
    with tab_json:
        st.caption("A spine-cds case, or a FHIR R4B Bundle from a record system (what it cannot use is listed).")
        uploaded = st.file_uploader("Case file (JSON or YAML)", type=["json", "yaml", "yml"])
        text = st.text_area("Case JSON", height=200, placeholder='{"diagnoses": [...], ...}')
        raw = uploaded.getvalue().decode("utf-8-sig", errors="replace") if uploaded else text
        if raw.strip() and st.button("Assess this JSON"):
            try:
                parsed = (
                    yaml.safe_load(raw) if uploaded and uploaded.name.endswith((".yaml", ".yml")) else json.loads(raw)
                )
                st.session_state[CURRENT] = _from_fhir(parsed) if _is_bundle(parsed) else parsed
            except (json.JSONDecodeError, yaml.YAMLError) as exc:
                st.error(f"Not a valid case file: {markdown_text(exc)}")
            except FhirInputError as exc:
                st.error(
                    "Not a FHIR R4B bundle spine-cds can read:\n"
                    + "\n".join(f"- {markdown_text(p)}" for p in exc.echoed_problems)
                )
    case = st.session_state.get(CURRENT)
    if case is None:
        st.info("Choose a demo case, fill in the form, or paste a case to assess.")
        return
    policies = sorted(evaluator().policies)
    policy = st.selectbox("Policy profile", ["(the case's own, else clinic)", *policies], key="policy_choice")
    try:
        report = evaluator().evaluate(case, None if policy.startswith("(") else policy)
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
            + "\n".join(f"- {markdown_text(line)}" for line in left_out[1]),
            icon="⚠️",
        )
    st.markdown(f"**Case summary.** {markdown_text(case_summary(case, report).text)}")
    _missing_questions(case, report)
    show_report(report)
    _what_if(case, report)
    _save_and_share(case, report, user)
    with st.expander("The case as JSON"):
        st.json(case)
