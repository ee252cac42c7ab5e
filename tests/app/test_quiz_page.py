"""The trainee's quiz and matrix: every candidate asked, a neutral title and a readable vignette,
the learner's answer beside the engine's with words for marks; the matrix in indications' words."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from decision import evaluate
from decision.demo_cases import demo_cases
from decision.explain import STATUS_LABEL, candidate_title

ROOT = Path(__file__).resolve().parents[2]
VIGNETTE = "esi-apixaban-24h-deferred"


def _page(function: str) -> AppTest:
    script = f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nfrom ui.trainee import {function}\n{function}()\n"
    return AppTest.from_string(script, default_timeout=60)


def _shown(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in [*at.markdown, *at.caption, *at.info])


def _quiz_boxes(at: AppTest):  # type: ignore[no-untyped-def]
    return [b for b in at.selectbox if b.key and b.key.startswith(f"quiz_{VIGNETTE}_")]


def test_the_quiz_asks_every_candidate_with_nothing_answered_for_the_learner() -> None:
    at = _page("quiz_page").run()
    at.selectbox(key="quiz_case").set_value(VIGNETTE).run()
    assert not at.exception
    report = evaluate(demo_cases()[VIGNETTE]["case"])
    boxes = _quiz_boxes(at)
    assert [b.label for b in boxes] == [candidate_title(c) for c in report.candidates]
    assert len(boxes) == len(report.candidates) > 3  # not-indicated candidates are asked too
    assert all(b.value is None for b in boxes)


def test_the_quiz_titles_are_neutral_and_the_vignette_reads_as_prose() -> None:
    at = _page("quiz_page").run()
    at.selectbox(key="quiz_case").set_value(VIGNETTE).run()
    titles = at.selectbox(key="quiz_case").options
    assert titles[:3] == ["Case 1", "Case 2", "Case 3"]
    assert all(t.startswith("Case ") and t[5:].isdigit() for t in titles)
    shown = _shown(at)
    assert demo_cases()[VIGNETTE]["title"] not in shown  # "... last dose 24 hours ago" would give it away
    assert "year-old" in shown or "years" in shown  # the case in words ...
    assert not at.json  # ... not a JSON tree
    assert "under the Clinic (default) profile" in shown  # the profile the answers are marked against


def test_the_learners_answers_stand_beside_the_engines_with_words_for_marks() -> None:
    at = _page("quiz_page").run()
    at.selectbox(key="quiz_case").set_value(VIGNETTE).run()
    report = evaluate(demo_cases()[VIGNETTE]["case"])
    for box in _quiz_boxes(at):
        box.set_value("deferred")
    next(b for b in at.button if b.label == "Check my answers").click().run()
    assert not at.exception
    table = at.table[0].value
    assert list(table.columns) == ["Your answer", "Engine", "Mark"]
    assert set(table["Mark"]) <= {"correct", "not this time"}
    for cand in report.candidates:
        row = table.loc[candidate_title(cand)]
        assert row["Your answer"] == STATUS_LABEL["deferred"] and row["Engine"] == STATUS_LABEL[cand.status]
        assert row["Mark"] == ("correct" if cand.status == "deferred" else "not this time")
    right = sum(c.status == "deferred" for c in report.candidates)
    assert f"{right} of {len(report.candidates)} right" in _shown(at)


def test_the_matrix_shows_indications_in_words_with_every_procedure_as_a_column() -> None:
    at = _page("matrix_page").run()
    assert not at.exception
    assert not at.dataframe  # a table wraps its cells, so no column is scrolled out of view
    table = at.table[0].value
    from decision.evaluator import default_evaluator

    vocab = default_evaluator().knowledge.vocabulary
    assert list(table.columns) == [vocab.procedures[p].label for p in sorted(vocab.procedures)]
    cells = " ".join(table.to_numpy().ravel())
    assert "Epidural steroid injection for radicular pain from a herniated disc" in cells
    rule_ids = {e.rule.id for e in default_evaluator().knowledge.rules}
    assert not any(rule_id in cells for rule_id in rule_ids)


def test_the_trainee_and_mdt_pages_carry_no_emoji() -> None:
    for page in ("trainee.py", "mdt.py"):
        source = (ROOT / "ui" / page).read_text(encoding="utf-8")
        assert all(ord(ch) < 0x2190 for ch in source), page
