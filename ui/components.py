"""Shared pieces of the pages: the evaluator, the store, and how a report is drawn."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from decision.demo_cases import demo_cases
from decision.evaluator import CaseEvaluator
from decision.explain import STATUS_LABEL, candidate_title, citation_markdown
from decision.reload import ReloadingEvaluator
from decision.report import Report
from decision.store import CaseStore, StoreError
from ui.record_text import markdown_text

logger = logging.getLogger("spine_cds.ui")
STORE_FAILED = "the case store failed; nothing was stored. Try again; if it goes on, the app's log has the cause."

STATUS_COLOUR = {
    "indicated": "green",
    "indicated_with_caution": "orange",
    "needs_information": "blue",
    "deferred": "violet",
    "contraindicated": "red",
    "not_indicated": "gray",
}


@st.cache_resource
def reloader() -> ReloadingEvaluator:
    """One per app process: knowledge edits are picked up without a restart, broken ones refused."""
    return ReloadingEvaluator()


def evaluator() -> CaseEvaluator:
    return reloader().evaluator()


def knowledge_banner() -> None:
    status = reloader().status()
    if status.error:
        st.warning(
            f"A knowledge edit could not be used; answers still come from knowledge {status.version} "
            f"`{status.content_hash[:12]}`. Fix:\n" + "\n".join(f"- {p}" for p in status.error[:10])
        )


@st.cache_resource
def store() -> CaseStore:
    """The store the settings name. The app never seeds it: `spine-cds ui --demo` (and `make run`) put
    the demo cases into the embedded database before the app starts, and no other database is seeded."""
    return CaseStore()


@contextmanager
def store_refusals_shown(what: str) -> Iterator[None]:
    """A store write whose refusal is shown as one line the user can act on. A refusal of the store
    (`StoreError`) says what to change; any other database error is logged and shown as a generic
    line: its text carries the SQL and, before `hide_parameters`, the case JSON it was writing."""
    try:
        yield
    except StoreError as exc:
        st.error(f"{what}: " + "; ".join(markdown_text(p) for p in exc.problems))
    except SQLAlchemyError as exc:
        logger.error("%s: %s", what, type(exc).__name__)
        st.error(f"{what}: {STORE_FAILED}")


@st.cache_data
def demos() -> dict[str, dict[str, Any]]:
    return demo_cases()


def rule_link(rule_id: str) -> str:
    return f"[`{rule_id}`](/rules?rule={rule_id})"


def status_badge(status: str) -> str:
    return f":{STATUS_COLOUR[status]}[**{STATUS_LABEL[status]}**]"


def cited(sources: list[str], rule_id: str, show_ids: bool) -> str:
    """Where a statement comes from: each source's title and section (linked when its URL is known),
    and, behind the "sources" toggle, the rule and source ids a reviewer looks up."""
    knowledge = evaluator().knowledge
    titles = "; ".join(citation_markdown(knowledge, ref) for ref in sources) or "no source cited"
    if not show_ids:
        return titles
    return f"{titles} · {rule_link(rule_id)} " + " ".join(f"`{ref}`" for ref in sources)


def show_report(report: Report, compact: bool = False, key: str = "report") -> None:
    """Red flags first and unmistakable; then what to ask; then one card per candidate.

    Statements cite their sources by title; the ids (rule, source#section) are behind a toggle."""
    st.caption(
        f"Policy: {report.policy_title} · knowledge {report.knowledge_version} "
        f"`{report.knowledge_hash[:12]}` · engine {report.engine_version}"
    )
    show_ids = st.toggle("Sources: show rule and source ids", key=f"{key}_source_ids")
    for flag in report.red_flags:
        st.error(f"**RED FLAG**: {flag.text}  \n{cited(flag.sources, flag.rule_id, show_ids)}")
    if report.no_guideline_applies:
        st.warning(f"No guideline applies: {report.no_guideline_reason}")
    for candidate in report.candidates:
        if compact and candidate.status == "not_indicated":
            continue
        with st.container(border=True):
            st.markdown(f"{status_badge(candidate.status)} {candidate_title(candidate)}")
            if candidate.guidance:
                labels = evaluator().knowledge.vocabulary.guidance
                st.markdown("Guidance, preferred first: " + ", ".join(labels[g].label for g in candidate.guidance))
            label = "Why not" if candidate.status == "not_indicated" else "Why"
            with st.expander(label, expanded=candidate.status != "not_indicated" and not compact):
                for reason in candidate.reasons:
                    recheck = " *(re-check against the source)*" if reason.recheck else ""
                    st.markdown(f"- {reason.text} — {cited(reason.sources, reason.rule_id, show_ids)}{recheck}")
    for title, findings in (("Contraindications", report.contraindications), ("Warnings", report.warnings)):
        if findings:
            st.markdown(f"**{title}**")
            for finding in findings:
                severity = f" ({finding.severity})" if finding.severity else ""
                st.markdown(f"- {finding.text}{severity} — {cited(finding.sources, finding.rule_id, show_ids)}")
    if report.ignored_input:
        with st.expander(
            f"Ignored input: {len(report.ignored_input)} item(s) of the record were not used", expanded=True
        ):
            for item in report.ignored_input:
                element = f" ({markdown_text(item.element)})" if item.element else ""
                st.markdown(f"- {markdown_text(item.resource)}{element}: {markdown_text(item.reason)}")
