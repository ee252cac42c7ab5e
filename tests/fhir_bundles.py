"""Case → FHIR R4B Bundle, for the round-trip tests: a vignette written as a record system would.

Standard codes are looked up in the code maps in reverse (ICD-10-CM, LOINC, RxNorm, CPT,
DICOM, IPS absent codes), so every round trip also exercises the maps; spine-cds's local codes
and extensions carry what no standard code says. Independent of decision.fhir by design: the
two meet only in the test.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from knowledge.codemaps import CodeIndex, default_codemaps

LOINC_FIELDS = {
    "labs.inr": ("6301-6", "{INR}"),
    "labs.platelets": ("777-3", "10*9/L"),
    "labs.hba1c": ("4548-4", "%"),
    "labs.glucose": ("14749-6", "mmol/L"),
    "symptoms.pain_score": ("72514-3", "{score}"),
}
DICOM = {"mri": "MR", "ct": "CT", "xray": "DX"}
SNOMED = "http://snomed.info/sct"
PATIENT = "Patient/p1"


def _assessment_time(case: dict[str, Any]) -> dt.datetime | None:
    date = case.get("assessment_date")
    if date is None:
        return None
    return dt.datetime.combine(dt.date.fromisoformat(str(date)), dt.time(12), dt.UTC)


def _ext(codes: CodeIndex, name: str, value: Any) -> dict[str, Any]:
    url = getattr(codes.maps.extensions, name)
    if isinstance(value, bool):
        return {"url": url, "valueBoolean": value}
    if isinstance(value, (int, float)):
        return {"url": url, "valueDecimal": value}
    return {"url": url, "valueString" if name == "levels" else "valueCode": value}


def _fits(mapped: dict[str, Any], item: dict[str, Any]) -> bool:
    """The code says nothing the case does not: every field the code sets equals the case's."""
    return all(item.get(k) == v for k, v in mapped.items() if v is not None)


def _condition_coding(codes: CodeIndex, diagnosis: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    best: tuple[int, str, str] | None = None
    for (system, code), entry in sorted(codes.conditions.items()):
        if entry.diagnosis is None or entry.facts:
            continue
        mapped = entry.diagnosis.model_dump()
        if _fits(mapped, diagnosis):
            score = sum(v is not None for v in mapped.values())
            if best is None or score > best[0]:
                best = (score, system, code)
    if best is None:
        return {"system": codes.maps.local.condition, "code": diagnosis.get("condition") or "unspecified"}, {
            "condition"
        }
    entry = codes.conditions[(best[1], best[2])]
    assert entry.diagnosis is not None
    covered = {k for k, v in entry.diagnosis.model_dump().items() if v is not None}
    return {"system": best[1], "code": best[2]}, covered


def _observation(codes: CodeIndex, path: str, value: Any, index: int, now: dt.datetime | None) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"obs{index}",
        "status": "final",
        "subject": {"reference": PATIENT},
    }
    if now is not None:
        obs["effectiveDateTime"] = now.isoformat()  # recorded at the assessment
    if path in LOINC_FIELDS and not isinstance(value, bool):
        code, unit = LOINC_FIELDS[path]
        obs["code"] = {"coding": [{"system": "http://loinc.org", "code": code}]}
        obs["valueQuantity"] = {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}
        return obs
    if path == "pregnant":
        answer = "77386006" if value else "60001007"
        obs["code"] = {"coding": [{"system": "http://loinc.org", "code": "82810-3"}]}
        obs["valueCodeableConcept"] = {"coding": [{"system": SNOMED, "code": answer}]}
        return obs
    obs["code"] = {"coding": [{"system": codes.maps.local.case_field, "code": path}]}
    if isinstance(value, bool):
        obs["valueBoolean"] = value
    elif isinstance(value, int):
        obs["valueInteger"] = value
    elif isinstance(value, float):
        obs["valueQuantity"] = {"value": value}
    else:
        obs["valueString"] = value
    return obs


