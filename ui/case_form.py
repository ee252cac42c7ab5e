"""The case form: every answer starts as "unknown", so nothing unasked can pass as "no".

Lists (medications, imaging, earlier injections, blocks, allergies) first ask whether the history
was taken: "not asked" stays unknown, "none" is an empty list, "listed" opens a table.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd
import streamlit as st

from decision.case import vocabulary

UNKNOWN = "(unknown)"
HISTORY = ("Not asked", "None", "Listed")


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
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for record in frame.to_dict("records"):
        row = {k: _clean(v) for k, v in record.items()}
        if any(v is not None for v in row.values()):
            rows.append({k: v for k, v in row.items() if v is not None})
    return rows


def _history(label: str, key: str, columns: dict[str, Any], empty: dict[str, list[Any]]) -> list[dict[str, Any]] | None:
    taken = st.radio(label, HISTORY, key=f"{key}_taken", horizontal=True)
    if taken == "Not asked":
        return None
    if taken == "None":
        return []
    frame = st.data_editor(
        pd.DataFrame(empty), key=f"{key}_table", num_rows="dynamic", column_config=columns, use_container_width=True
    )
    return _rows(frame)


def case_form() -> dict[str, Any] | None:
    """The form; returns the case when it is submitted."""
    vocab = vocabulary()
    with st.form("case_form"):
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
        allergies_taken = st.radio("Allergies", HISTORY, key="f_allergies_taken", horizontal=True)
        allergy_list = st.multiselect("Allergies listed", sorted(vocab.allergies), key="f_allergies")
        cols = st.columns(4)
        with cols[0]:
            inr = _number("INR", "f_inr", min_value=0.0)
        with cols[1]:
            platelets = _number("Platelets (x10^9/L)", "f_platelets", min_value=0.0)
        with cols[2]:
            hba1c = _number("HbA1c (%)", "f_hba1c", min_value=0.0)
        with cols[3]:
            glucose = _number("Glucose (mmol/L)", "f_glucose", min_value=0.0)

        st.markdown("**Medications** (generic or brand names)")
        medications = _history(
            "Medication history",
            "f_meds",
            {
                "name": st.column_config.TextColumn("Name"),
                "last_dose_hours_ago": st.column_config.NumberColumn("Last dose (hours ago)", min_value=0),
            },
            {"name": [None], "last_dose_hours_ago": [None]},
        )
        st.markdown("**Imaging**")
        imaging = _history(
            "Imaging",
            "f_imaging",
            {
                "modality": st.column_config.SelectboxColumn("Modality", options=sorted(vocab.modalities)),
                "date": st.column_config.DateColumn("Date"),
                "concordant": st.column_config.CheckboxColumn("Matches the symptoms"),
            },
            {"modality": [None], "date": [None], "concordant": [None]},
        )
        st.markdown("**Earlier injections and diagnostic blocks**")
        prior = _history(
            "Earlier injections",
            "f_prior",
            {
                "procedure": st.column_config.SelectboxColumn("Procedure", options=sorted(vocab.procedures)),
                "approach": st.column_config.SelectboxColumn("Approach", options=sorted(vocab.approaches)),
                "region": st.column_config.SelectboxColumn("Region", options=sorted(vocab.regions)),
                "date": st.column_config.DateColumn("Date"),
                "steroid": st.column_config.CheckboxColumn("Steroid"),
                "relief_percent": st.column_config.NumberColumn("Relief %", min_value=0, max_value=100),
                "relief_weeks": st.column_config.NumberColumn("Relief (weeks)", min_value=0),
            },
            {
                k: [None]
                for k in ("procedure", "approach", "region", "date", "steroid", "relief_percent", "relief_weeks")
            },
        )
        blocks = _history(
            "Diagnostic blocks",
            "f_blocks",
            {
                "procedure": st.column_config.SelectboxColumn("Procedure", options=sorted(vocab.procedures)),
                "region": st.column_config.SelectboxColumn("Region", options=sorted(vocab.regions)),
                "date": st.column_config.DateColumn("Date"),
                "relief_percent": st.column_config.NumberColumn("Relief %", min_value=0, max_value=100),
            },
            {k: [None] for k in ("procedure", "region", "date", "relief_percent")},
        )
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
        submitted = st.form_submit_button("Assess", type="primary")
    if not submitted:
        return None
    levels = [part.strip().upper() for part in levels_text.split(",") if part.strip()] or None
    diagnosis = {"condition": condition, "region": region, "subtype": subtype, "levels": levels, "side": side}
    allergies = None if allergies_taken == "Not asked" else ([] if allergies_taken == "None" else allergy_list)
    return {
        "case_id": case_id,
        "assessment_date": assessed.isoformat() if isinstance(assessed, dt.date) else None,
        "age": age,
        "sex": sex,
        "pregnant": pregnant,
        "breastfeeding": breastfeeding,
        "diagnoses": [diagnosis] if any(v is not None for v in diagnosis.values()) else [],
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
        "imaging": imaging,
        "medications": medications,
        "labs": {"inr": inr, "platelets": platelets, "hba1c": hba1c, "glucose": glucose},
        "comorbidities": {
            "active_infection": infection,
            "injection_site_infection": site_infection,
            "bleeding_disorder": bleeding,
            "spinal_malignancy": malignancy,
            "osteoporosis": osteoporosis,
            "diabetes": diabetes,
            "heart_failure": heart,
        },
        "allergies": allergies,
        "prior_injections": prior,
        "diagnostic_blocks": blocks,
        "exam": {"si_provocation_positive": si_pos, "si_provocation_tested": si_tested},
        "crps_criteria": {
            "symptom_categories": symptoms_cat,
            "sign_categories": signs_cat,
            "other_diagnosis_excluded": excluded,
        },
    }
