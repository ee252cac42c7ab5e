"""Trainee: the indications matrix, the rules with their sources, and a quiz over the vignettes.

The quiz shows a vignette as a clinician would read it (prose, a neutral title) and asks the
engine's answer for every candidate, then puts the learner's answer beside the engine's.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from decision.explain import STATUS_LABEL, candidate_title
from decision.matrix import readable_matrix
from decision.report import STATUS_ORDER
from decision.rule_text import rule_text
from ui.case_view import show_case
from ui.components import demos, evaluator
from ui.identity import require_role

TEACHING_ROLES = ("trainee", "clinician", "mdt_chair")
"""The teaching pages hold knowledge, not cases: every role may read them."""
EMPTY_CELL = ""
"""A cell with no indication is left blank (st.table renders cells as Markdown: "-" became a bullet)."""
RIGHT_MARK = "correct"
WRONG_MARK = "not this time"
"""The quiz's marks are words: symbols render as empty boxes without an emoji font."""


def matrix_page() -> None:
    require_role(*TEACHING_ROLES)
    st.header("Trainee: which procedure for which condition")
    knowledge = evaluator().knowledge
    policies = sorted(evaluator().policies)
    policy = st.selectbox(
        "Policy profile",
        policies,
        key="matrix_policy",
        index=policies.index(knowledge.manifest.default_policy),
        format_func=lambda pid: knowledge.policies[pid].title,
    )
    compiled = evaluator().policies[policy]
    cells = readable_matrix(knowledge, compiled)
    vocab = knowledge.vocabulary
    by_cell = {(c.condition, c.procedure): c for c in cells}
    table = pd.DataFrame(
        {
            vocab.procedures[p].label: [
                "; ".join(by_cell[(c, p)].titles) or EMPTY_CELL for c in sorted(vocab.conditions)
            ]
            for p in sorted(vocab.procedures)
        },
        index=[vocab.conditions[c].label for c in sorted(vocab.conditions)],
    )
    st.caption(
        "Generated from the indication rules of the knowledge base: each cell names the indications (by their "
        "rules' titles) that can make the procedure a candidate for the condition; blank where there is none."
    )
    st.table(table)  # a table wraps its text, so every procedure's column stays in view
    filled = [c for c in cells if c.rule_ids]
    names = {f"{c.condition} × {c.procedure}": c for c in filled}
    chosen = st.selectbox(
        "Open a cell",
        list(names),
        key="matrix_cell",
        format_func=lambda k: (
            f"{vocab.conditions[names[k].condition].label} × {vocab.procedures[names[k].procedure].label}"
        ),
    )
    cell = names[chosen]
    for rule_id in cell.rule_ids:
        words = rule_text(knowledge.rule_index[rule_id].rule, compiled)
        st.markdown(
            f"**{words.title}** ([the rule and its sources](/rules?rule={rule_id}))  \n{words.statement}  \n*Sources:* "
            + "; ".join(f"{knowledge.source_label(ref)} ({ref})" for ref in words.sources)
        )


def rules_page() -> None:
    require_role(*TEACHING_ROLES)
    st.header("Trainee: rules and their sources")
    knowledge = evaluator().knowledge
    policy = evaluator().policies[knowledge.manifest.default_policy]
    st.caption(
        f"Knowledge {knowledge.version} · `{knowledge.content_hash[:12]}` · {len(knowledge.rules)} rules; "
        f"figures shown for the {policy.policy_id} profile"
    )
    wanted = st.query_params.get("rule")
    topics = sorted({e.topic for e in knowledge.rules})
    default_topic = knowledge.rule_index[wanted].topic if wanted in knowledge.rule_index else topics[0]
    topic = st.selectbox("Topic", topics, index=topics.index(default_topic), key="rules_topic")
    for entry in (e for e in knowledge.rules if e.topic == topic):
        rule = entry.rule
        words = rule_text(rule, policy)  # a param the profile lacks stays as {name}
        with st.expander(f"{rule.id}: {words.title}", expanded=rule.id == wanted):
            st.markdown(words.statement)
            st.markdown(
                f"*Evidence:* {rule.evidence}" + ("  \n*Re-check:* rests on a recalled figure" if rule.recheck else "")
            )
            for ref in rule.sources:
                st.markdown(f"- `{ref}`: {knowledge.source_label(ref)}")
            if rule.policies:
                st.markdown(f"*Policies:* {', '.join(rule.policies)}")
            if rule.tests:
                st.markdown(f"*Vignettes that exercise it:* {', '.join(rule.tests)}")


def quiz_title(number: int) -> str:
    """A vignette's title in the quiz: its number only (the vignettes' own titles give the answer away)."""
    return f"Case {number}"


def quiz_page() -> None:
    require_role(*TEACHING_ROLES)
    st.header("Trainee: quiz")
    cases = demos()
    numbers = {key: index for index, key in enumerate(cases, start=1)}
    chosen = st.selectbox("Case", list(cases), key="quiz_case", format_func=lambda k: quiz_title(numbers[k]))
    case = cases[chosen]["case"]
    show_case(case, heading=quiz_title(numbers[chosen]))  # the facts only: no report, so nothing given away
    report = evaluator().evaluate(case)
    if not report.candidates:
        st.info("No candidate procedures for this case: no guideline applies.")
        return
    st.markdown(
        f"For each procedure considered, what does the engine conclude under the {report.policy_title} profile?"
    )
    answers: dict[int, str | None] = {}
    with st.form(f"quiz_{chosen}"):
        for index, cand in enumerate(report.candidates):
            answers[index] = st.selectbox(
                candidate_title(cand),
                STATUS_ORDER,
                index=None,
                placeholder="(your answer)",
                format_func=lambda s: STATUS_LABEL[s],
                key=f"quiz_{chosen}_{index}",
            )
        submitted = st.form_submit_button("Check my answers")
    if not submitted:
        return
    right = sum(answers[i] == cand.status for i, cand in enumerate(report.candidates))
    st.markdown(f"**{right} of {len(report.candidates)} right.** Teaching point: {cases[chosen]['teaches']}")
    st.table(
        pd.DataFrame(
            [
                {
                    "Procedure": candidate_title(cand),
                    "Your answer": STATUS_LABEL[answer] if (answer := answers[i]) else "(no answer)",
                    "Engine": STATUS_LABEL[cand.status],
                    "Mark": RIGHT_MARK if answers[i] == cand.status else WRONG_MARK,
                }
                for i, cand in enumerate(report.candidates)
            ]
        ).set_index("Procedure")
    )
    for cand in report.candidates:
        with st.expander(f"Why: {candidate_title(cand)} ({STATUS_LABEL[cand.status]})"):
            for reason in cand.reasons:
                st.markdown(f"- {reason.text} ([the rule](/rules?rule={reason.rule_id}))")
