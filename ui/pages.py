"""The app's pages: each a short function over `decision/` calls."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from decision.evaluate import CaseEvaluator, InvalidCase, default_evaluator
from decision.explain import STATUS_LABEL, candidate_title, to_markdown
from decision.report import Report
from ui.demo_cases import demo_cases

STATUS_COLOUR = {
    "indicated": "green",
    "indicated_with_caution": "orange",
    "needs_information": "blue",
    "deferred": "violet",
    "contraindicated": "red",
    "not_indicated": "gray",
}


@st.cache_resource
def evaluator() -> CaseEvaluator:
    return default_evaluator()


@st.cache_data
def cases() -> dict[str, dict[str, Any]]:
    return demo_cases()


def show_report(report: Report) -> None:
    st.caption(
        f"Policy {report.policy} ({report.policy_title}) · knowledge {report.knowledge_version} "
        f"`{report.knowledge_hash[:12]}` · engine {report.engine_version}"
    )
    for flag in report.red_flags:
        st.error(f"RED FLAG: {flag.text}  \n`{flag.rule_id}` · {'; '.join(flag.sources)}")
    if report.no_guideline_applies:
        st.warning(f"No guideline applies: {report.no_guideline_reason}")
    if report.missing_information:
        with st.container(border=True):
            st.markdown("**Needs information before a decision**")
            for item in report.missing_information:
                st.markdown(f"- `{item.field}`: {item.why} (`{item.rule_id}`)")
    for candidate in report.candidates:
        colour = STATUS_COLOUR[candidate.status]
        with st.container(border=True):
            st.markdown(f":{colour}[**{STATUS_LABEL[candidate.status]}**] {candidate_title(candidate)}")
            if candidate.guidance:
                st.markdown("Guidance: " + ", ".join(candidate.guidance))
            label = "why not" if candidate.status == "not_indicated" else "why"
            with st.expander(label, expanded=candidate.status != "not_indicated"):
                for reason in candidate.reasons:
                    recheck = " *(re-check against the source)*" if reason.recheck else ""
                    st.markdown(f"- {reason.text} — `{reason.rule_id}` ({'; '.join(reason.sources)}){recheck}")
    for title, findings in (("Contraindications", report.contraindications), ("Warnings", report.warnings)):
        if findings:
            st.markdown(f"**{title}**")
            for f in findings:
                st.markdown(f"- {f.text} — `{f.rule_id}`")
    st.download_button("Download report (Markdown)", to_markdown(report), file_name=f"{report.case_id or 'case'}.md")


def clinician_page() -> None:
    st.header("Assess a case")
    demos = cases()
    source = st.radio("Case", ("Demo case", "Paste JSON"), horizontal=True)
    payload: Any = None
    if source == "Demo case":
        chosen = st.selectbox("Demo case", list(demos), format_func=lambda k: f"{k}: {demos[k]['title']}")
        if chosen:
            st.caption(demos[chosen]["teaches"])
            payload = demos[chosen]["case"]
            with st.expander("Case as JSON"):
                st.json(payload)
    else:
        text = st.text_area("Case JSON", height=240, placeholder='{"diagnoses": [...], ...}')
        if text.strip():
            try:
                payload = json.loads(text)
            except json.JSONDecodeError as exc:
                st.error(f"Not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")
    policies = sorted(evaluator().policies)
    policy = st.selectbox("Policy profile", ["(the case's own, else clinic)", *policies])
    if payload is None:
        return
    try:
        report = evaluator().evaluate(payload, None if policy.startswith("(") else policy)
    except InvalidCase as exc:
        st.error("The case is not valid:\n" + "\n".join(f"- {p}" for p in exc.problems))
        return
    show_report(report)


def rules_page() -> None:
    st.header("Rules and sources")
    knowledge = evaluator().knowledge
    st.caption(f"Knowledge {knowledge.version} · `{knowledge.content_hash[:12]}` · {len(knowledge.rules)} rules")
    topic = st.selectbox("Topic", sorted({e.topic for e in knowledge.rules}))
    for entry in (e for e in knowledge.rules if e.topic == topic):
        rule = entry.rule
        with st.expander(f"{rule.id}: {rule.title}"):
            st.markdown(" ".join(rule.statement.split()))
            st.markdown(f"*Evidence:* {rule.evidence}")
            for ref in rule.sources:
                st.markdown(f"- `{ref}`: {knowledge.source_label(ref)}")
            if rule.policies:
                st.markdown(f"*Policies:* {', '.join(rule.policies)}")
            if rule.tests:
                st.markdown(f"*Vignettes:* {', '.join(rule.tests)}")
