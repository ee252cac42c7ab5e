"""FHIR R4B import: a record written as a bundle must give the same advice as the case typed in,
say nothing the record does not say, and list whatever it could not use."""

from __future__ import annotations

import copy
import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fhir_bundles import PATIENT, bundle_from_case, fhir_can_carry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import cases
from vignette_format import SHARED_VIGNETTES, load_vignette, vignette_files

from decision.case import Case
from decision.evaluator import default_evaluator
from decision.fhir import (
    FhirInputError,
    case_from_bundle,
    case_from_resources,
    evaluate_imported,
    procedure_from_order,
)
from knowledge.codemaps import load_codemaps
from knowledge.loader import KNOWLEDGE_DIR, KnowledgeError

ICD = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
NOW = dt.datetime(2026, 10, 1, 12, tzinfo=dt.UTC)
ROOT = Path(__file__).resolve().parents[2]


def _normalised(case: Case) -> dict[str, Any]:
    """A case as data with empty groups dropped: `labs: {}` and no labs both mean unknown."""
    data = json.loads(case.model_dump_json(exclude_none=True))
    return {k: v for k, v in data.items() if v != {} and k != "policy"}


def _round_trip(case: dict[str, Any]) -> tuple[Any, Any, Any]:
    imported = case_from_bundle(json.loads(json.dumps(bundle_from_case(case))))
    from_fhir = evaluate_imported(imported, policy=case.get("policy"))
    direct = default_evaluator().evaluate(case)
    return imported, from_fhir, direct


@pytest.mark.parametrize(
    "path",
    [p for p in vignette_files() if fhir_can_carry(load_vignette(p)["case"])],
    ids=lambda p: f"{p.parent.name}/{p.stem}",
)
def test_vignette_bundle_round_trips_to_the_same_report(path: Path) -> None:
    case = load_vignette(path)["case"]
    imported, from_fhir, direct = _round_trip(case)
    assert imported.ignored_input == []
    assert _normalised(imported.case) == _normalised(Case.model_validate(case))
    assert from_fhir.model_dump_json() == direct.model_dump_json()


def test_every_public_vignette_is_in_the_round_trip() -> None:
    public = sorted(SHARED_VIGNETTES.glob("*.yaml"))
    assert len(public) >= 20 and set(public) <= set(vignette_files())


def _representable(case: dict[str, Any]) -> dict[str, Any]:
    """FHIR has no way to say "no levels" (an absent extension is unknown), so an empty level
    list is written as unknown; everything else in a case has a FHIR form."""
    case = copy.deepcopy(case)
    if case.get("medications"):  # a record names each drug once
        firsts = {m["name"]: m for m in reversed(case["medications"])}
        case["medications"] = [m for m in case["medications"] if firsts[m["name"]] is m]
    for name in ("diagnoses", "diagnostic_blocks"):
        for item in case.get(name) or []:
            if item.get("levels") == []:
                item["levels"] = None
    return case


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases().map(_representable))
def test_generated_cases_round_trip(case: dict[str, Any]) -> None:
    try:
        Case.model_validate(case)
    except ValueError:
        return  # the strategy may draw cases the model rejects; those are not records
    imported, from_fhir, direct = _round_trip(case)
    assert imported.ignored_input == []
    assert from_fhir.model_dump_json() == direct.model_dump_json()


# -- unknown stays unknown -----------------------------------------------------------------


def _bundle(*resources: dict[str, Any], timestamp: str | None = "2026-10-01T12:00:00Z") -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }
    if timestamp:
        bundle["timestamp"] = timestamp
    return bundle


