"""Saving a stored case again is a new version of it, recorded in the audit chain, never a copy;
and the MDT list can leave the seeded demo cases out."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from vignette_format import SHARED_VIGNETTES, load_vignette

from decision import evaluate
from decision.store import CaseStore

APIXABAN = load_vignette(SHARED_VIGNETTES / "esi-apixaban-24h-deferred.yaml")["case"]
RADICULAR = load_vignette(SHARED_VIGNETTES / "esi-lumbar-radicular-indicated.yaml")["case"]
TF = "epidural_steroid_injection/transforaminal/lumbar"


@pytest.fixture
def store(tmp_path: Path) -> CaseStore:
    return CaseStore(f"sqlite:///{tmp_path / 'mdt.sqlite'}")


def test_saving_a_stored_case_again_makes_a_new_version_not_a_second_case(store: CaseStore) -> None:
    case_id = store.save_case(APIXABAN, evaluate(APIXABAN), "Apixaban patient", "dr a")
    again = store.save_case(RADICULAR, evaluate(RADICULAR), "Apixaban patient, answered", "dr b", case_id=case_id)
    assert again == case_id
    assert [c.id for c in store.list_cases()] == [case_id]
    latest = store.stored_case(case_id)
    assert latest.version == 2 and latest.title == "Apixaban patient, answered"
    assert latest.best_status == "indicated" and latest.case == RADICULAR
    versions = store.case_versions(case_id)
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].best_status == "deferred" and versions[0].case == APIXABAN  # the first stays as written


def test_the_new_version_is_an_audit_entry_and_the_chain_still_verifies(store: CaseStore) -> None:
    case_id = store.save_case(APIXABAN, evaluate(APIXABAN), "t", "dr a")
    store.save_case(RADICULAR, evaluate(RADICULAR), "t", "dr b", case_id=case_id)
    store.record_decision(case_id, TF, "chair")
    trail = store.audit_trail(case_id)
    assert [e.action for e in trail] == ["case saved", "case updated", "decision recorded"]
    assert trail[1].who == "dr b" and trail[1].details["version"] == 2
    assert trail[1].records[0]["table"] == "case_versions"
    assert trail[2].details["case_version"] == 2 and trail[2].details["engine_status"] == "indicated"
    assert store.verify_audit() == []


def test_an_edited_earlier_version_is_detected(store: CaseStore) -> None:
    case_id = store.save_case(APIXABAN, evaluate(APIXABAN), "t", "dr a")
    store.save_case(RADICULAR, evaluate(RADICULAR), "t", "dr b", case_id=case_id)
    store.save_case(APIXABAN, evaluate(APIXABAN), "t", "dr b", case_id=case_id)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE case_versions SET best_status = 'indicated' WHERE version = 3"))
    problems = store.verify_audit()
    assert any(f"case version {case_id}@v3" in p and "changed" in p for p in problems)


def test_a_version_added_outside_spine_cds_is_detected(store: CaseStore) -> None:
    case_id = store.save_case(APIXABAN, evaluate(APIXABAN), "t", "dr a")
    store.save_case(RADICULAR, evaluate(RADICULAR), "t", "dr b", case_id=case_id)
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO case_versions SELECT :new_id, case_id, 3, saved_at, title, case_json, report_json, "
                "best_status, conditions, knowledge_version FROM case_versions WHERE version = 2"
            ),
            {"new_id": f"{case_id}@v3"},
        )
    assert store.stored_case(case_id).version == 3  # the forged row is what the store now hands back ...
    assert any("no audit entry records it" in p for p in store.verify_audit())  # ... and verify says so


def test_the_list_can_leave_the_demo_cases_out(store: CaseStore) -> None:
    store.seed_demo_cases({"demo-a": {"title": "A", "case": RADICULAR}}, evaluate)
    real = store.save_case(APIXABAN, evaluate(APIXABAN), "real", "dr a")
    assert {c.id for c in store.list_cases()} == {"demo-a", real}
    assert [c.id for c in store.list_cases(include_demo=False)] == [real]
    assert store.stored_case("demo-a").demo and not store.stored_case(real).demo


def test_the_list_filters_on_the_latest_version(store: CaseStore) -> None:
    case_id = store.save_case(APIXABAN, evaluate(APIXABAN), "t", "dr a")
    assert [c.id for c in store.list_cases(status="deferred")] == [case_id]
    store.save_case(RADICULAR, evaluate(RADICULAR), "t", "dr a", case_id=case_id)
    assert store.list_cases(status="deferred") == []
    assert [c.id for c in store.list_cases(status="indicated")] == [case_id]
