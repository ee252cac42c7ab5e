"""Hypothesis strategies for cases: valid ones across the whole vocabulary, unknowns included."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from hypothesis import strategies as st

from decision.case import vocabulary

ASSESSED = dt.date(2026, 10, 1)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


def _records(fields: dict[str, st.SearchStrategy[Any]], max_size: int) -> st.SearchStrategy[Any]:
    """An unknown (None) or a list of item records, such as a medication history."""
    return _maybe(st.lists(st.fixed_dictionaries(fields), max_size=max_size, unique_by=_entry_key))


def _entry_key(entry: dict[str, Any]) -> str:
    """A valid case gives no entry twice (the case refuses duplicates)."""
    return json.dumps(entry, sort_keys=True)


def measured(low: float, high: float) -> st.SearchStrategy[float]:
    """A measurement from `low` to `high`: 0, or from 0.0001 up (the case refuses a number in
    exponent form, which crashes the rules engine's C core)."""
    values = st.floats(max(low, 1e-4), high)
    return st.one_of(st.just(0.0), values) if low <= 0 else values


def _ids(kind: str) -> st.SearchStrategy[str]:
    return st.sampled_from(sorted(getattr(vocabulary(), kind)))


def _past_date() -> st.SearchStrategy[str]:
    return st.integers(min_value=0, max_value=800).map(lambda d: (ASSESSED - dt.timedelta(days=d)).isoformat())


LEVELS = ["C5-C6", "C6-C7", "C7-T1", "T11-T12", "T12-L1", "L3-L4", "L4-L5", "L5-S1"]


@st.composite
def diagnoses(draw: st.DrawFn) -> dict[str, Any]:
    """A diagnosis whose region fits its condition and whose levels lie in its region."""
    vocab = vocabulary()
    condition = draw(_maybe(_ids("conditions")))
    regions = sorted(vocab.conditions[condition].regions) if condition else sorted(vocab.regions)
    region = draw(_maybe(st.sampled_from(regions)))
    prefix = vocab.regions[region].level_prefix if region else None
    fitting = [lvl for lvl in LEVELS if prefix is None or prefix in lvl] if (region is None or prefix) else []
    subtypes = vocab.subtypes.get(condition or "", ())
    return {
        "condition": condition,
        "region": region,
        "subtype": draw(_maybe(st.sampled_from(subtypes))) if subtypes else None,
        "levels": draw(_maybe(st.lists(st.sampled_from(fitting), max_size=3))) if fitting else None,
        "side": draw(_maybe(_ids("sides"))),
    }


MEDICATION_NAMES = [*sorted(vocabulary().medications), "eliquis", "paracetamol", "metformin"]


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    """A valid case; any field may be unknown (None)."""
    hours = st.floats(min_value=0, max_value=400, allow_nan=False).map(lambda h: round(h))
    positive = draw(_maybe(st.integers(0, 6)))
    sex = draw(_maybe(_ids("sexes")))
    age = draw(_maybe(st.integers(16, 95)))
    implausible = sex == "male" or (age is not None and age > 75)  # the case refuses pregnancy there
    pregnancy = st.sampled_from([None, False]) if implausible else _maybe(st.booleans())
    return {
        "case_id": "generated",
        "assessment_date": ASSESSED.isoformat(),
        "age": age,
        "sex": sex,
        "pregnant": draw(pregnancy),
        "breastfeeding": draw(pregnancy),
        "diagnoses": draw(_maybe(st.lists(diagnoses(), max_size=2, unique_by=_entry_key))),
        "symptoms": draw(
            _maybe(
                st.fixed_dictionaries(
                    {
                        "pain_pattern": _maybe(_ids("pain_patterns")),
                        "duration_weeks": _maybe(st.integers(0, 60)),
                        "pain_score": _maybe(st.integers(0, 10)),
                        "neurogenic_claudication": _maybe(st.booleans()),
                        "functional_impairment": _maybe(st.booleans()),
                        "progressive_neurological_deficit": _maybe(st.booleans()),
                        "cauda_equina_signs": _maybe(st.booleans()),
                    }
                )
            )
        ),
        "conservative_care": draw(
            _maybe(st.fixed_dictionaries({"weeks": _maybe(st.integers(0, 30)), "failed": _maybe(st.booleans())}))
        ),
        "imaging": draw(
            _records(
                {
                    "modality": _maybe(_ids("modalities")),
                    "date": _maybe(_past_date()),
                    "concordant": _maybe(st.booleans()),
                },
                2,
            )
        ),
        "medications": draw(
            _records(
                {
                    "name": st.sampled_from(MEDICATION_NAMES),
                    "last_dose_hours_ago": _maybe(hours),
                },
                2,
            )
        ),
        "labs": draw(_maybe(st.fixed_dictionaries({"inr": _maybe(st.sampled_from([0.9, 1.0, 1.3, 2.5]))}))),
        "comorbidities": draw(
            _maybe(
                st.fixed_dictionaries(
                    {
                        "active_infection": _maybe(st.booleans()),
                        "injection_site_infection": _maybe(st.booleans()),
                        "bleeding_disorder": _maybe(st.booleans()),
                        "spinal_malignancy": _maybe(st.booleans()),
                        "osteoporosis": _maybe(st.booleans()),
                        "diabetes": _maybe(_ids("control_levels")),
                        "heart_failure": _maybe(_ids("control_levels")),
                    }
                )
            )
        ),
        "allergies": draw(_maybe(st.lists(_ids("allergies"), max_size=2, unique=True))),
        "prior_injections": draw(
            _records(
                {
                    "procedure": _maybe(_ids("procedures")),
                    "region": _maybe(_ids("regions")),
                    "date": _maybe(_past_date()),
                    "steroid": _maybe(st.booleans()),
                },
                4,
            )
        ),
        "diagnostic_blocks": draw(
            _records(
                {
                    "procedure": _maybe(_ids("procedures")),
                    "region": _maybe(_ids("regions")),
                    "date": _maybe(_past_date()),
                    "relief_percent": _maybe(st.integers(0, 100)),
                },
                3,
            )
        ),
        "exam": draw(_maybe(st.just({"si_provocation_positive": positive, "si_provocation_tested": 6}))),
        "crps_criteria": draw(
            _maybe(
                st.fixed_dictionaries(
                    {
                        "symptom_categories": _maybe(st.integers(0, 4)),
                        "sign_categories": _maybe(st.integers(0, 4)),
                        "other_diagnosis_excluded": _maybe(st.booleans()),
                    }
                )
            )
        ),
        "policy": draw(st.sampled_from(["clinic", "asipp", "nice", "cms", None])),
    }
