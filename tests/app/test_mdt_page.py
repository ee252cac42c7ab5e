"""The MDT list as a meeting runs it: real cases unless asked, red flags first, statuses in words,
the case itself beside the report, nothing decided until the chair chooses, a full share link."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from vignette_format import SHARED_VIGNETTES, load_vignette

from decision import evaluate
from decision.demo_cases import demo_cases
from decision.explain import STATUS_LABEL
from decision.store import CaseStore

ROOT = Path(__file__).resolve().parents[2]
APIXABAN = load_vignette(SHARED_VIGNETTES / "esi-apixaban-24h-deferred.yaml")["case"]
RAW_STATUS_IDS = ("not_indicated", "indicated_with_caution", "needs_information")


def _page() -> AppTest:
    script = f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nfrom ui.mdt import mdt_page\nmdt_page()\n"
    return AppTest.from_string(script, default_timeout=60)


@pytest.fixture(scope="module")
def real_case() -> str:
    """A real (clinician-saved) apixaban case beside the seeded demo cases, in the tests' store."""
    store = CaseStore()
    store.seed_demo_cases(demo_cases(), evaluate)
    return store.save_case(APIXABAN, evaluate(APIXABAN), "Apixaban 24 h patient", "dr a")


def _table(at: AppTest):  # type: ignore[no-untyped-def]
    return at.dataframe[0].value


def test_the_list_shows_real_cases_only_until_the_chair_asks_for_the_demos(real_case: str) -> None:
    at = _page().run()
    assert not at.exception
    ids = _table(at)["Id"].tolist()
    demo_ids = {c.id for c in CaseStore().list_cases() if c.demo}
    assert real_case in ids and not demo_ids & set(ids)
    at.toggle(key="mdt_show_demo").set_value(True).run()
    assert demo_ids <= set(_table(at)["Id"].tolist())


def test_red_flag_cases_come_first_and_read_red_flag_never_not_indicated(real_case: str) -> None:
    flagged = "red-flag-cauda-equina"  # a demo case: a real red-flag case would open first on other tests' pages
    assert CaseStore().stored_case(flagged).report.red_flags
    at = _page().run()
    at.toggle(key="mdt_show_demo").set_value(True).run()
    table = _table(at)
    engine = table["Engine"].tolist()
    assert engine[0] == "RED FLAG"
    assert engine == sorted(engine, key=lambda label: label != "RED FLAG")  # every red flag before the rest
    assert table.loc[table["Id"] == flagged, "Engine"].item() == "RED FLAG"
    assert set(engine) <= {"RED FLAG", *STATUS_LABEL.values()}
    assert not any(raw in " ".join(engine) for raw in RAW_STATUS_IDS)


def test_the_decision_column_is_beside_the_engine_and_says_words(real_case: str) -> None:
    CaseStore().record_decision(real_case, "none", "Dr Chair")
    at = _page().run()
    table = _table(at)
    assert list(table.columns)[:3] == ["Case", "Engine", "Decision"]
    assert table.loc[table["Id"] == real_case, "Decision"].item() == "No procedure"
    assert "UTC" in table.loc[table["Id"] == real_case, "Last saved"].item()  # the zone is named


def test_nothing_is_preselected_and_recording_without_a_choice_records_nothing(real_case: str) -> None:
    at = _page().run()
    at.selectbox(key="mdt_case").set_value(real_case).run()
    box = at.selectbox(key=f"mdt_proc_{real_case}")
    assert box.value is None
    assert any("The engine's first choice" in c.value or "offers no procedure" in c.value for c in at.caption)
    before = len(CaseStore().decisions(real_case))
    next(b for b in at.button if b.label == "Record decision").click().run()
    assert any("choose the meeting's decision first" in e.value for e in at.error)
    assert len(CaseStore().decisions(real_case)) == before


def test_the_chair_sees_the_case_itself_and_a_full_share_link(real_case: str) -> None:
    at = _page().run()
    at.selectbox(key="mdt_case").set_value(real_case).run()
    shown = "\n".join(m.value for m in at.markdown)
    assert "The case" in shown and "herniated disc" in shown.lower() and "52" in shown  # the case, not only the report
    link = at.code[0].value
    assert link == f"{CaseStore().settings.ui_url.rstrip('/')}/?case={real_case}"
    assert link.startswith("http")


def test_the_mdt_page_shows_no_emoji(real_case: str) -> None:
    source = (ROOT / "ui" / "mdt.py").read_text(encoding="utf-8")
    assert all(ord(ch) < 0x2190 for ch in source), "an emoji or symbol renders as an empty box without its font"


def test_a_title_in_the_audit_table_is_shown_as_text_not_markdown(real_case: str) -> None:
    beacon = "![x](http://127.0.0.1:9/beacon.png)"
    case_id = CaseStore().save_case(APIXABAN, evaluate(APIXABAN), beacon, "dr a")
    at = _page().run()
    at.selectbox(key="mdt_case").set_value(case_id).run()
    details = " ".join(at.table[-1].value["details"].tolist())
    assert "beacon.png" in details and "![x](" not in details  # escaped: the table renders Markdown