def _patient(**extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1970-10-02", **extra}


def _condition(code: str, system: str = ICD, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": f"c-{code}",
        "subject": {"reference": PATIENT},
        "code": {"coding": [{"system": system, "code": code}]},
        **extra,
    }


def _observation(code: str, **value: Any) -> dict[str, Any]:
    value.setdefault("effectiveDateTime", "2026-10-01T09:00:00Z")
    return {
        "resourceType": "Observation",
        "id": f"o-{code}-{len(json.dumps(value))}",
        "status": "final",
        "subject": {"reference": PATIENT},
        "code": {"coding": [{"system": LOINC, "code": code}]},
        **value,
    }


def test_a_bundle_with_a_diagnosis_only_leaves_everything_else_unknown() -> None:
    imported = case_from_bundle(_bundle(_patient(), _condition("M51.16")))
    case = imported.case
    assert case.age == 55 and case.sex == "female"  # born 1970-10-02, assessed 2026-10-01
    assert case.diagnoses is not None and case.diagnoses[0].condition == "herniated_disc"
    assert case.diagnoses[0].region == "lumbar"
    for unknown in ("medications", "allergies", "imaging", "prior_injections", "labs", "pregnant"):
        assert getattr(case, unknown) is None
    report = evaluate_imported(imported)
    missing = {m.field for m in report.missing_information}
    assert "medications" in missing
    assert not any(c.status == "indicated" for c in report.candidates)


def test_an_allergy_not_in_the_map_leaves_the_allergy_list_unknown() -> None:
    latex = {
        "resourceType": "AllergyIntolerance",
        "id": "a0",
        "patient": {"reference": PATIENT},
        "code": {"coding": [{"system": "urn:spine-cds:fhir:allergy", "code": "latex"}]},
    }
    lidocaine = {
        "resourceType": "AllergyIntolerance",
        "id": "a1",
        "patient": {"reference": PATIENT},
        "code": {"text": "Lidocaine"},
    }
    imported = case_from_bundle(_bundle(_patient(), _condition("M51.16"), latex, lidocaine))
    assert imported.case.allergies is None
    assert any(
        i.resource == "AllergyIntolerance/a1" and "allergy list is left unknown" in i.reason
        for i in imported.ignored_input
    )


def test_an_explicit_none_known_closes_a_list_only_when_current_and_valid() -> None:
    none = {
        "resourceType": "MedicationStatement",
        "id": "m0",
        "status": "active",
        "dateAsserted": "2026-10-01",
        "subject": {"reference": PATIENT},
        "medicationCodeableConcept": {
            "coding": [
                {
                    "system": "http://hl7.org/fhir/uv/ips/CodeSystem/absent-unknown-uv-ips",
                    "code": "no-known-medications",
                }
            ]
        },
    }
    assert case_from_bundle(_bundle(_patient(), none)).case.medications == []
    stale = case_from_bundle(_bundle(_patient(), {**none, "dateAsserted": "2019-05-01"}))
    assert stale.case.medications is None and "assessment day" in stale.ignored_input[0].reason
    wrong = case_from_bundle(_bundle(_patient(), {**none, "status": "entered-in-error"}))
    assert wrong.case.medications is None
    nka = {
        "resourceType": "AllergyIntolerance",
        "id": "a0",
        "patient": {"reference": PATIENT},
        "code": {
            "coding": [
                {"system": "http://hl7.org/fhir/uv/ips/CodeSystem/absent-unknown-uv-ips", "code": "no-known-allergies"}
            ]
        },
    }
    assert case_from_bundle(_bundle(_patient(), nka)).case.allergies == []
    refuted = {**nka, "verificationStatus": {"coding": [{"code": "refuted"}]}}
    assert case_from_bundle(_bundle(_patient(), refuted)).case.allergies is None
    modified = {**nka, "modifierExtension": [{"url": "urn:x", "valueBoolean": True}]}
    imported = case_from_bundle(_bundle(_patient(), modified))
    assert imported.case.allergies is None and "modifier extension" in imported.ignored_input[0].reason


# -- codes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("M50.122", {"condition": "herniated_disc", "region": "cervical", "levels": ["C5-C6"]}),
        ("M50.10", {"condition": "herniated_disc", "region": "cervical"}),  # a billable child of the M50.1 entry
        ("M48.062", {"condition": "spinal_stenosis", "region": "lumbar"}),
        ("G90.522", {"condition": "crps", "region": "lower_limb", "side": "left", "subtype": "type_1"}),
        ("G56.41", {"condition": "crps", "region": "upper_limb", "side": "right", "subtype": "type_2"}),
        ("M51.15", {"condition": "herniated_disc"}),  # thoracolumbar: the region is not one of ours
    ],
)
def test_icd10cm_codes_map_to_the_diagnosis(code: str, expected: dict[str, Any]) -> None:
    case = case_from_bundle(_bundle(_patient(), _condition(code))).case
    assert case.diagnoses is not None
    assert case.diagnoses[0].model_dump(exclude_none=True) == expected


