"""The case form, built from the case model: every answer starts as "unknown", so nothing unasked can pass as "no".

Each question's label, unit, bounds and choices are the model's (`decision.fields.case_layout`),
asked by one widget builder, `answer_widget`, which the what-if and missing-information
questions use too. What the form adds is how lists are asked, a safety matter:

Lists (medications, imaging, earlier injections, blocks, allergies) first ask whether the history
was taken: "not asked" stays unknown, "none" is an empty list, "listed" opens a table at once (the
form is not an `st.form`, so the table appears on the click, not after Assess). A list is sent only
when it can be read: "listed" with no rows, or with a row that is half filled or invalid, is sent
as unknown, so the report asks for it rather than reading an untouched table as "takes nothing".
A row that cannot be used is named in place, next to its table, and the rest of the case is kept.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import streamlit as st
from pydantic import ValidationError

from decision.case import Case, vocabulary
from decision.fields import FieldGroup, FieldSpec, case_layout
from decision.wording import asked as question_applies
from decision.wording import humanise
from ui.case_answers import CaseAnswers
from ui.components import evaluator
from ui.form_fill import (
    ASKED_ELSEWHERE,
    BOOL_CHOICES,
    DIAGNOSIS_PREFIX,
    HISTORY,
    NONE_LISTED,
    NOT_ASKED,
    PREFIX,
    UNKNOWN,
    field_key,
    form_fill,
    range_key,
    table_key,
    taken_key,
)
from ui.record_text import markdown_text
from ui.red_flags import red_flag_group

ASSESS_KEY = "f_assess"
COLUMNS = 4
ROWS_SUFFIX = "_rows"
"""Session key suffix of the rows a table starts from (the answers it was last refilled with)."""
TYPED_SUFFIX = "_typed"
"""A form table's rows as last typed: the editor's own state is dropped while its tab is closed."""
ROW_WORDS = {
    "medications": ("Medication", "the medication list"),
    "imaging": ("Imaging", "the imaging list"),
    "prior_injections": ("Earlier injection", "the list of earlier injections"),
    "diagnostic_blocks": ("Diagnostic block", "the list of diagnostic blocks"),
}
"""How a row and a list are named in the form's warnings."""


def _choice_label(spec: FieldSpec, choice: str) -> str:
    terms = getattr(vocabulary(), spec.vocabulary, None) if spec.vocabulary else None
    term = terms.get(choice) if isinstance(terms, dict) else None
    return str(getattr(term, "label", None) or humanise(choice))


def _levels(text: str) -> list[str] | None:
    return [part.strip().upper() for part in text.split(",") if part.strip()] or None


def _kept(key: str) -> Literal["page"] | None:
    """The case form's widgets keep their value while not drawn (its tab closed, a question hidden):
    what was typed but not yet assessed is still there when the form is opened again. The
    needs-information box and what-if (other prefixes) start afresh each time they ask."""
    return "page" if key.startswith(PREFIX) else None


def answer_widget(
    spec: FieldSpec, key: str, label: str | None = None, start: dt.date | None = None
) -> tuple[bool, Any]:
    """One widget for one case field, typed, labelled and bounded by the model. Returns (answered, value).

    Every widget starts unanswered (a date may be given a `start`), and an unanswered value is None: unknown.
    """
    label = label or spec.ask()
    hint = spec.description or None
    keep = _kept(key)
    if spec.kind == "bool":
        picked = st.radio(label, BOOL_CHOICES, key=key, horizontal=True, help=hint, persist_state=keep)
        return picked != BOOL_CHOICES[0], None if picked == BOOL_CHOICES[0] else picked == BOOL_CHOICES[1]
    if spec.kind == "enum":
        picked = st.selectbox(
            label,
            [UNKNOWN, *spec.choices],
            key=key,
            help=hint,
            persist_state=keep,
            format_func=lambda c: c if c == UNKNOWN else _choice_label(spec, c),
        )
        return picked != UNKNOWN, None if picked == UNKNOWN else str(picked)
    if spec.kind == "number":
        cast = int if spec.integer else float
        value = st.number_input(
            label,
            value=None,
            min_value=None if spec.minimum is None else cast(spec.minimum),
            max_value=None if spec.maximum is None else cast(spec.maximum),
            step=1 if spec.integer else None,
            key=key,
            help=hint,
            persist_state=keep,
        )
        return value is not None, None if value is None else cast(value)
    if spec.kind == "date":
        picked_date = st.date_input(label, value=start, key=key, help=hint, persist_state=keep)
        answered = isinstance(picked_date, dt.date)
        return answered, picked_date.isoformat() if isinstance(picked_date, dt.date) else None
    if spec.kind == "enum_list":
        listed = st.multiselect(
            f"{label} (leave empty for none)",
            list(spec.choices),
            key=key,
            help=hint,
            persist_state=keep,
            format_func=lambda c: _choice_label(spec, c),
        )
        return True, list(listed)
    text = st.text_input(label, key=key, help=hint, persist_state=keep).strip()
    if spec.kind == "text_list":
        return bool(text), _levels(text)
    return bool(text), text or None


