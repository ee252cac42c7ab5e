"""A store that cannot write says so: feedback gets a 503 (send it again), the hook's cards say the
assessment was not stored (no link, no uuid, no feedback expected), and concurrent calls through
the service are all stored in one chain that verifies."""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cds_hooks_requests import ORDER_SELECT, PROCEDURE_SYSTEM, assessment_time, order_select_request, service_request
from fastapi.testclient import TestClient
from vignette_format import load_vignette

from decision.cds_hooks.service import HttpProblem, create_app
from decision.cli.command import main
from decision.settings import Settings
from decision.store import CaseStore
from decision.store import tables as store_tables
from decision.store import writes as store_writes

NRB_CASE = load_vignette(
    Path(__file__).resolve().parents[1] / "vignettes" / "nerve-root-block-contrast-allergy-ultrasound.yaml"
)["case"]
CONCURRENT_CALLS, IN_FLIGHT = 200, 20


@pytest.fixture
def keyed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A throwaway SQLite store with a key file of its own (never the developer's key)."""
    monkeypatch.setenv("SPINE_CDS_AUDIT_KEY_FILE", str(tmp_path / "audit.key"))
    monkeypatch.delenv("SPINE_CDS_AUDIT_KEY", raising=False)
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'mdt.sqlite'}",
        audit_key_file=tmp_path / "audit.key",
        service_allow_unauthenticated=True,
    )


@pytest.fixture
def busy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Short waits, so that a held write lock makes the store give up within a second."""
    monkeypatch.setattr(store_tables, "SQLITE_BUSY_TIMEOUT_SECONDS", 0.1)
    monkeypatch.setattr(store_writes, "WRITE_ATTEMPTS", 2)
    yield


def _hold_write_lock(url: str) -> sqlite3.Connection:
    holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def _verify(url: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["audit", "verify", "--database", url], out=out)
    return code, out.getvalue()


def _service_client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings, clock=lambda: assessment_time(NRB_CASE)), raise_server_exceptions=False)


def _nrb_order() -> dict[str, Any]:
    order = service_request("nrb-1", [{"system": PROCEDURE_SYSTEM, "code": "nerve_root_block"}], "1288992")
    return order_select_request(NRB_CASE, [order])


def test_feedback_to_a_busy_store_is_a_503_and_the_hook_cards_say_they_were_not_stored(
    keyed: Settings, busy: None
) -> None:
    client = _service_client(keyed)
    (card,) = client.post(f"/cds-services/{ORDER_SELECT}", json=_nrb_order()).json()["cards"]
    holder = _hold_write_lock(keyed.database_url)
    try:
        feedback = {
            "feedback": [{"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-01-01T10:00:00Z"}]
        }
        response = client.post(f"/cds-services/{ORDER_SELECT}/feedback", json=feedback)
        assert response.status_code == 503, response.text
        assert response.json()["error"].startswith("the case store cannot write now")
        (unstored,) = client.post(f"/cds-services/{ORDER_SELECT}", json=_nrb_order()).json()["cards"]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "uuid" not in unstored and "links" not in unstored
    assert "**Not stored**" in unstored["detail"] and "feedback on it cannot be recorded" in unstored["detail"]
    assert "Not stored" not in card["detail"]


def test_200_concurrent_feedback_calls_on_one_card_record_it_once_and_the_trail_verifies(keyed: Settings) -> None:
    client = _service_client(keyed)
    (card,) = client.post(f"/cds-services/{ORDER_SELECT}", json=_nrb_order()).json()["cards"]
    service = client.app.state.service  # type: ignore[attr-defined]
    body = json.dumps(
        {"feedback": [{"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-01-01T10:00:00Z"}]}
    ).encode()

    def send(_: int) -> str:
        try:
            return str(service.feedback(ORDER_SELECT, body, {}))
        except HttpProblem as refused:
            return f"{refused.status} {refused.title}"

    with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
        answers = list(pool.map(send, range(CONCURRENT_CALLS)))
    assert sorted(answers) == ["409 feedback already recorded"] * (CONCURRENT_CALLS - 1) + ["{'recorded': 1}"]
    store = CaseStore(keyed.database_url, settings=keyed)
    assert [e.action for e in store.audit_trail()].count("CDS Hooks feedback") == 1
    assert _verify(keyed.database_url) == (
        0,
        f"audit trail intact: {1 + 2} entries, each matching its signed hash, the one before and the rows it records\n",
    )