def test_a_code_states_case_facts() -> None:
    case = case_from_bundle(_bundle(_patient(), _condition("M48.062"), _condition("G83.4"))).case
    assert case.symptoms is not None
    assert case.symptoms.neurogenic_claudication is True and case.symptoms.cauda_equina_signs is True
    refuted = _condition("G83.4", verificationStatus={"coding": [{"code": "refuted"}]}, recordedDate="2026-10-01")
    case = case_from_bundle(_bundle(_patient(), refuted)).case
    assert case.symptoms is not None and case.symptoms.cauda_equina_signs is False
    old = case_from_bundle(_bundle(_patient(), {**refuted, "recordedDate": "2019-03-01"}))
    assert old.case.symptoms is None and "assessment day" in old.ignored_input[0].reason
    without = case_from_bundle(_bundle(_patient(), _condition("M48.061"))).case
    assert without.symptoms is None  # "without claudication" is also the code when it was not asked


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("M51.1", "category, not a billable code"),
        ("M99.99", "not an ICD-10-CM code"),
        ("M54.31", "sciatica does not say its cause"),
        ("I10", "not a diagnosis in scope"),
    ],
)
def test_unusable_icd_codes_are_listed_with_the_reason(code: str, reason: str) -> None:
    imported = case_from_bundle(_bundle(_patient(), _condition(code)))
    assert imported.case.diagnoses is None
    assert any(reason in i.reason and i.resource == f"Condition/c-{code}" for i in imported.ignored_input), (
        imported.ignored_input
    )
    report = evaluate_imported(imported)
    assert [i.reason for i in report.ignored_input] == [i.reason for i in imported.ignored_input]


def test_condition_statuses_decide_whether_a_diagnosis_counts() -> None:
    for status, element in (("resolved", "clinicalStatus"), ("provisional", "verificationStatus")):
        cond = _condition("M51.16", **{element: {"coding": [{"code": status}]}})
        imported = case_from_bundle(_bundle(_patient(), cond))
        assert imported.case.diagnoses is None
        assert any(status in i.reason for i in imported.ignored_input)


def test_labs_units_are_converted_or_refused() -> None:
    glucose = _observation("2345-7", valueQuantity={"value": 180, "code": "mg/dL"})
    platelets = _observation("777-3", valueQuantity={"value": 250000, "code": "/uL"})
    bad_unit = _observation("6301-6", valueQuantity={"value": 1.1, "code": "s"})
    imported = case_from_bundle(_bundle(_patient(), glucose, platelets, bad_unit))
    labs = imported.case.labs
    assert labs is not None and labs.glucose == pytest.approx(9.99, abs=0.01) and labs.platelets == 250
    assert labs.inr is None
    assert any("unit 's' cannot be read" in i.reason for i in imported.ignored_input)


def test_the_latest_result_wins_and_older_ones_are_listed() -> None:
    old = _observation("6301-6", valueQuantity={"value": 2.5}, effectiveDateTime="2026-10-01T08:00:00Z")
    new = _observation("34714-6", valueQuantity={"value": 1.1}, effectiveDateTime="2026-10-01T10:00:00Z")
    future = _observation("46418-0", valueQuantity={"value": 3.0}, effectiveDateTime="2026-10-05")
    yesterday = _observation("777-3", valueQuantity={"value": 250, "code": "10*9/L"}, effectiveDateTime="2026-09-30")
    imported = case_from_bundle(_bundle(_patient(), old, new, future, yesterday))
    assert imported.case.labs is not None and imported.case.labs.inr == 1.1 and imported.case.labs.platelets is None
    reasons = " | ".join(i.reason for i in imported.ignored_input)
    assert "superseded by a later value" in reasons and "after the assessment time" in reasons
    assert "labs.platelets dated 2026-09-30: it counts only when recorded on the assessment day" in reasons


def test_undated_conflicting_values_leave_the_field_unknown() -> None:
    a = _observation("4548-4", valueQuantity={"value": 6.5, "code": "%"}, effectiveDateTime=None)
    b = _observation("17856-6", valueQuantity={"value": 8.1, "code": "%"}, effectiveDateTime=None)
    imported = case_from_bundle(
        _bundle(
            _patient(), {k: v for k, v in a.items() if v is not None}, {k: v for k, v in b.items() if v is not None}
        )
    )
    assert imported.case.labs is None
    assert sum("conflicting values" in i.reason for i in imported.ignored_input) == 2


def test_non_final_observations_are_not_used() -> None:
    prelim = {**_observation("6301-6", valueQuantity={"value": 1.0}), "status": "preliminary"}
    imported = case_from_bundle(_bundle(_patient(), prelim))
    assert imported.case.labs is None and "preliminary" in imported.ignored_input[0].reason


