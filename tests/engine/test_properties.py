"""Safety invariants over generated cases (hypothesis): the fast subset that `make test` runs."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import cases, measured

from decision.case import Case
from decision.evaluator import default_evaluator
from decision.report import Report, status_rank

SETTINGS = settings()
TOP_LEVEL = set(Case.model_fields)


def _statuses(report: Report) -> dict[tuple[str, str | None, str | None], str]:
    return {(c.procedure, c.approach, c.region): c.status for c in report.candidates}


@SETTINGS
@given(cases())
def test_every_valid_case_gets_a_report_and_the_same_json_twice(case: dict[str, Any]) -> None:
    evaluator = default_evaluator()
    first = evaluator.evaluate(case).model_dump_json()
    assert evaluator.evaluate(copy.deepcopy(case)).model_dump_json() == first


@SETTINGS
@given(cases())
def test_every_reason_names_a_rule_and_sources_that_exist(case: dict[str, Any]) -> None:
    evaluator = default_evaluator()
    knowledge = evaluator.knowledge
    report = evaluator.evaluate(case)
    for candidate in report.candidates:
        if candidate.status != "not_indicated":
            assert candidate.reasons, candidate
        for reason in candidate.reasons:
            assert reason.rule_id in knowledge.rule_index
            assert reason.sources
            for ref in reason.sources:
                source_id, _, section = ref.partition("#")
                assert section in knowledge.sources[source_id].sections
    for item in report.missing_information:
        assert item.field.split(".")[0].split("[")[0] in TOP_LEVEL, item.field
        assert item.rule_id in knowledge.rule_index


@SETTINGS
@given(cases())
def test_an_absolute_contraindication_never_leaves_a_candidate_indicated(case: dict[str, Any]) -> None:
    report = default_evaluator().evaluate(case)
    statuses = {f"{c.procedure}/{c.approach or '-'}/{c.region or '-'}": c.status for c in report.candidates}
    for finding in report.contraindications:
        if finding.severity == "absolute":
            for key in finding.candidates:
                assert statuses[key] not in ("indicated", "indicated_with_caution"), (finding.rule_id, key)


def _never_better(before: Report, after: Report) -> None:
    old, new = _statuses(before), _statuses(after)
    for key, status in old.items():
        if key in new:
            assert status_rank(new[key]) >= status_rank(status), (key, status, new[key])  # type: ignore[arg-type]


CONTRAINDICATING = [
    {"comorbidities": {"active_infection": True}},
    {"comorbidities": {"bleeding_disorder": True}},
    {"symptoms": {"cauda_equina_signs": True}},
    {"allergies": ["local_anaesthetic"]},
    {"medications": [{"name": "apixaban", "last_dose_hours_ago": 1}]},
    {
        "prior_injections": [
            {"procedure": "epidural_steroid_injection", "region": r, "date": "2026-09-01", "steroid": True}
            for r in ("cervical", "thoracic", "lumbar", "sacral")
        ]
        * 4
    },
]


def _add(case: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(case)
    for key, value in extra.items():
        if isinstance(value, dict):
            out[key] = {**(out.get(key) or {}), **value}
        else:
            present = list(out.get(key) or [])
            # The case refuses an entry given twice (earlier injections excepted: they may repeat)
            out[key] = present + [v for v in value if key == "prior_injections" or v not in present]
    return out


@SETTINGS
@given(cases(), st.sampled_from(CONTRAINDICATING))
def test_adding_a_contraindication_or_red_flag_never_improves_a_candidate(
    case: dict[str, Any], extra: dict[str, Any]
) -> None:
    evaluator = default_evaluator()
    _never_better(evaluator.evaluate(case), evaluator.evaluate(_add(case, extra)))


@SETTINGS
@given(cases(), st.sampled_from(sorted(TOP_LEVEL - {"case_id", "policy", "assessment_date"})))
def test_forgetting_an_answer_never_turns_needs_information_into_indicated(case: dict[str, Any], field: str) -> None:
    evaluator = default_evaluator()
    before = _statuses(evaluator.evaluate(case))
    forgotten = {**case, field: None}
    after = _statuses(evaluator.evaluate(forgotten))
    for key, status in before.items():
        if status == "needs_information" and key in after:
            assert after[key] not in ("indicated", "indicated_with_caution"), (key, field, after[key])


@SETTINGS
@given(cases())
def test_a_closer_anticoagulant_dose_never_improves_a_candidate(case: dict[str, Any]) -> None:
    evaluator = default_evaluator()
    far = _add(case, {"medications": [{"name": "rivaroxaban", "last_dose_hours_ago": 200}]})
    near = _add(case, {"medications": [{"name": "rivaroxaban", "last_dose_hours_ago": 10}]})
    _never_better(evaluator.evaluate(far), evaluator.evaluate(near))


def _risk_of(report: Report) -> dict[tuple[str, str | None, str | None], str | None]:
    return {(c.procedure, c.approach, c.region): c.bleeding_risk for c in report.candidates}


def _never_improves_where_not_low(before: Report, after: Report) -> None:
    """Each candidate not known to be low risk is at least as restricted after the change.

    A candidate that the base case ranks not_indicated stays so (the worst status); any other
    candidate may only move towards "not now"."""
    risk = _risk_of(before)
    after_status = _statuses(after)
    for key, status in _statuses(before).items():
        if risk.get(key) == "low" or key not in after_status:
            continue
        assert status_rank(after_status[key]) >= status_rank(status), (key, status, after_status[key])  # type: ignore[arg-type]


def _with_medication(case: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(case)
    out["medications"] = [*(out.get("medications") or []), entry]
    return out


@SETTINGS
@given(cases(), st.sampled_from(["zorbifaxen", "ＺＯＲＢＩＦＡＸＥＮ 5 mg", "zorbi\u200bfaxen"]), measured(0, 48))
def test_an_unplaced_drug_taken_recently_never_improves_an_intermediate_or_high_risk_procedure(
    case: dict[str, Any], name: str, hours: float
) -> None:
    evaluator = default_evaluator()
    before = evaluator.evaluate(case)
    after = evaluator.evaluate(_with_medication(case, {"name": name, "last_dose_hours_ago": hours}))
    _never_improves_where_not_low(before, after)
    for candidate in after.candidates:
        if candidate.bleeding_risk in ("intermediate", "high"):
            assert candidate.status != "indicated", candidate


def _abnormal_lab_defers(base: dict[str, Any], lab: str, normal: float, abnormal: float) -> None:
    """With the lab value moved outside its (default) range, no procedure improves and every
    intermediate or high-risk one is held (deferred or worse), never asked or passed."""
    evaluator = default_evaluator()
    normal_case = copy.deepcopy(base)
    normal_case["labs"] = {**(normal_case.get("labs") or {}), "ranges": None, lab: normal}
    abnormal_case = copy.deepcopy(normal_case)
    abnormal_case["labs"][lab] = abnormal
    after = evaluator.evaluate(abnormal_case)
    _never_improves_where_not_low(evaluator.evaluate(normal_case), after)
    for candidate in after.candidates:
        if candidate.bleeding_risk in ("intermediate", "high"):
            assert candidate.status not in ("indicated", "indicated_with_caution", "needs_information"), candidate


@SETTINGS
@given(cases(), st.floats(1.21, 20))
def test_an_inr_above_range_after_a_vitamin_k_antagonist_never_improves_a_procedure(
    case: dict[str, Any], inr: float
) -> None:
    _abnormal_lab_defers(_with_medication(case, {"name": "warfarin", "last_dose_hours_ago": 200}), "inr", 1.0, inr)


@SETTINGS
@given(cases(), measured(0, 149.9))
def test_a_platelet_count_below_range_never_improves_a_procedure(case: dict[str, Any], platelets: float) -> None:
    _abnormal_lab_defers(case, "platelets", 250, platelets)


@SETTINGS
@given(cases(), st.sampled_from(["vitamin_k_antagonist", "direct_oral_anticoagulant", "not_antithrombotic", "nsaid"]))
def test_answering_what_an_unplaced_drug_is_never_leaves_a_procedure_better_than_not_now_or_asked(
    case: dict[str, Any], drug_class: str
) -> None:
    """The unanswered worst case is "needs information"; an answer either settles it or restricts
    it further, and a restriction already certain before the answer stays."""
    evaluator = default_evaluator()
    asked = _with_medication(case, {"name": "zorbifaxen", "last_dose_hours_ago": 2})
    answered = _with_medication(case, {"name": "zorbifaxen", "last_dose_hours_ago": 2, "drug_class": drug_class})
    before, after = evaluator.evaluate(asked), evaluator.evaluate(answered)
    after_status = _statuses(after)
    for key, status in _statuses(before).items():
        if status_rank(status) > status_rank("needs_information"):  # type: ignore[arg-type]
            assert status_rank(after_status[key]) >= status_rank(status), (key, status, after_status[key])  # type: ignore[arg-type]
