"""MDT: the meeting's case list, a decision per case with who decided and why, and the audit trail."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pandas as pd
import streamlit as st

from decision.explain import STATUS_LABEL
from decision.report import STATUS_ORDER
from decision.store import NO_PROCEDURE, CaseStore, StoredCase
from ui.components import evaluator, show_report, store, store_refusals_shown
from ui.identity import require_role
from ui.record_text import csv_cell, markdown_text


def _last_decision(case_id: str) -> str:
    decisions = store().decisions(case_id)
    return decisions[-1].procedure if decisions else ""


def meeting_csv(cases: list[StoredCase], case_store: CaseStore) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "case_id",
            "title",
            "created",
            "engine_best_status",
            "decision",
            "decided_by",
            "override_reason",
            "knowledge_version",
        ]
    )
    for case in cases:
        decisions = case_store.decisions(case.id)
        last = decisions[-1] if decisions else None
        row = [
            case.id,
            case.title,
            case.created_at.date().isoformat(),
            case.best_status,
            last.procedure if last else "",
            last.decided_by if last else "",
            (last.override_reason or "") if last else "",
            case.report.knowledge_version,
        ]
        writer.writerow([csv_cell(value) for value in row])
    return out.getvalue()


def meeting_markdown(cases: list[StoredCase], case_store: CaseStore) -> str:
    lines = [
        "# MDT case list",
        "",
        "| Case | Engine (best) | Decision | By | Override reason |",
        "|---|---|---|---|---|",
    ]
    for case in cases:
        decisions = case_store.decisions(case.id)
        last = decisions[-1] if decisions else None
        lines.append(
            f"| {markdown_text(case.title)} ({markdown_text(case.id)}) | "
            f"{STATUS_LABEL.get(case.best_status, case.best_status)} | "
            f"{markdown_text(last.procedure) if last else '-'} | {markdown_text(last.decided_by) if last else '-'} | "
            f"{markdown_text(last.override_reason or '-') if last else '-'} |"
        )
    return "\n".join(lines) + "\n"


def mdt_page() -> None:
    user = require_role("mdt_chair")
    st.header("MDT: review cases")
    case_store = store()
    conditions = sorted(evaluator().knowledge.vocabulary.conditions)
    cols = st.columns(3)
    with cols[0]:
        status = st.selectbox("Engine status (best candidate)", ["(any)", *STATUS_ORDER], key="mdt_status")
    with cols[1]:
        condition = st.selectbox("Diagnosis", ["(any)", *conditions], key="mdt_condition")
    with cols[2]:
        since = st.date_input("Saved since", value=None, key="mdt_since")
    cases = case_store.list_cases(
        status=None if status == "(any)" else status,
        condition=None if condition == "(any)" else condition,
        since=since if isinstance(since, dt.date) else None,
    )
    table = pd.DataFrame(
        [
            {
                "id": c.id,
                "title": c.title,
                "saved": c.created_at.strftime("%Y-%m-%d %H:%M"),
                "engine": c.best_status,
                "diagnoses": c.conditions,
                "decision": _last_decision(c.id),
            }
            for c in cases
        ]
    )
    st.dataframe(table, use_container_width=True, hide_index=True)
    cols = st.columns(3)
    with cols[0]:
        st.download_button(
            "Meeting list (CSV)", meeting_csv(cases, case_store), file_name="mdt-cases.csv", mime="text/csv"
        )
    with cols[1]:
        st.download_button("Meeting list (Markdown)", meeting_markdown(cases, case_store), file_name="mdt-cases.md")
    with cols[2]:
        if st.button("Verify the audit trail"):
            problems = case_store.verify_audit()
            if problems:
                st.error(
                    "The audit trail has been tampered with:\n" + "\n".join(f"- {markdown_text(p)}" for p in problems)
                )
            else:
                st.success("Audit trail intact: every entry matches its hash and follows the one before.")
    if not cases:
        st.info("No cases match.")
        return
    ids = [c.id for c in cases]
    by_id = {c.id: c for c in cases}
    chosen = st.selectbox("Open a case", ids, key="mdt_case", format_func=lambda i: f"{by_id[i].title} ({i})")
    case = by_id[chosen]
    show_report(case.report, compact=True)
    options = [c.key for c in case.report.candidates] + [NO_PROCEDURE]
    with st.form(f"decision_{chosen}"):
        st.markdown("**The meeting's decision**")
        procedure = st.selectbox("Chosen procedure", options, key=f"mdt_proc_{chosen}")
        st.caption(f"Decided by: {markdown_text(user.audit_name)} (from the sign-in)")
        reason = st.text_area(
            "Override reason (required when the decision differs from the engine's)", key=f"mdt_reason_{chosen}"
        )
        submitted = st.form_submit_button("Record decision", type="primary")
    if submitted:
        with store_refusals_shown("Not recorded"):
            decided = case_store.record_decision(chosen, procedure, user.audit_name, reason)
            st.success(
                f"Recorded: {markdown_text(decided.procedure)} by {markdown_text(decided.decided_by)} "
                f"(engine: {decided.engine_status})."
            )
    st.markdown("**Audit trail**")
    trail = case_store.audit_trail(chosen)
    st.table(
        pd.DataFrame(
            [
                {
                    "when": e.at.strftime("%Y-%m-%d %H:%M:%S"),
                    "who": e.who,
                    "what": e.action,
                    "details": ", ".join(f"{k}: {v}" for k, v in e.details.items() if v),
                    "knowledge": e.knowledge_version,
                }
                for e in trail
            ]
        )
    )