def test_pregnancy_and_breastfeeding_status_by_loinc() -> None:
    preg = _observation(
        "82810-3", valueCodeableConcept={"coding": [{"system": "http://snomed.info/sct", "code": "77386006"}]}
    )
    feed = _observation("63895-7", valueCodeableConcept={"coding": [{"system": LOINC, "code": "LA29253-4"}]})
    case = case_from_bundle(_bundle(_patient(), preg, feed)).case
    assert case.pregnant is True and case.breastfeeding is False


def _med(kind: str, rid: str, concept: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": kind,
        "id": rid,
        "subject": {"reference": PATIENT},
        "medicationCodeableConcept": concept,
        **extra,
    }


def test_medications_by_rxnorm_or_name_with_the_last_dose() -> None:
    rx = {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "11289", "display": "warfarin"}]}
    resources = [
        _patient(),
        _condition("M51.16"),
        _med("MedicationAdministration", "d1", rx, status="completed", effectiveDateTime="2026-09-29T12:00:00Z"),
        _med("MedicationAdministration", "d0", rx, status="completed", effectiveDateTime="2026-09-20T12:00:00Z"),
        _med("MedicationRequest", "r1", {"text": "Eliquis 5 mg tablets"}, status="active", intent="order"),
        _med("MedicationStatement", "s2", {"text": "clopidogrel"}, status="not-taken"),
    ]
    imported = case_from_bundle(_bundle(*resources))
    meds = {m.name: m.last_dose_hours_ago for m in imported.case.medications or []}
    assert meds == {"warfarin": 48, "eliquis 5 mg tablets": None}
    assert any(i.resource == "MedicationStatement/s2" and "not-taken" in i.reason for i in imported.ignored_input)
    report = evaluate_imported(imported)
    assert {m.field for m in report.missing_information} >= {"labs.inr"}


def test_a_drug_still_taken_has_no_known_last_dose() -> None:
    rx = {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "11289", "display": "warfarin"}]}
    still = _med("MedicationStatement", "s1", rx, status="active")
    old_dose = _med("MedicationStatement", "s0", rx, status="stopped", effectivePeriod={"end": "2020-01-01T08:00:00Z"})
    imported = case_from_bundle(_bundle(_patient(), _condition("M51.16"), still, old_dose))
    assert [(m.name, m.last_dose_hours_ago) for m in imported.case.medications or []] == [("warfarin", None)]
    assert any("still taken" in i.reason for i in imported.ignored_input)


def test_a_dose_dated_without_a_time_gives_no_hours() -> None:
    rx = {"text": "rivaroxaban"}
    dose = _med("MedicationAdministration", "d1", rx, status="completed", effectiveDateTime="2026-09-28")
    imported = case_from_bundle(_bundle(_patient(), dose))
    assert [(m.name, m.last_dose_hours_ago) for m in imported.case.medications or []] == [("rivaroxaban", None)]


def test_an_unreadable_medication_record_leaves_the_list_unknown() -> None:
    other = _med("MedicationStatement", "s1", {"text": "paracetamol"}, status="active")
    missing_ref = {
        "resourceType": "MedicationStatement",
        "id": "s2",
        "status": "active",
        "subject": {"reference": PATIENT},
        "medicationReference": {"reference": "urn:uuid:0000"},
    }
    imported = case_from_bundle(_bundle(_patient(), other, missing_ref))
    assert imported.case.medications is None
    contained = {
        **missing_ref,
        "medicationReference": {"reference": "#m1"},
        "contained": [{"resourceType": "Medication", "id": "m1", "code": {"text": "apixaban"}}],
    }
    names = [m.name for m in case_from_bundle(_bundle(_patient(), other, contained)).case.medications or []]
    assert sorted(names) == ["apixaban", "paracetamol"]