def _procedure(codes: CodeIndex, item: dict[str, Any], kind: str, index: str) -> dict[str, Any]:
    wanted = {k: item.get(k) for k in ("procedure", "approach", "region")}
    coding = {"system": codes.maps.local.procedure, "code": item.get("procedure") or "unspecified"}
    covered = {"procedure"}
    for (system, code), entry in sorted(codes.procedures.items()):
        mapped = {"procedure": entry.procedure, "approach": entry.approach, "region": entry.region}
        if mapped["procedure"] is not None and _fits(mapped, wanted):
            coding, covered = {"system": system, "code": code}, {k for k, v in mapped.items() if v is not None}
            break
    category = "103693007" if kind == "diagnostic_blocks" else "277132007"
    res: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": index.replace("_", "-"),
        "status": "completed",
        "subject": {"reference": PATIENT},
        "code": {"coding": [coding]},
        "category": {"coding": [{"system": SNOMED, "code": category}]},
        "extension": [],
    }
    if item.get("date"):
        res["performedDateTime"] = str(item["date"])
    for name in ("approach", "region"):
        if name not in covered and item.get(name) is not None:
            res["extension"].append(_ext(codes, name, item[name]))
    for name in ("steroid", "relief_percent", "relief_weeks"):
        if item.get(name) is not None:
            res["extension"].append(_ext(codes, name, item[name]))
    for level in item.get("levels") or []:
        res["extension"].append(_ext(codes, "levels", level))
    if not res["extension"]:
        del res["extension"]
    return res


def _none_known(codes: CodeIndex, name: str) -> dict[str, Any]:
    return {
        "resourceType": "List",
        "id": f"none-{name.replace('_', '-')}",
        "status": "current",
        "mode": "snapshot",
        "subject": {"reference": PATIENT},
        "code": {"coding": [{"system": codes.maps.local.list, "code": name}]},
        "emptyReason": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/list-empty-reason", "code": "nilknown"}]
        },
    }


