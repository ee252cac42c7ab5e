"""The case form: every answer starts as "unknown", so nothing unasked can pass as "no".

Lists (medications, imaging, earlier injections, blocks, allergies) first ask whether the history
was taken: "not asked" stays unknown, "none" is an empty list, "listed" opens a table at once (the
form is not an `st.form`, so the table appears on the click, not after Assess). A list is sent only
when it can be read: "listed" with no rows, or with a row that is half filled or invalid, is sent
as unknown, so the report asks for it rather than reading an untouched table as "takes nothing".
A row that cannot be used is named in place, next to its table, and the rest of the case is kept.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
from pydantic import ValidationError

from decision.case import Case, vocabulary

UNKNOWN = "(unknown)"
HISTORY = ("Not asked", "None", "Listed")
ASSESS_KEY = "f_assess"


@dataclass(frozen=True)
class HistoryTable:
    """One list of the case asked as a table: its case field, widget key, how a row and the list are named."""

    field: str
    label: str
    key: str
    row_noun: str
    list_noun: str
    columns: dict[str, Any]

    def column_name(self, column: str) -> str:
        label = str(self.columns.get(column, {}).get("label") or column)
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


def _history_tables() -> dict[str, HistoryTable]:
    vocab = vocabulary()
    tables = (
        HistoryTable(
            "medications",
            "Medication history",
            "f_meds",
            "Medication",
            "the medication list",
            {
                "name": st.column_config.TextColumn("Name"),
                "last_dose_hours_ago": st.column_config.NumberColumn("Last dose (hours ago)", min_value=0),
                # answers "is it an anticoagulant or antiplatelet?" for a name the drug list lacks
                "drug_class": st.column_config.SelectboxColumn(
                    "Drug class (if not in the list)", options=sorted(vocab.drug_classes)
                ),
                "regimen": st.column_config.SelectboxColumn("Dose or indication", options=sorted(vocab.regimens)),
            },
        ),
        HistoryTable(
            "imaging",
            "Imaging",
            "f_imaging",
            "Imaging",
            "the imaging list",
            {
                "modality": st.column_config.SelectboxColumn("Modality", options=sorted(vocab.modalities)),
                "date": st.column_config.DateColumn("Date"),
                "concordant": st.column_config.CheckboxColumn("Matches the symptoms"),
            },
        ),
        HistoryTable(
            "prior_injections",
            "Earlier injections",
            "f_prior",
            "Earlier injection",
            "the list of earlier injections",
            {
                "procedure": st.column_config.SelectboxColumn("Procedure", options=sorted(vocab.procedures)),
                "approach": st.column_config.SelectboxColumn("Approach", options=sorted(vocab.approaches)),
                "region": st.column_config.SelectboxColumn("Region", options=sorted(vocab.regions)),
                "date": st.column_config.DateColumn("Date"),
                "steroid": st.column_config.CheckboxColumn("Steroid"),
                "relief_percent": st.column_config.NumberColumn("Relief %", min_value=0, max_value=100),
                "relief_weeks": st.column_config.NumberColumn("Relief (weeks)", min_value=0),
                "worked": st.column_config.CheckboxColumn("Worked (worthwhile, lasting relief)"),
            },
        ),
        HistoryTable(
            "diagnostic_blocks",
            "Diagnostic blocks",
            "f_blocks",
            "Diagnostic block",
            "the list of diagnostic blocks",
            {
                "procedure": st.column_config.SelectboxColumn("Procedure", options=sorted(vocab.procedures)),
                "region": st.column_config.SelectboxColumn("Region", options=sorted(vocab.regions)),
                "date": st.column_config.DateColumn("Date"),
                "relief_percent": st.column_config.NumberColumn("Relief %", min_value=0, max_value=100),
            },
        ),
    )
    return {table.field: table for table in tables}


def _choice(label: str, kind: str, key: str, options: list[str] | None = None) -> str | None:
    vocab = getattr(vocabulary(), kind) if options is None else None
    ids = options if options is not None else sorted(vocab)
    labels = {i: (vocab[i].label if vocab is not None else i) for i in ids}
    picked = st.selectbox(label, [UNKNOWN, *ids], key=key, format_func=lambda i: i if i == UNKNOWN else labels[i])
    return None if picked == UNKNOWN else str(picked)


def _yes_no(label: str, key: str) -> bool | None:
    picked = st.radio(label, ["Unknown", "Yes", "No"], key=key, horizontal=True)
    return None if picked == "Unknown" else picked == "Yes"


def _number(label: str, key: str, integer: bool = False, **bounds: Any) -> float | int | None:
    value = st.number_input(label, value=None, key=key, step=1 if integer else None, **bounds)
    if value is None:
        return None
    return int(value) if integer else float(value)


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


def list_answer(table: HistoryTable, frame: pd.DataFrame, assessed: dt.date | None) -> ListAnswer:
    """The rows of a "listed" table as the case's list; unknown (None) unless every filled row is usable.

    A half-filled or invalid row is left out, and because the list would then be incomplete the whole
    list is unknown: the engine asks for it instead of passing on the rows it could read.
    """
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    unusable: list[int] = []
    for number, record in enumerate(frame.to_dict("records"), start=1):
        row = {str(k): v for k, v in ((k, _clean(v)) for k, v in record.items()) if v is not None}
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


def _history(table: HistoryTable, assessed: dt.date | None) -> ListAnswer:
    taken = st.radio(table.label, HISTORY, key=f"{table.key}_taken", horizontal=True)
    if taken == "Not asked":
        return ListAnswer(None)
    if taken == "None":
        return ListAnswer([])
    empty = pd.DataFrame({column: [None] for column in table.columns})
    frame = st.data_editor(empty, key=f"{table.key}_table", num_rows="dynamic", column_config=table.columns)
    answer = list_answer(table, frame, assessed)
    if answer.problems:
        st.warning("  \n".join([*answer.problems, answer.message]), icon="⚠️")
    elif answer.value is None:
        st.info(f"No rows yet: {table.list_noun} is treated as not yet known. Choose None if there is nothing to list.")
    return answer


def _allergies() -> ListAnswer:
    taken = st.radio("Allergies", HISTORY, key="f_allergies_taken", horizontal=True)
    if taken == "Not asked":
        return ListAnswer(None)
    if taken == "None":
        return ListAnswer([])
    listed = st.multiselect("Allergies listed", sorted(vocabulary().allergies), key="f_allergies")
    if not listed:
        st.info("No allergy chosen yet: allergies are treated as not yet known. Choose None if there are none.")
    return ListAnswer(list(listed) or None)


def case_form() -> FormSubmission | None:
    """The form; returns the case when Assess is pressed.

    Not an `st.form`: the lists' tables must appear as soon as "Listed" is chosen, and Assess reads
    every answer as it stands on the page.
    """
    vocab = vocabulary()
    tables = _history_tables()
    st.markdown("**Patient**")
    cols = st.columns(4)
    with cols[0]:
        case_id = st.text_input("Case id (no patient identifiers)", key="f_case_id") or None
    with cols[1]:
        assessed = st.date_input("Assessment date", value=dt.date.today(), key="f_assessment_date")
    with cols[2]:
        age = _number("Age (years)", "f_age", integer=True, min_value=0, max_value=130)
    with cols[3]:
        sex = _choice("Sex", "sexes", "f_sex")
    assessed = assessed if isinstance(assessed, dt.date) else None
    cols = st.columns(2)
    with cols[0]:
        pregnant = _yes_no("Pregnant", "f_pregnant")
    with cols[1]:
        breastfeeding = _yes_no("Breastfeeding", "f_breastfeeding")

    st.markdown("**Diagnosis**")
    cols = st.columns(5)
    with cols[0]:
        condition = _choice("Condition", "conditions", "f_condition")
    with cols[1]:
        region = _choice("Region", "regions", "f_region")
    with cols[2]:
        subtypes = sorted({s for subs in vocab.subtypes.values() for s in subs})
        subtype = _choice("Subtype", "", "f_subtype", options=subtypes)
    with cols[3]:
        levels_text = st.text_input("Levels (e.g. L4-L5, L5-S1)", key="f_levels")
    with cols[4]:
        side = _choice("Side", "sides", "f_side")
    prior_surgery = _yes_no("Earlier surgery or radiation at this level", "f_prior_surgery")

    st.markdown("**Symptoms and care so far**")
    cols = st.columns(4)
    with cols[0]:
        pain_pattern = _choice("Pain pattern", "pain_patterns", "f_pain_pattern")
    with cols[1]:
        duration = _number("Duration (weeks)", "f_duration", min_value=0.0)
    with cols[2]:
        pain_score = _number("Pain score (0-10)", "f_pain_score", integer=True, min_value=0, max_value=10)
    with cols[3]:
        care_weeks = _number("Conservative care (weeks)", "f_care_weeks", min_value=0.0)
    cols = st.columns(3)
    with cols[0]:
        care_failed = _yes_no("Conservative care failed", "f_care_failed")
        claudication = _yes_no("Neurogenic claudication", "f_claudication")
    with cols[1]:
        deficit = _yes_no("Progressive neurological deficit", "f_deficit")
        cauda = _yes_no("Cauda equina signs", "f_cauda")
    with cols[2]:
        impairment = _yes_no("Functional impairment", "f_impairment")

    st.markdown("**Comorbidities, allergies, labs**")
    cols = st.columns(4)
    with cols[0]:
        infection = _yes_no("Active infection anywhere", "f_infection")
        site_infection = _yes_no("Infection at the injection site", "f_site_infection")
    with cols[1]:
        bleeding = _yes_no("Bleeding disorder", "f_bleeding")
        malignancy = _yes_no("Spinal tumour or cancer", "f_malignancy")
    with cols[2]:
        osteoporosis = _yes_no("Osteoporosis", "f_osteoporosis")
        diabetes = _choice("Diabetes", "control_levels", "f_diabetes")
    with cols[3]:
        heart = _choice("Heart failure", "control_levels", "f_heart")
    cols = st.columns(5)
    with cols[0]:
        bleeding_controlled = _yes_no("Bleeding disorder controlled", "f_bleeding_controlled")
    with cols[1]:
        near_target = _yes_no("Tumour at or near the target level", "f_near_target")
    with cols[2]:
        renal_disease = _yes_no("Severe kidney disease", "f_renal_disease")
    with cols[3]:
        renal_impairment = _yes_no("Impaired renal function (any degree)", "f_renal_impairment")
    with cols[4]:
        liver_disease = _yes_no("Severe liver disease", "f_liver_disease")
    allergies = _allergies()
    cols = st.columns(4)
    with cols[0]:
        inr = _number("INR", "f_inr", min_value=0.0)
    with cols[1]:
        platelets = _number("Platelets (x10^9/L)", "f_platelets", min_value=0.0)
    with cols[2]:
        hba1c = _number("HbA1c (%)", "f_hba1c", min_value=0.0)
    with cols[3]:
        glucose = _number("Glucose (mmol/L)", "f_glucose", min_value=0.0)
    st.caption(
        "The laboratory's reference range, where it reported one (otherwise the policy's sourced default is used)."
    )
    cols = st.columns(5)
    with cols[0]:
        inr_high = _number("INR upper limit", "f_inr_high", min_value=0.0)
    with cols[1]:
        platelets_low = _number("Platelets lower limit", "f_platelets_low", min_value=0.0)
    with cols[2]:
        hba1c_high = _number("HbA1c upper limit or target", "f_hba1c_high", min_value=0.0)
    with cols[3]:
        glucose_low = _number("Glucose lower limit", "f_glucose_low", min_value=0.0)
    with cols[4]:
        glucose_high = _number("Glucose upper limit", "f_glucose_high", min_value=0.0)
    ranges = {
        lab: {"low": low, "high": high}
        for lab, low, high in (
            ("inr", None, inr_high),
            ("platelets", platelets_low, None),
            ("hba1c", None, hba1c_high),
            ("glucose", glucose_low, glucose_high),
        )
        if low is not None or high is not None
    }

    st.markdown("**Medications** (generic or brand names)")
    medications = _history(tables["medications"], assessed)
    st.markdown("**Imaging**")
    imaging = _history(tables["imaging"], assessed)
    st.markdown("**Earlier injections and diagnostic blocks**")
    prior = _history(tables["prior_injections"], assessed)
    blocks = _history(tables["diagnostic_blocks"], assessed)

    st.markdown("**Examination and CRPS criteria**")
    cols = st.columns(5)
    with cols[0]:
        si_pos = _number("SI provocation tests positive", "f_si_pos", integer=True, min_value=0, max_value=20)
    with cols[1]:
        si_tested = _number("SI provocation tests done", "f_si_tested", integer=True, min_value=0, max_value=20)
    with cols[2]:
        symptoms_cat = _number("Budapest symptom categories", "f_crps_sym", integer=True, min_value=0, max_value=4)
    with cols[3]:
        signs_cat = _number("Budapest sign categories", "f_crps_sign", integer=True, min_value=0, max_value=4)
    with cols[4]:
        excluded = _yes_no("Other diagnosis excluded", "f_crps_excluded")
    if not st.button("Assess", type="primary", key=ASSESS_KEY):
        return None
    levels = [part.strip().upper() for part in levels_text.split(",") if part.strip()] or None
    diagnosis = {
        "condition": condition,
        "region": region,
        "subtype": subtype,
        "levels": levels,
        "side": side,
        "prior_surgery_at_site": prior_surgery,
    }
    case = {
        "case_id": case_id,
        "assessment_date": assessed.isoformat() if assessed else None,
        "age": age,
        "sex": sex,
        "pregnant": pregnant,
        "breastfeeding": breastfeeding,
        # nothing entered is "not recorded", never "no diagnosis"
        "diagnoses": [diagnosis] if any(v is not None for v in diagnosis.values()) else None,
        "symptoms": {
            "pain_pattern": pain_pattern,
            "duration_weeks": duration,
            "pain_score": pain_score,
            "neurogenic_claudication": claudication,
            "functional_impairment": impairment,
            "progressive_neurological_deficit": deficit,
            "cauda_equina_signs": cauda,
        },
        "conservative_care": {"weeks": care_weeks, "failed": care_failed},
        "imaging": imaging.value,
        "medications": medications.value,
        "labs": {"inr": inr, "platelets": platelets, "hba1c": hba1c, "glucose": glucose, "ranges": ranges or None},
        "comorbidities": {
            "active_infection": infection,
            "injection_site_infection": site_infection,
            "bleeding_disorder": bleeding,
            "bleeding_disorder_controlled": bleeding_controlled,
            "spinal_malignancy": malignancy,
            "malignancy_near_target": near_target,
            "renal_disease": renal_disease,
            "renal_impairment": renal_impairment,
            "liver_disease": liver_disease,
            "osteoporosis": osteoporosis,
            "diabetes": diabetes,
            "heart_failure": heart,
        },
        "allergies": allergies.value,
        "prior_injections": prior.value,
        "diagnostic_blocks": blocks.value,
        "exam": {"si_provocation_positive": si_pos, "si_provocation_tested": si_tested},
        "crps_criteria": {
            "symptom_categories": symptoms_cat,
            "sign_categories": signs_cat,
            "other_diagnosis_excluded": excluded,
        },
    }
    left_out = tuple(
        line
        for answer in (medications, imaging, prior, blocks)
        if answer.problems
        for line in (*answer.problems, answer.message)
    )
    return FormSubmission(case, left_out)