def test_a_medication_code_that_contradicts_its_name_is_not_trusted() -> None:
    wrong = {
        "coding": [
            {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1191", "display": "Rivaroxaban 20 MG"}
        ]
    }
    imported = case_from_bundle(_bundle(_patient(), _med("MedicationStatement", "s1", wrong, status="active")))
    assert [m.name for m in imported.case.medications or []] == ["rivaroxaban 20 mg"]
    assert any("means aspirin" in i.reason for i in imported.ignored_input)


def test_prior_injections_and_diagnostic_blocks_from_procedures() -> None:
    cpt = "http://www.ama-assn.org/go/cpt"
    tfesi = {
        "resourceType": "Procedure",
        "id": "pr1",
        "status": "completed",
        "subject": {"reference": PATIENT},
        "code": {"coding": [{"system": cpt, "code": "64483"}]},
        "performedDateTime": "2026-06-01",
    }
    mbb = {
        "resourceType": "Procedure",
        "id": "pr2",
        "status": "completed",
        "subject": {"reference": PATIENT},
        "code": {"coding": [{"system": "urn:spine-cds:fhir:procedure", "code": "medial_branch_block"}]},
        "performedDateTime": "2026-07-01",
        "extension": [{"url": "urn:spine-cds:fhir:extension:relief-percent", "valueDecimal": 85}],
    }
    planned = {**tfesi, "id": "pr3", "status": "preparation"}
    appendix = {**tfesi, "id": "pr4", "code": {"text": "Appendectomy"}}
    case = case_from_bundle(_bundle(_patient(), tfesi, mbb, planned))
    assert case.case.prior_injections is not None and len(case.case.prior_injections) == 1
    prior = case.case.prior_injections[0]
    assert (prior.procedure, prior.approach, prior.region, str(prior.date)) == (
        "epidural_steroid_injection",
        "transforaminal",
        None,
        "2026-06-01",
    )
    assert case.case.diagnostic_blocks is not None and case.case.diagnostic_blocks[0].relief_percent == 85
    assert "preparation" in case.ignored_input[0].reason
    unknown_kind = case_from_bundle(_bundle(_patient(), tfesi, mbb, appendix))
    assert unknown_kind.case.prior_injections is None and unknown_kind.case.diagnostic_blocks is None
    assert "prior injections are left unknown" in unknown_kind.ignored_input[0].reason
    bad_relief = {**mbb, "extension": [{"url": "urn:spine-cds:fhir:extension:relief-percent", "valueString": "eighty"}]}
    read = case_from_bundle(_bundle(_patient(), bad_relief))
    assert read.case.diagnostic_blocks is not None and read.case.diagnostic_blocks[0].relief_percent is None
    assert "must be given as valueDecimal or valueInteger" in read.ignored_input[0].reason


def test_imaging_study_and_linked_report() -> None:
    study = {
        "resourceType": "ImagingStudy",
        "id": "i1",
        "status": "available",
        "subject": {"reference": PATIENT},
        "started": "2026-08-15",
        "modality": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "MR"}],
    }
    report = {
        "resourceType": "DiagnosticReport",
        "id": "r1",
        "status": "final",
        "subject": {"reference": PATIENT},
        "code": {"text": "MRI lumbar spine"},
        "imagingStudy": [{"reference": "ImagingStudy/i1"}],
        "extension": [{"url": "urn:spine-cds:fhir:extension:concordant", "valueBoolean": True}],
    }
    case = case_from_bundle(_bundle(_patient(), study, report)).case
    assert case.imaging is not None
    assert [(i.modality, str(i.date), i.concordant) for i in case.imaging] == [("mri", "2026-08-15", True)]


def test_unsupported_resources_are_listed_not_dropped() -> None:
    encounter = {"resourceType": "Encounter", "id": "e1", "status": "finished", "class": {"code": "AMB"}}
    imported = case_from_bundle(_bundle(_patient(), encounter))
    assert imported.ignored_input[0].resource == "Encounter/e1"


def test_no_timestamp_leaves_dates_unknown_and_says_so() -> None:
    imported = case_from_bundle(_bundle(_patient(), _condition("M51.16"), timestamp=None))
    assert imported.case.assessment_date is None and imported.case.age is None
    assert any("no assessment time" in i.reason for i in imported.ignored_input)


def test_loose_resources_for_cds_hooks_prefetch() -> None:
    imported = case_from_resources([_patient(), _condition("M51.16")], now=NOW, case_id="x")
    assert imported.case.case_id == "x" and imported.case.assessment_date == NOW.date()


def test_order_codes_name_the_procedure() -> None:
    order = {
        "resourceType": "ServiceRequest",
        "id": "o1",
        "status": "draft",
        "intent": "proposal",
        "subject": {"reference": PATIENT},
    }
    cpt = "http://www.ama-assn.org/go/cpt"
    tf, _ = procedure_from_order({**order, "code": {"coding": [{"system": cpt, "code": "64483"}]}})
    assert tf is not None and (tf.procedure, tf.approach) == ("epidural_steroid_injection", "transforaminal")
    facet, why = procedure_from_order({**order, "code": {"coding": [{"system": cpt, "code": "64493"}]}})
    assert facet is None and "does not say which injection" in why[0].reason


