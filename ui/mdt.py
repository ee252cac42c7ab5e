"""MDT: the meeting's case list, a decision per case with who decided and why, and the audit trail.

The list is in the order a meeting takes it (red flags first, then by the engine's best status),
with real cases only unless the chair asks for the demo cases too. Opening a case shows the case
itself before the engine's report, and the decision starts unchosen: the engine's first choice is
a hint beside it, never a default the chair confirms by not looking.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import streamlit as st

from decision.explain import STATUS_LABEL, candidate_title
from decision.report import STATUS_ORDER, status_rank
from decision.store import NO_PROCEDURE, CaseStore, Decision, StoredCase
from ui.case_view import show_case
from ui.components import evaluator, show_report, store, store_refusals_shown
from ui.identity import require_role
from ui.record_text import csv_cell, markdown_text

RED_FLAG_LABEL = "RED FLAG"
"""A case with a red flag is listed as such, whatever its candidates' statuses."""
NO_PROCEDURE_LABEL = "No procedure"


def share_link(case_id: str, case_store: CaseStore | None = None) -> str:
    """The absolute link that opens a stored case in the app (the settings' UI URL); it carries only
    the store's random case id, never a patient detail."""
    settings = (case_store or store()).settings
    return f"{settings.ui_url.rstrip('/')}/?case={case_id}"


def case_status(case: StoredCase) -> str:
    """The list's status of a case in words: a red flag first, else the engine's best status."""
    return RED_FLAG_LABEL if case.report.red_flags else STATUS_LABEL.get(case.best_status, case.best_status)


def meeting_order(cases: list[StoredCase]) -> list[StoredCase]:
    """Red-flag cases first, then by the engine's best status (best first), most recently saved first."""
    return sorted(
        cases,
        key=lambda c: (
            not c.report.red_flags,
            status_rank(c.report.best_status),
            -c.last_saved.timestamp(),
        ),
    )


def decision_words(case: StoredCase, procedure: str) -> str:
    """A recorded decision as the candidate's title (or "No procedure"), not its key."""
    if procedure == NO_PROCEDURE:
        return NO_PROCEDURE_LABEL
    found = next((c for c in case.report.candidates if c.key == procedure), None)
    return candidate_title(found) if found is not None else procedure


def _viewer_zone() -> dt.tzinfo:
    """The browser's time zone when Streamlit knows it, else UTC; every time shown names its zone."""
    name = st.context.timezone
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return dt.UTC


def when(moment: dt.datetime, zone: dt.tzinfo | None = None, seconds: bool = False) -> str:
    """A stored (UTC) time in the viewer's zone, with the zone's name."""
    shown = moment.astimezone(zone or dt.UTC)
    return shown.strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else "") + " %Z")


def _last(case_store: CaseStore, case_id: str) -> Decision | None:
    decisions = case_store.decisions(case_id)
    return decisions[-1] if decisions else None


def meeting_csv(cases: list[StoredCase], case_store: CaseStore) -> str:
    """The list for a spreadsheet: ids for machines, words for people, every cell safe as text."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "case_id",
            "title",
            "created",
            "last_saved_utc",
            "version",
            "red_flag",
            "engine_best_status",
            "engine",
            "decision",
            "decision_words",
            "decided_by",
            "override_reason",
            "knowledge_version",
        ]
    )
    for case in cases:
        last = _last(case_store, case.id)
        row = [
            case.id,
            case.title,
            case.created_at.date().isoformat(),
            when(case.last_saved),
            case.version,
            "yes" if case.report.red_flags else "no",
            case.best_status,
            case_status(case),
            last.procedure if last else "",
            decision_words(case, last.procedure) if last else "",
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
        last = _last(case_store, case.id)
        lines.append(
            f"| {markdown_text(case.title)} ({markdown_text(case.id)}) | {case_status(case)} | "
            f"{markdown_text(decision_words(case, last.procedure)) if last else '-'} | "
            f"{markdown_text(last.decided_by) if last else '-'} | "
            f"{markdown_text(last.override_reason or '-') if last else '-'} |"
        )
    return "\n".join(lines) + "\n"


def _case_table(cases: list[StoredCase], case_store: CaseStore, zone: dt.tzinfo) -> None:
    """One row per case, the decision beside the engine's answer so both stay in view."""
    vocab = evaluator().knowledge.vocabulary
    rows = []
    for case in cases:
        last = _last(case_store, case.id)
        conditions = [c.strip() for c in case.conditions.split(",") if c.strip()]
        rows.append(
            {
                "Case": case.title,
                "Engine": case_status(case),
                "Decision": decision_words(case, last.procedure) if last else "",
                "Diagnoses": ", ".join(vocab.conditions[c].label if c in vocab.conditions else c for c in conditions),
                "Last saved": when(case.last_saved, zone),
                "Version": case.version,
                "Id": case.id,
            }
        )
    columns = ["Case", "Engine", "Decision", "Diagnoses", "Last saved", "Version", "Id"]
    st.dataframe(
        pd.DataFrame(rows, columns=columns),
        use_container_width=True,
        hide_index=True,
        column_config={
            "Case": st.column_config.TextColumn(width="medium"),
            "Engine": st.column_config.TextColumn(width="small"),
            "Decision": st.column_config.TextColumn(width="medium"),
            "Version": st.column_config.NumberColumn(width="small"),
        },
    )