def bundle_from_case(case: dict[str, Any]) -> dict[str, Any]:
    codes = default_codemaps()
    now = _assessment_time(case)
    entries: list[dict[str, Any]] = []
    patient: dict[str, Any] = {"resourceType": "Patient", "id": "p1"}
    scalars: dict[str, Any] = {}
    for key in ("pregnant", "breastfeeding"):
        if case.get(key) is not None:
            scalars[key] = case[key]
    if case.get("sex") is not None:
        patient["gender"] = case["sex"]
    age = case.get("age")
    if age is not None and now is not None and float(age).is_integer():
        born = now.date()
        born = born.replace(year=born.year - int(age), day=min(born.day, 28) if born.month == 2 else born.day)
        patient["birthDate"] = born.isoformat()
    elif age is not None:
        scalars["age"] = age
    entries.append(patient)
    for group in ("symptoms", "conservative_care", "labs", "comorbidities", "exam", "crps_criteria"):
        for key, value in (case.get(group) or {}).items():
            if value is not None:
                scalars[f"{group}.{key}"] = value
    onset: str | None = None
    weeks = scalars.get("symptoms.duration_weeks")
    if case.get("diagnoses") and now is not None and weeks is not None and float(weeks * 7).is_integer():
        onset = (now.date() - dt.timedelta(days=int(weeks * 7))).isoformat()
        del scalars["symptoms.duration_weeks"]
    for index, diagnosis in enumerate(case.get("diagnoses") or []):
        coding, covered = _condition_coding(codes, diagnosis)
        condition: dict[str, Any] = {
            "resourceType": "Condition",
            "id": f"dx{index}",
            "subject": {"reference": PATIENT},
            "clinicalStatus": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
            },
            "verificationStatus": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}
                ]
            },
            "code": {"coding": [coding]},
            "extension": [],
        }
        for name in ("region", "side", "subtype"):
            if name not in covered and diagnosis.get(name) is not None:
                condition["extension"].append(_ext(codes, name, diagnosis[name]))
        if "levels" not in covered:
            condition["extension"] += [_ext(codes, "levels", lv) for lv in diagnosis.get("levels") or []]
        if not condition["extension"]:
            del condition["extension"]
        if onset:
            condition["onsetDateTime"] = onset
        entries.append(condition)
    ranges = (case.get("labs") or {}).get("ranges") or {}
    for index, (path, value) in enumerate(sorted(scalars.items())):
        observation = _observation(codes, path, value, index, now)
        recorded = ranges.get(path.removeprefix("labs.")) if path.startswith("labs.") else None
        if recorded and "valueQuantity" in observation:
            unit = observation["valueQuantity"].get("code")
            bound = {"system": "http://unitsofmeasure.org", "code": unit} if unit else {}
            observation["referenceRange"] = [
                {name: {"value": recorded[name], **bound} for name in ("low", "high") if recorded.get(name) is not None}
            ]
        entries.append(observation)
    rxnorm = {entry.medication: code for (_, code), entry in codes.medications.items()}
    for index, med in enumerate(case.get("medications") or []):
        name = med["name"]
        concept: dict[str, Any] = {"text": name}
        if name in rxnorm:
            concept = {
                "coding": [
                    {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": rxnorm[name], "display": name}
                ]
            }
        hours = med.get("last_dose_hours_ago")
        if hours is None or now is None:  # taken, last dose not recorded
            entries.append(
                {
                    "resourceType": "MedicationStatement",
                    "id": f"med{index}",
                    "status": "active",
                    "subject": {"reference": PATIENT},
                    "medicationCodeableConcept": concept,
                }
            )
        else:  # held for the procedure: the last dose given
            given = now - dt.timedelta(hours=hours)
            entries.append(
                {
                    "resourceType": "MedicationAdministration",
                    "id": f"dose{index}",
                    "status": "completed",
                    "subject": {"reference": PATIENT},
                    "medicationCodeableConcept": concept,
                    "effectiveDateTime": given.isoformat(),
                }
            )
    if case.get("medications") == []:
        entries.append(
            {
                "resourceType": "MedicationStatement",
                "id": "no-meds",
                "status": "active",
                "dateAsserted": str(case.get("assessment_date")),
                "subject": {"reference": PATIENT},
                "medicationCodeableConcept": {
                    "coding": [{"system": codes.maps.system_uri("ips"), "code": "no-known-medications"}]
                },
            }
        )
    allergy_codes = {entry.allergy: code for (_, code), entry in codes.allergies.items()}
    for index, allergy in enumerate(case.get("allergies") or []):
        coding = {"system": codes.maps.local.allergy, "code": allergy}
        if allergy in allergy_codes:
            coding = {"system": SNOMED, "code": allergy_codes[allergy]}
        entries.append(
            {
                "resourceType": "AllergyIntolerance",
                "id": f"allergy{index}",
                "patient": {"reference": PATIENT},
                "code": {"coding": [coding]},
            }
        )
    if case.get("allergies") == []:
        entries.append(
            {
                "resourceType": "AllergyIntolerance",
                "id": "no-allergies",
                "patient": {"reference": PATIENT},
                "code": {"coding": [{"system": codes.maps.system_uri("ips"), "code": "no-known-allergies"}]},
            }
        )
    for kind in ("prior_injections", "diagnostic_blocks"):
        for index, item in enumerate(case.get(kind) or []):
            entries.append(_procedure(codes, item, kind, f"{kind}-{index}"))
    for index, study in enumerate(case.get("imaging") or []):
        res: dict[str, Any] = {
            "resourceType": "ImagingStudy",
            "id": f"img{index}",
            "status": "available",
            "subject": {"reference": PATIENT},
        }
        if study.get("modality"):
            res["modality"] = [
                {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": DICOM[study["modality"]]}
            ]
        if study.get("date"):
            res["started"] = str(study["date"])
        if study.get("concordant") is not None:
            res["extension"] = [_ext(codes, "concordant", study["concordant"])]
        entries.append(res)
    for name in ("diagnoses", "imaging", "prior_injections", "diagnostic_blocks"):
        if case.get(name) == []:
            entries.append(_none_known(codes, name))
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:spine-cds:{e['resourceType']}/{e['id']}", "resource": e} for e in entries],
    }
    if case.get("case_id") is not None:
        bundle["identifier"] = {"system": "urn:spine-cds:case-id", "value": case["case_id"]}
    if now is not None:
        bundle["timestamp"] = now.isoformat()
    return bundle


FIELDS_NOT_IMPORTED = (
    ("medications", "drug_class"),
    ("medications", "regimen"),
    ("diagnoses", "prior_surgery_at_site"),
    ("prior_injections", "worked"),
)
"""Case fields the FHIR import does not yet read (README: What is not encoded). A record cannot
carry them, so the round-trip tests use only cases without them; leaving them unknown makes the
imported case ask, never pass."""


def fhir_can_carry(case: dict[str, Any]) -> bool:
    for head, field in FIELDS_NOT_IMPORTED:
        value = case.get(head)
        items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
        if any(isinstance(item, dict) and item.get(field) is not None for item in items):
            return False
    return True
