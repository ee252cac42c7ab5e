"""Policies side by side: the current case's candidates under every policy profile, and why a
profile's answer differs from the default's (the rule, the figure or the bleeding-risk class, and
its source). The comparison itself is `decision.policy_compare`; this only lays it out."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from decision.evaluator import InvalidCase
from decision.policy_compare import DifferingRule, PolicyComparison, compare_policies
from ui.components import evaluator
from ui.record_text import markdown_text

UNDER = {"profile": "applies under {policy} only", "default": "applies under {default} only", "both": "differs"}


def _table(comparison: PolicyComparison) -> None:
    titles = {p.policy: p.title for p in comparison.profiles}
    rows = [
        {"Candidate": row.title, **{titles[p.policy]: row.words[p.policy] for p in comparison.profiles}}
        for row in comparison.rows
    ]
    st.table(pd.DataFrame(rows).set_index("Candidate"))
    st.caption(
        "Antithrombotic guideline of each profile (its bleeding-risk classes decide the holds): "
        + "; ".join(f"{p.title}: {p.guideline_title or 'none named'}" for p in comparison.profiles)
        + ". A payer's profile (Medicare LCDs) is worded as coverage."
    )


def _rule_line(rule: DifferingRule, policy_title: str, default_title: str) -> str:
    under = UNDER[rule.applies_under].format(policy=policy_title, default=default_title)
    sources = "; ".join(rule.source_titles)
    return f"  - *{markdown_text(rule.title)}* ({under}): {markdown_text(rule.text)}  \n    Sources: {markdown_text(sources)}"


OPEN_KEY = "policy_compare_open"
"""The expander's open state: the comparison is worked out only while it is open."""


def policy_comparison(case: dict[str, Any]) -> None:
    """The comparison in an expander under the report; one call from the clinician page.

    It evaluates the case once per profile, so it runs only while its expander is open (a lazy
    expander: opening it reruns the page): closed, it would still cost every rerun of the page."""
    section = st.expander("Policies side by side: clinic, NICE, Medicare (CMS), ASIPP", key=OPEN_KEY, on_change="rerun")
    with section:
        if not section.open:
            return
        try:
            comparison = compare_policies(evaluator(), case)
        except InvalidCase:
            st.info("The comparison needs a valid case; see the problems above.")
            return
        if not comparison.rows:
            st.markdown("No profile has a candidate procedure for this case as it stands.")
            return
        _table(comparison)
        default_title = next(p.title for p in comparison.profiles if p.policy == comparison.default_policy)
        if not comparison.differs:
            st.markdown(f"Every profile gives this case the same answers as {markdown_text(default_title)}.")
            return
        st.markdown(f"**Where a profile differs from {markdown_text(default_title)}, and why**")
        with st.expander("Rule ids"):
            ids = sorted({r.rule_id for row in comparison.rows for d in row.differences for r in d.rules})
            st.markdown(", ".join(f"`{i}`" for i in ids))
        for row in comparison.rows:
            for difference in row.differences:
                lines = [
                    f"- **{markdown_text(row.title)}**: {markdown_text(difference.words)} under "
                    f"{markdown_text(difference.policy_title)} ({markdown_text(difference.default_words)} under "
                    f"{markdown_text(default_title)})",
                    *(_rule_line(r, difference.policy_title, default_title) for r in difference.rules),
                ]
                st.markdown("\n".join(lines))