def _filters(case_store: CaseStore) -> list[StoredCase]:
    vocab = evaluator().knowledge.vocabulary
    cols = st.columns([3, 3, 2, 2])
    with cols[0]:
        status = st.selectbox(
            "Engine status (best candidate)",
            [None, *STATUS_ORDER],
            format_func=lambda s: "(any)" if s is None else STATUS_LABEL[s],
            key="mdt_status",
        )
    with cols[1]:
        condition = st.selectbox(
            "Diagnosis",
            [None, *sorted(vocab.conditions, key=lambda c: vocab.conditions[c].label)],
            format_func=lambda c: "(any)" if c is None else vocab.conditions[c].label,
            key="mdt_condition",
        )
    with cols[2]:
        since = st.date_input("Saved since", value=None, key="mdt_since")
    with cols[3]:
        show_demo = st.toggle("Demo cases too", value=False, key="mdt_show_demo")
    found = case_store.list_cases(
        status=status,
        condition=condition,
        since=since if isinstance(since, dt.date) else None,
        include_demo=show_demo,
    )
    return meeting_order(found)


def _exports(cases: list[StoredCase], case_store: CaseStore) -> None:
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


def _decision_form(case: StoredCase, case_store: CaseStore, audit_name: str) -> None:
    """The meeting's decision, chosen by the chair: nothing is preselected."""
    report = case.report
    by_key = {c.key: c for c in report.candidates}
    options = [*by_key, NO_PROCEDURE]

    def label(key: str) -> str:
        if key == NO_PROCEDURE:
            return NO_PROCEDURE_LABEL
        return f"{candidate_title(by_key[key])} ({STATUS_LABEL[by_key[key].status]})"

    offered = report.offered()
    hint = (
        f"The engine's first choice: {label(offered[0])}."
        if offered
        else "The engine offers no procedure for this case as it stands."
    )
    with st.form(f"decision_{case.id}"):
        st.markdown("**The meeting's decision**")
        st.caption(hint + " The meeting chooses; a decision that differs from the engine's needs a reason.")
        procedure = st.selectbox(
            "Chosen procedure",
            options,
            index=None,
            placeholder="Choose the meeting's decision",
            format_func=label,
            key=f"mdt_proc_{case.id}",
        )
        st.caption(f"Decided by: {markdown_text(audit_name)} (from the sign-in)")
        reason = st.text_area(
            "Override reason (required when the decision differs from the engine's)", key=f"mdt_reason_{case.id}"
        )
        submitted = st.form_submit_button("Record decision", type="primary")
    if not submitted:
        return
    if procedure is None:
        st.error("Not recorded: choose the meeting's decision first.")
        return
    with store_refusals_shown("Not recorded"):
        decided = case_store.record_decision(case.id, procedure, audit_name, reason)
        st.success(
            f"Recorded: {markdown_text(decision_words(case, decided.procedure))} by "
            f"{markdown_text(decided.decided_by)} (engine: {STATUS_LABEL.get(decided.engine_status, decided.engine_status)})."
        )


def _audit_table(case_store: CaseStore, case_id: str, zone: dt.tzinfo) -> None:
    st.markdown("**Audit trail**")
    trail = case_store.audit_trail(case_id)
    st.table(
        pd.DataFrame(
            [
                {
                    "when": when(e.at, zone, seconds=True),
                    "who": markdown_text(e.who),  # st.table renders its cells as Markdown
                    "what": e.action,
                    "details": markdown_text(", ".join(f"{k}: {v}" for k, v in e.details.items() if v)),
                    "knowledge": e.knowledge_version,
                }
                for e in trail
            ]
        )
    )


def mdt_page() -> None:
    user = require_role("mdt_chair")
    st.header("MDT: review cases")
    case_store = store()
    zone = _viewer_zone()
    cases = _filters(case_store)
    _case_table(cases, case_store, zone)
    _exports(cases, case_store)
    if not cases:
        st.info("No cases match." + ("" if st.session_state.get("mdt_show_demo") else " Demo cases are hidden."))
        return
    by_id = {c.id: c for c in cases}
    chosen = st.selectbox(
        "Open a case",
        list(by_id),
        key="mdt_case",
        format_func=lambda i: f"{by_id[i].title} - {case_status(by_id[i])} ({i})",
    )
    case = by_id[chosen]
    st.subheader(markdown_text(case.title))
    saved = f"Version {case.version}, last saved {when(case.last_saved, zone)}"
    st.caption(f"{saved} · first saved {when(case.created_at, zone)}" + (" · demo case" if case.demo else ""))
    st.markdown("Share link (carries only the store's random case id):")
    st.code(share_link(case.id, case_store), language=None)
    show_case(case.case, case.report)
    show_report(case.report, compact=True)
    _decision_form(case, case_store, user.audit_name)
    _audit_table(case_store, chosen, zone)
