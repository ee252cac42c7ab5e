"""A token is used once across every replica of the service: the `jti`s seen are kept in the case
store's database, so a replay to another worker, or after a restart, is refused like one to the
same process."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from cds_hooks_requests import PATIENT_VIEW, assessment_time, patient_view_request
from cds_hooks_tokens import SigningClient, signed, trust_for
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from vignette_format import load_vignette

from decision.cds_hooks.service import create_app
from decision.settings import Settings
from decision.store.replay import PURGE_EVERY, UsedTokens, used_tokens_table
from decision.store.tables import open_database

CASE = load_vignette(Path(__file__).resolve().parents[1] / "vignettes" / "esi-duration-4-weeks-indicated.yaml")["case"]
HOOK = f"/cds-services/{PATIENT_VIEW}"
EHR = SigningClient(issuer="https://replay-ehr.example", kid="replay-1")


def _service(store_url: str) -> TestClient:
    settings = Settings(database_url=store_url, service_trust=(trust_for(EHR),))
    return TestClient(create_app(settings, clock=lambda: assessment_time(CASE)))


def test_a_token_used_on_one_worker_is_refused_by_another_worker_on_the_same_store(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    headers = signed(HOOK, EHR)
    with _service(store_url) as first, _service(store_url) as second:
        assert first.post(HOOK, json=patient_view_request(CASE), headers=headers).status_code == 200
        replay = second.post(HOOK, json=patient_view_request(CASE), headers=headers)
    assert replay.status_code == 401
    assert replay.json() == {"error": "not authenticated", "problems": ["the bearer token was refused"]}


def test_a_token_used_before_a_restart_is_refused_after_it(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    headers = signed(HOOK, EHR)
    with _service(store_url) as before:
        assert before.post(HOOK, json=patient_view_request(CASE), headers=headers).status_code == 200
    with _service(store_url) as after:
        assert after.post(HOOK, json=patient_view_request(CASE), headers=headers).status_code == 401
        assert after.post(HOOK, json=patient_view_request(CASE), headers=signed(HOOK, EHR)).status_code == 200


def test_two_stores_on_one_file_let_one_jti_through_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    one, other = UsedTokens(open_database(url)), UsedTokens(open_database(url))
    expires = time.time() + 300
    assert one.first_use("https://ehr.example", "jti-1", expires, purge_before=time.time())
    assert not other.first_use("https://ehr.example", "jti-1", expires, purge_before=time.time())
    assert not one.first_use("https://ehr.example", "jti-1", expires, purge_before=time.time())
    assert other.first_use("https://another-ehr.example", "jti-1", expires, purge_before=time.time())


def test_rows_of_expired_tokens_are_purged_and_live_ones_kept(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'store.sqlite'}")
    used = UsedTokens(engine)
    now = time.time()
    assert used.first_use("https://ehr.example", "old", now - 600, purge_before=now - 900)
    for n in range(PURGE_EVERY):
        assert used.first_use("https://ehr.example", f"live-{n}", now + 300, purge_before=now - 30)
    with engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(used_tokens_table)).scalar_one()
    assert rows == PURGE_EVERY  # "old" went, every live one stayed


def test_a_store_that_cannot_be_reached_leaves_the_check_of_this_process(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store_url = f"sqlite:///{tmp_path / 'no-such-folder' / 'store.sqlite'}"
    headers = signed(HOOK, EHR)
    with _service(store_url) as service:
        assert service.post(HOOK, json=patient_view_request(CASE), headers=headers).status_code == 200
        assert service.post(HOOK, json=patient_view_request(CASE), headers=headers).status_code == 401
    assert "replay_store_unavailable" in caplog.text