# -- bad input -----------------------------------------------------------------------------


def test_more_bad_records_are_refused() -> None:
    dup = _bundle(_patient(), _condition("M51.16"), _condition("M51.16"))
    with pytest.raises(FhirInputError, match="two resources have this id"):
        case_from_bundle(dup)
    with pytest.raises(FhirInputError, match="is in the future"):
        case_from_bundle(_bundle(_patient(), timestamp="2099-01-01T00:00:00Z"))
    with pytest.raises(FhirInputError, match="subject has no reference"):
        case_from_bundle(_bundle(_patient(), _condition("M51.16", subject={"identifier": {"value": "123"}})))
    with pytest.raises(FhirInputError, match="more than one patient"):
        other = _condition("M51.17", subject={"reference": "https://other.example/fhir/Patient/p1"})
        case_from_bundle(_bundle(_patient(), other))
    deep: dict[str, Any] = {"url": "urn:x", "valueString": "x"}
    for _ in range(400):
        deep = {"url": "urn:x", "extension": [deep]}
    with pytest.raises(FhirInputError):
        case_from_bundle(_bundle(_patient(extension=[deep])))


@pytest.mark.parametrize(
    ("bundle", "message"),
    [
        ({"resourceType": "Patient"}, "expected a FHIR Bundle"),
        (_bundle({"resourceType": "Foo"}), "'Foo' is not a FHIR R4B resource type"),
        (_bundle({"resourceType": "Observation", "id": "o1", "status": "final"}), "Observation/o1: code"),
        (_bundle(_patient(), _patient(id="p2")), "more than one Patient"),
        (
            _bundle(
                _condition("M51.16", subject={"reference": "Patient/a"}),
                _condition("M51.17", subject={"reference": "Patient/b"}),
            ),
            "more than one patient",
        ),
        ({"resourceType": "Bundle", "type": "collection", "entry": [{"fullUrl": "x"}]}, "Bundle.entry[0]"),
    ],
)
def test_invalid_fhir_is_refused_with_the_entry_named(bundle: dict[str, Any], message: str) -> None:
    with pytest.raises(FhirInputError) as err:
        case_from_bundle(bundle)
    assert any(message in p for p in err.value.problems), err.value.problems


def _mutations() -> st.SearchStrategy[Any]:
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
        max_leaves=8,
    )


_SAMPLE = bundle_from_case(load_vignette(vignette_files()[0])["case"])


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mangled_bundles_give_a_case_or_a_clear_error(data: st.DataObject) -> None:
    bundle = copy.deepcopy(_SAMPLE)
    entry = data.draw(st.sampled_from(bundle["entry"]))
    key = data.draw(st.sampled_from([*entry["resource"], "status", "code", "valueQuantity", "extension"]))
    entry["resource"][key] = data.draw(_mutations())
    try:
        imported = case_from_bundle(bundle)
    except FhirInputError as err:
        assert err.problems and all(isinstance(p, str) and p for p in err.problems)
        return
    evaluate_imported(imported)


# -- the maps as knowledge ------------------------------------------------------------------