def _column(spec: FieldSpec) -> Any:
    """A table column for one field of a list's items, from the same declaration as `answer_widget`."""
    label, hint = spec.label(), spec.description or None
    if spec.kind == "bool":
        return st.column_config.CheckboxColumn(label, help=hint)
    if spec.kind == "enum":
        return st.column_config.SelectboxColumn(
            label, options=list(spec.choices), help=hint, format_func=lambda c: _choice_label(spec, c)
        )  # the cell shows the label ("MRI"), the case keeps the id
    if spec.kind == "number":
        return st.column_config.NumberColumn(
            label, min_value=spec.minimum, max_value=spec.maximum, step=1 if spec.integer else None, help=hint
        )
    if spec.kind == "date":
        return st.column_config.DateColumn(label, help=hint)
    return st.column_config.TextColumn(label, help=hint)


@dataclass(frozen=True)
class HistoryTable:
    """One list of the case asked as a table: its case field, widget key, how a row and the list are named."""

    field: str
    label: str
    prefix: str
    row_noun: str
    list_noun: str
    items: tuple[FieldSpec, ...]

    @classmethod
    def of(cls, group: FieldGroup, prefix: str = PREFIX) -> HistoryTable:
        """The table for one list; `prefix` keeps the missing-information box's copy apart from the form's."""
        row_noun, list_noun = ROW_WORDS.get(group.path, (group.title, f"the {group.title.lower()} list"))
        return cls(group.path, group.title, prefix, row_noun, list_noun, group.fields)

    @property
    def columns(self) -> dict[str, Any]:
        return {spec.path: _column(spec) for spec in self.items}

    def column_name(self, column: str) -> str:
        spec = next((s for s in self.items if s.path == column), None)
        label = spec.label() if spec is not None else column
        return label[:1].lower() + label[1:]


@dataclass(frozen=True)
class ListAnswer:
    """What the case gets for one list (None = unknown), and why, when rows had to be left out."""

    value: list[Any] | None
    problems: tuple[str, ...] = ()
    message: str = ""


@dataclass(frozen=True)
class FormSubmission:
    """The case the form sends on Assess, and the lists it had to leave unknown (said again with the report)."""

    case: dict[str, Any]
    left_out: tuple[str, ...] = field(default=())


def _clean(value: Any) -> Any:
    """A table cell as case data: empty cells (None, NaN, NaT, blank text) are None, dates ISO text."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _cell(value: Any) -> Any:
    """A typed cell kept to start the table again: empty is None, a date a date (as the editor takes it)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.date() if isinstance(value, dt.datetime) else value


def _row_problems(table: HistoryTable, row: dict[str, Any], number: int, assessed: dt.date | None) -> list[str]:
    """The row checked by the case model itself, with the assessment date (history cannot be after it)."""
    try:
        Case.model_validate({"assessment_date": assessed, table.field: [row]})
    except ValidationError as exc:
        return [_problem(table, number, error) for error in exc.errors()]
    return []


def _problem(table: HistoryTable, number: int, error: Any) -> str:
    where = f"{table.row_noun} row {number}"
    loc = error["loc"]
    if len(loc) >= 3 and loc[0] == table.field:
        column = table.column_name(str(loc[2]))
        if error["type"] == "missing":
            return f"{where}: {column} is missing"
        given = error.get("input")
        shown = "" if given is None or str(given) in error["msg"] else f" (given: {given})"
        return f"{where}: {column}: {error['msg']}{shown}"
    return f"{where}: {str(error['msg']).replace(f'{table.field}[0].', '')}"


def _rows_named(numbers: list[int]) -> str:
    if len(numbers) == 1:
        return f"row {numbers[0]} is"
    return "rows " + ", ".join(str(n) for n in numbers[:-1]) + f" and {numbers[-1]} are"


