"""The report's questions on the page: missing information answered in place, and "what if".

Both write to the case's one set of answers (`ui.case_answers.CaseAnswers`): an answer given in
the "needs information" box, or a what-if the clinician keeps, becomes the form's answer too, so
the next Assess from the form keeps it and the question does not come back. Questions are asked
by their text (the case model's titles), results told in the report's words, never field paths.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import streamlit as st

from decision.diff import DiffInWords, field_question, missing_question
from decision.evaluator import InvalidCase
from decision.fields import NOT_RULE_FIELDS, FieldGroup, FieldSpec, case_layout, field_catalogue
from decision.report import MissingInformation, Report
from decision.wording import in_asking_order
from ui.case_answers import CaseAnswers, Change, entries_asked, entry_words
from ui.case_form import HistoryTable, answer_widget, chosen_list_answer, history_answer
from ui.components import evaluator
from ui.record_text import markdown_text
from ui.red_flags import none_of_these, red_flag_specs

ANSWER_PREFIX = "answer_"
WHAT_IF_PREFIX = "whatif_"
ADD = "add:"
"""A what-if choice that adds an entry to a list (`add:medications`), not a field's new answer."""


def forget_answers() -> None:
    """Drop what was typed in the needs-information box and what-if: kept widgets would otherwise
    answer the same question for the next patient loaded ("None of these" for their red flags)."""
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith((ANSWER_PREFIX, WHAT_IF_PREFIX))]:
        del st.session_state[key]


def _groups() -> dict[str, FieldGroup]:
    return {group.path: group for group in case_layout()}


def _assessed(case: dict[str, Any]) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(case.get("assessment_date")))
    except ValueError:
        return None


def _item_spec(group: FieldGroup, name: str) -> FieldSpec | None:
    return next((spec for spec in group.fields if spec.path == name), None)


def _ask(case: dict[str, Any], item: MissingInformation) -> list[Change]:
    """One missing-information question with its widget; the answers given (none while unanswered)."""
    key = f"{ANSWER_PREFIX}{item.field}"
    head, _, tail = item.field.partition(".")
    groups = _groups()
    scalar = field_catalogue().scalars.get(item.field)
    if head in groups and groups[head].repeated and not tail:
        answer = history_answer(HistoryTable.of(groups[head], ANSWER_PREFIX), _assessed(case))
        return [] if answer.value is None else [Change(path=item.field, value=answer.value)]
    if head in groups and groups[head].repeated:
        spec = _item_spec(groups[head], tail)
        if spec is None:
            return []
        changes = []
        for index in entries_asked(case, item):
            label = f"{spec.ask()} ({entry_words(case, head, index)})"
            answered, value = answer_widget(spec, f"{key}.{index}", label=label)
            if answered:
                changes.append(Change(path=item.field, value=value, entry=index))
        return changes
    if scalar is not None and scalar.kind == "enum_list":
        listed = chosen_list_answer(scalar, ANSWER_PREFIX).value
        return [] if listed is None else [Change(path=item.field, value=listed)]
    if scalar is not None:
        answered, value = answer_widget(scalar, key, label=missing_question(item))
        return [Change(path=item.field, value=value)] if answered else []
    st.caption("Answer this in the case form.")
    return []


@st.fragment
def missing_questions(answers: CaseAnswers, report: Report) -> None:
    """Missing information as questions, answered in place and written to the case's answers.

    A fragment: answering a question reruns only this box; re-assessing reruns the page."""
    case = answers.case if isinstance(answers.case, dict) else {}
    if not report.missing_information:
        return
    with st.container(border=True):
        st.markdown("**Needs information before a decision**")
        changes: list[Change] = []
        asked: set[str] = set()
        knowledge = evaluator().knowledge
        flags = [key for key in red_flag_specs(knowledge) if key in {m.field for m in report.missing_information}]
        if flags:  # red flags first, with one answer for all of them
            none_of_these(knowledge, [f"{ANSWER_PREFIX}{path}" for path in flags], "answer_red_flags_none")
        for item in in_asking_order(knowledge, report.missing_information):
            if item.field in asked and not item.about:
                continue  # one question per field; the reasons are the report's
            asked.add(item.field)
            st.markdown(f"**{markdown_text(missing_question(item))}**")
            st.caption(markdown_text(item.why))
            changes.extend(_ask(case, item))
        if changes and st.button("Re-assess with these answers", type="primary", key="answer_reassess"):
            answers.apply(*changes)
            st.rerun()


def _changeable_fields() -> dict[str, FieldSpec]:
    """The case's own fields and its parts' fields (not lists' items), each a what-if can change alone."""
    return {
        spec.path: spec
        for group in case_layout()
        if not group.repeated and not group.keys
        for spec in group.fields
        if spec.path not in NOT_RULE_FIELDS
    }