def _broken_maps(tmp_path: Path, old: str, new: str) -> Path:
    root = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    path = root / "fhir" / "codes.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'code: M51.16, display: "Intervertebral disc disorders with radiculopathy, lumbar region"',
            'code: M51.16, display: "Lumbar disc"',
            "is not the code's name",
        ),
        ("code: M51.14,", "code: M51.99,", "not an ICD-10-CM code"),
        (
            "condition: herniated_disc, region: thoracic",
            "condition: herniated_dics, region: thoracic",
            "did you mean 'herniated_disc'",
        ),
        ("basis: [cms_l39402#indications]", "basis: [cms_l39402#nowhere]", "not a known source#section"),
    ],
)
def test_the_code_maps_are_checked(tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(KnowledgeError) as err:
        load_codemaps(_broken_maps(tmp_path, old, new), release=False)
    assert any(message in p for p in err.value.problems), err.value.problems


def test_the_shipped_maps_are_valid_and_every_icd_code_is_billable() -> None:
    from knowledge.codemaps import icd10cm

    index = load_codemaps()
    cm = icd10cm()
    icd = [code for (system, code) in index.conditions if system == ICD]
    assert len(icd) > 40 and all(cm.is_leaf(code) for code in icd)


def test_cli_evaluates_a_bundle(tmp_path: Path) -> None:
    case = load_vignette(SHARED_VIGNETTES / "esi-warfarin-inr-unknown.yaml")["case"]
    bundle = bundle_from_case(case)
    bundle["entry"].append(
        {"resource": {"resourceType": "Encounter", "id": "e1", "status": "finished", "class": {"code": "AMB"}}}
    )
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    cli = [sys.executable, "-m", "decision.cli.command", "evaluate", "--fhir", str(path)]
    done = subprocess.run([*cli, "--format", "json"], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["case_id"] == "esi-warfarin-inr-unknown" and report["ignored_input"][0]["resource"] == "Encounter/e1"
    text = subprocess.run(cli, capture_output=True, text=True, cwd=ROOT, check=False).stdout
    assert "IGNORED INPUT" in text and "Encounter/e1" in text
    path.write_text(json.dumps(_bundle({"resourceType": "Foo"})), encoding="utf-8")
    bad = subprocess.run(cli, capture_output=True, text=True, cwd=ROOT, check=False)
    assert (
        bad.returncode == 2 and "'Foo' is not a FHIR R4B resource type" in bad.stderr and "Traceback" not in bad.stderr
    )


def test_readme_fhir_example_is_what_the_cli_prints() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("$ spine-cds evaluate --fhir examples/fhir-bundle-warfarin.json\n", 1)[1].split("```", 1)[0]
    chunks: list[list[str]] = [[]]  # the lines shown, in runs the README separates with "..." (lines left out)
    for line in (line for line in block.splitlines() if line.strip()):
        if line == "...":
            chunks.append([])
        else:
            chunks[-1].append(line)
    cli = [sys.executable, "-m", "decision.cli.command", "evaluate", "--fhir", "examples/fhir-bundle-warfarin.json"]
    output = subprocess.run(cli, capture_output=True, text=True, cwd=ROOT, check=True).stdout
    printed = [line for line in output.splitlines() if line.strip()]
    assert sum(len(chunk) for chunk in chunks) >= 3
    at = 0
    for chunk in (chunk for chunk in chunks if chunk):  # each run printed as shown, in the README's order
        found = next((i for i in range(at, len(printed)) if printed[i : i + len(chunk)] == chunk), None)
        assert found is not None, chunk
        at = found + len(chunk)


def test_a_contradiction_in_the_record_leaves_both_sides_unknown() -> None:
    pregnant = _observation(
        "82810-3", valueCodeableConcept={"coding": [{"system": "http://snomed.info/sct", "code": "77386006"}]}
    )
    imported = case_from_bundle(_bundle(_patient(gender="male"), pregnant))
    assert imported.case.sex is None and imported.case.pregnant is None
    assert any("pregnant is true but sex is male" in i.reason for i in imported.ignored_input)


def test_a_condition_the_record_states_twice_is_one_diagnosis() -> None:
    """A problem-list entry and an encounter diagnosis with the same code: the case refuses a
    repeated entry, so the import counts it once and says so, rather than losing the diagnoses."""
    case = load_vignette(SHARED_VIGNETTES / "esi-lumbar-radicular-indicated.yaml")["case"]
    bundle = bundle_from_case(case)
    conditions = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition"]
    twin = json.loads(json.dumps(conditions[0]))
    twin["resource"]["id"] = "twin"
    twin["fullUrl"] = twin.get("fullUrl", "urn:uuid:x").rsplit("/", 1)[0] + "/twin"
    bundle["entry"].append(twin)
    imported = case_from_bundle(bundle)
    assert len(imported.case.diagnoses or []) == len(case["diagnoses"])
    assert any("repeated entries counted once" in i.reason for i in imported.ignored_input)


def test_symptoms_longer_than_the_patient_has_lived_are_left_unknown_not_refused() -> None:
    case = load_vignette(SHARED_VIGNETTES / "esi-lumbar-radicular-indicated.yaml")["case"]
    impossible = {**case, "symptoms": {**case["symptoms"], "duration_weeks": 200 * 52}}
    imported = case_from_bundle(bundle_from_case(impossible))
    assert imported.case.symptoms is None or imported.case.symptoms.duration_weeks is None
    assert imported.case.diagnoses