def _row(table: HistoryTable, record: dict[Any, Any]) -> dict[str, Any]:
    kinds = {spec.path: spec.kind for spec in table.items}
    row: dict[str, Any] = {}
    for column, cell in record.items():
        value = _clean(cell)
        if kinds.get(str(column)) == "text_list" and isinstance(value, str):
            value = _levels(value)
        if value is not None:
            row[str(column)] = value
    return row


def list_answer(table: HistoryTable, frame: pd.DataFrame, assessed: dt.date | None) -> ListAnswer:
    """The rows of a "listed" table as the case's list; unknown (None) unless every filled row is usable.

    A half-filled or invalid row is left out, and because the list would then be incomplete the whole
    list is unknown: the engine asks for it instead of passing on the rows it could read.
    """
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    unusable: list[int] = []
    for number, record in enumerate(frame.to_dict("records"), start=1):
        row = _row(table, record)
        if all(v is False for v in row.values()):
            continue  # nothing entered but unticked boxes: not an entry
        found = _row_problems(table, row, number, assessed)
        if found:
            problems.extend(found)
            unusable.append(number)
        else:
            rows.append(row)
    if unusable:
        message = (
            f"{table.list_noun[:1].upper()}{table.list_noun[1:]} is treated as not yet known until "
            f"{_rows_named(unusable)} completed (or removed), so the report asks for it."
        )
        return ListAnswer(None, tuple(problems), message)
    return ListAnswer(rows or None)


def history_answer(table: HistoryTable, assessed: dt.date | None) -> ListAnswer:
    """One list asked: not asked (unknown), none (empty), or listed, with its table shown at once.

    The table starts from the rows the answers last gave it (or one blank row); what is typed is
    read from the editor on every run, and flagged beside the table when a row cannot be used.
    """
    taken_at = taken_key(table.field, table.prefix)
    taken = st.radio(f"**{table.label}**", HISTORY, key=taken_at, horizontal=True, persist_state=_kept(taken_at))
    if taken == NOT_ASKED:
        return ListAnswer(None)
    if taken == NONE_LISTED:
        return ListAnswer([])
    columns = table.columns
    key = table_key(table.field, table.prefix)
    kept = _kept(key) is not None
    typed = st.session_state.pop(key + TYPED_SUFFIX, None) if kept else None
    if typed is not None and key not in st.session_state:  # not drawn last run: start from what was typed
        st.session_state[key + ROWS_SUFFIX] = typed
    start = st.session_state.get(key + ROWS_SUFFIX) or [{column: None for column in columns}]
    base = pd.DataFrame(start, columns=list(columns))
    frame = st.data_editor(base, key=key, num_rows="dynamic", column_config=columns)
    if kept:
        st.session_state[key + TYPED_SUFFIX] = [
            {str(c): _cell(v) for c, v in r.items()} for r in frame.to_dict("records")
        ]
    answer = list_answer(table, frame, assessed)
    if answer.problems:
        st.warning("  \n".join(markdown_text(line) for line in [*answer.problems, answer.message]))
    elif answer.value is None:
        st.info(f"No rows yet: {table.list_noun} is treated as not yet known. Choose None if there is nothing to list.")
    return answer


def chosen_list_answer(spec: FieldSpec, prefix: str = PREFIX) -> ListAnswer:
    """A list of vocabulary ids (allergies), asked like the tables: not asked, none, or listed."""
    taken_at = taken_key(spec.path, prefix)
    taken = st.radio(f"**{spec.ask()}**", HISTORY, key=taken_at, horizontal=True, persist_state=_kept(taken_at))
    if taken == NOT_ASKED:
        return ListAnswer(None)
    if taken == NONE_LISTED:
        return ListAnswer([])
    noun = spec.label().lower()
    listed = st.multiselect(
        f"{spec.label()} listed",
        list(spec.choices),
        key=field_key(spec.path, prefix),
        format_func=lambda c: _choice_label(spec, c),
        persist_state=_kept(field_key(spec.path, prefix)),
    )
    if not listed:
        st.info(f"None chosen yet: {noun} are treated as not yet known. Choose None if there are none.")
    return ListAnswer(list(listed) or None)


def _answers(fields: tuple[FieldSpec, ...], key_prefix: str = PREFIX) -> dict[str, Any]:
    """A row of columns of questions; each answer under its field's name (unanswered: None).

    The assessment date alone starts answered, as today: every time window counts back from it.
    """
    answers: dict[str, Any] = {}
    cols = st.columns(COLUMNS)
    for index, spec in enumerate(fields):
        with cols[index % COLUMNS]:
            key = field_key(spec.path, key_prefix)
            today = dt.date.today() if spec.path == "assessment_date" and key not in st.session_state else None
            _, answers[spec.path.rsplit(".", 1)[-1]] = answer_widget(spec, key, start=today)
    return answers


