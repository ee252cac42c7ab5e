"""Trainee: the indications matrix, the rules with their sources, and a quiz over the vignettes."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from decision.explain import STATUS_LABEL, candidate_title
from decision.matrix import indication_matrix
from decision.report import STATUS_ORDER
from decision.verdict import rule_text
from ui.components import demos, evaluator, rule_link, status_badge
from ui.identity import require_role

TEACHING_ROLES = ("trainee", "clinician", "mdt_chair")
"""The teaching pages hold knowledge, not cases: every role may read them."""


def matrix_page() -> None:
    require_role(*TEACHING_ROLES)
    st.header("Trainee: which procedure for which condition")
    knowledge = evaluator().knowledge
    policy = st.selectbox(
        "Policy profile",
        sorted(evaluator().policies),
        key="matrix_policy",
        index=sorted(evaluator().policies).index(knowledge.manifest.default_policy),
    )
    cells = indication_matrix(knowledge, policy)
    vocab = knowledge.vocabulary
    table = pd.DataFrame(
        {
            vocab.procedures[p].label: [", ".join(c.rule_ids) or "-" for c in cells if c.procedure == p]
            for p in sorted(vocab.procedures)
        },
        index=[vocab.conditions[c].label for c in sorted(vocab.conditions)],
    )
    st.caption(
        "Generated from the indication rules of the knowledge base: each cell names the rules that can "
        "make the procedure a candidate for the condition."
    )
    st.dataframe(table, use_container_width=True)
    filled = [c for c in cells if c.rule_ids]
    chosen = st.selectbox("Open a cell", [f"{c.condition} × {c.procedure}" for c in filled], key="matrix_cell")
    cell = filled[[f"{c.condition} × {c.procedure}" for c in filled].index(chosen)]
    for rule_id in cell.rule_ids:
        entry = knowledge.rule_index[rule_id]
        words = rule_text(entry.rule, evaluator().policies[policy])
        st.markdown(
            f"**{words.title}** — {rule_link(rule_id)}  \n{words.statement}  \n*Sources:* "
            + "; ".join(f"`{ref}` {knowledge.source_label(ref)}" for ref in words.sources)
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


def quiz_page() -> None:
    require_role(*TEACHING_ROLES)
    st.header("Trainee: quiz")
    cases = demos()
    chosen = st.selectbox("Vignette", list(cases), key="quiz_case", format_func=lambda k: cases[k]["title"])
    case = cases[chosen]["case"]
    with st.expander("The case", expanded=True):
        st.json(case, expanded=False)
    report = evaluator().evaluate(case)
    shown = [c for c in report.candidates if c.status != "not_indicated"] or report.candidates[:3]
    if not shown:
        st.info("No candidate procedures for this case: no guideline applies.")
        return
    answers = {}
    with st.form(f"quiz_{chosen}"):
        for index, cand in enumerate(shown):
            answers[index] = st.selectbox(
                candidate_title(cand),
                ["(your answer)", *STATUS_ORDER],
                format_func=lambda s: s if s.startswith("(") else STATUS_LABEL[s],
                key=f"quiz_{chosen}_{index}",
            )
        submitted = st.form_submit_button("Check my answers")
    if not submitted:
        return
    right = sum(answers[i] == cand.status for i, cand in enumerate(shown))
    st.markdown(f"**{right} of {len(shown)} right.** Teaching point: {cases[chosen]['teaches']}")
    for index, cand in enumerate(shown):
        mark = "✅" if answers[index] == cand.status else "❌"
        st.markdown(f"{mark} {candidate_title(cand)}: {status_badge(cand.status)}")
        for reason in cand.reasons:
            st.markdown(f"  - {reason.text} — {rule_link(reason.rule_id)}")