def _addable_lists() -> dict[str, FieldGroup]:
    return {group.path: group for group in case_layout() if group.repeated and group.path != "diagnoses"}


ENTRY = "entry:"
"""A what-if choice that changes one answer of an entry already listed (`entry:medications:0:last_dose_hours_ago`)."""


def _entry_choices(case: dict[str, Any], lists: dict[str, FieldGroup]) -> dict[str, tuple[FieldGroup, int, FieldSpec]]:
    """Each answer of each listed entry ("apixaban: last dose, hours ago"), so a what-if can change
    the recorded apixaban's last dose, not only add a second apixaban beside it."""
    choices: dict[str, tuple[FieldGroup, int, FieldSpec]] = {}
    for path, group in lists.items():
        entries = case.get(path)
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, dict):
                for spec in group.fields:
                    choices[f"{ENTRY}{path}:{index}:{spec.path}"] = (group, index, spec)
    return choices


def _choice_words(
    choice: str,
    fields: dict[str, FieldSpec],
    lists: dict[str, FieldGroup],
    entries: dict[str, tuple[FieldGroup, int, FieldSpec]],
    case: dict[str, Any],
) -> str:
    if choice.startswith(ADD):
        return f"Add to {lists[choice[len(ADD) :]].title.lower()}"
    if choice in entries:
        group, index, spec = entries[choice]
        return f"{entry_words(case, group.path, index)} ({group.title.lower()}): {spec.label()}"
    return fields[choice].label()


def _new_entry(group: FieldGroup) -> dict[str, Any]:
    """An entry for a list, asked field by field (unanswered fields are left out: unknown)."""
    entry: dict[str, Any] = {}
    cols = st.columns(min(len(group.fields), 4))
    for index, spec in enumerate(group.fields):
        with cols[index % len(cols)]:
            answered, value = answer_widget(spec, f"{WHAT_IF_PREFIX}{group.path}.{spec.path}")
            if answered and value is not None:
                entry[spec.path] = value
    return entry


def show_words(words: DiffInWords) -> None:
    """A what-if's result as the report words it: titles, status labels, questions, rule statements."""
    if words.empty:
        st.info("No change to the report.")
        return
    lines = [f"- {markdown_text(s.title)}: **{s.before}** → **{s.after}**" for s in words.statuses]
    if words.red_flag:
        lines.append(f"- {words.red_flag}")
    lines += [f"- Now needs: {markdown_text(q)}" for q in words.now_needed]
    lines += [f"- No longer needs: {markdown_text(q)}" for q in words.no_longer_needed]
    st.markdown("\n".join(lines))
    for title, rules in (("Rules now met", words.rules_now_met), ("Rules no longer met", words.rules_no_longer_met)):
        if rules:
            st.markdown(f"**{title}**\n" + "\n".join(f"- {markdown_text(r)}" for r in rules))


@st.fragment
def what_if_panel(answers: CaseAnswers, report: Report, policy: str | None) -> None:
    """Change one answer, or add an entry to a list, and see what changes; keep it to make it the case's.

    A fragment: each what-if step reruns only this panel; keeping the answer reruns the page."""
    case = answers.case if isinstance(answers.case, dict) else {}
    with st.expander("What if… change one answer and see what changes"):
        fields, lists = _changeable_fields(), _addable_lists()
        entries = _entry_choices(case, lists)
        choice = st.selectbox(
            "Answer to change",
            [*fields, *entries, *(f"{ADD}{path}" for path in lists)],
            key="whatif_path",
            format_func=lambda c: _choice_words(c, fields, lists, entries, case),
        )
        if choice in entries:
            group, index, spec = entries[choice]
            answered, value = answer_widget(spec, f"{WHAT_IF_PREFIX}value")
            change = Change(path=f"{group.path}.{spec.path}", value=value if answered else None, entry=index)
        elif choice.startswith(ADD):
            group = lists[choice[len(ADD) :]]
            entry = _new_entry(group)
            if not entry:
                st.caption("Fill in the entry to see what it changes.")
                return
            if case.get(group.path) is None:
                st.caption(
                    f"{markdown_text(field_question(group.path))} is not recorded yet: "
                    "this what-if treats it as holding only this entry."
                )
            change = Change(path=group.path, value=entry, add=True)
        else:
            answered, value = answer_widget(fields[choice], f"{WHAT_IF_PREFIX}value")
            change = Change(path=choice, value=value if answered else None)
        try:
            result = answers.what_if(evaluator(), report, change, policy)
        except InvalidCase as exc:
            st.error(
                "That change makes the case invalid:\n"
                + "\n".join(f"- {markdown_text(p)}" for p in exc.echoed_problems)
            )
            return
        show_words(result.words)
        if st.button("Keep this answer", key="whatif_keep"):
            answers.apply(change)
            st.rerun()