def _ranges(group: FieldGroup) -> dict[str, Any] | None:
    """The laboratory's reference ranges, one pair of limits per lab; a lab with neither is left out."""
    labs = vocabulary().labs
    with st.expander(group.title):
        ranges: dict[str, Any] = {}
        for lab in group.keys:
            cols = st.columns(len(group.fields))
            limits: dict[str, Any] = {}
            for col, spec in zip(cols, group.fields, strict=True):
                with col:
                    name = labs[lab].label if lab in labs else lab
                    label = f"{name} {spec.label()}"
                    _, limits[spec.path] = answer_widget(spec, range_key(lab, spec.path), label)
            if any(v is not None for v in limits.values()):
                ranges[lab] = limits
    return ranges or None


def refill(answers: CaseAnswers) -> None:
    """Show the case's answers in the form when they changed elsewhere (a demo, pasted JSON, the
    missing-information box, a kept what-if): every widget is set before it is drawn, and each
    table starts again from the answers' rows."""
    if not answers.form_behind:
        return
    fill = form_fill(answers.case)
    before = None if answers.form_case is None else form_fill(answers.form_case)
    for key, value in fill.values.items():
        if before is None or before.values.get(key) != value or key not in st.session_state:
            st.session_state[key] = value
    for list_path, rows in fill.rows.items():
        if before is None or before.rows.get(list_path) != rows:
            key = table_key(list_path)
            st.session_state.pop(key, None)
            st.session_state.pop(key + TYPED_SUFFIX, None)
            st.session_state[key + ROWS_SUFFIX] = rows
    answers.shown = answers.revision
    answers.form_case = copy.deepcopy(answers.case)


def case_form(answers: CaseAnswers | None = None) -> FormSubmission | None:
    """The form; returns the case when Assess is pressed.

    Not an `st.form`: the lists' tables must appear as soon as "Listed" is chosen, and Assess reads
    every answer as it stands on the page. With the page's `answers`, the form first shows them
    if they changed elsewhere.
    """
    if answers is not None:
        refill(answers)
    knowledge = evaluator().knowledge
    flags = red_flag_group(knowledge, field_key, answer_widget)  # red flags first, as one group
    own, *parts = case_layout()
    st.markdown("**Patient**")
    shown = {spec.path: st.session_state.get(field_key(spec.path)) for spec in own.fields}
    case = _answers(
        tuple(
            s
            for s in own.fields
            if s.kind != "enum_list" and s.path not in ASKED_ELSEWHERE and question_applies(knowledge, s.path, shown)
        )
    )
    chosen_lists = [s for s in own.fields if s.kind == "enum_list"]
    assessed = dt.date.fromisoformat(case["assessment_date"]) if case.get("assessment_date") else None
    lists: dict[str, ListAnswer] = {}
    order = list(Case.model_fields)
    asked: list[FieldGroup | FieldSpec] = sorted(
        [*parts, *chosen_lists], key=lambda part: order.index(part.path.partition(".")[0])
    )
    for group in asked:
        if isinstance(group, FieldSpec):
            case[group.path] = chosen_list_answer(group).value
            continue
        head, _, tail = group.path.partition(".")
        if group.keys:
            case[head][tail] = _ranges(group)
            continue
        if group.path == "diagnoses" or not group.repeated:
            st.markdown(f"**{group.title}**")  # a list's own question names it
        if group.path == "diagnoses":
            diagnosis = _answers(group.fields, DIAGNOSIS_PREFIX)
            # nothing entered is "not recorded", never "no diagnosis"
            case["diagnoses"] = [diagnosis] if any(v is not None for v in diagnosis.values()) else None
        elif group.repeated:
            lists[group.path] = history_answer(HistoryTable.of(group), assessed)
            case[group.path] = lists[group.path].value
        else:
            case[group.path] = _answers(tuple(spec for spec in group.fields if spec.path not in flags))
    for path, value in flags.items():
        head, _, tail = path.partition(".")
        case[head][tail] = value
    if not st.button("Assess", type="primary", key=ASSESS_KEY):
        return None
    left_out = tuple(
        line for answer in lists.values() if answer.problems for line in (*answer.problems, answer.message)
    )
    return FormSubmission(case, left_out)
