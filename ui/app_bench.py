"""Server time per interaction of the clinician page: `make bench-app` (issue 15, item 10).

Two measurements, each reported as median and 90th percentile per interaction:

- **page**: the real app script (`ui/app.py`, through its navigation) rerun by streamlit's AppTest
  for each thing a clinician does (choose a demo case, answer a missing question, re-assess,
  change a what-if answer, keep it, assess the form, save). This is the time the server spends
  between the click and the page it sends back, less the websocket's own work.
- **fragments**: the case form, the needs-information box and the what-if panel are fragments: a
  widget inside one reruns only it; each is timed as a script of its own (what its rerun executes).
- **calls**: the app's own calls on their own (`ui.case_answers`: assess, answer, what-if, save;
  `ui.form_fill`), to show how much of a rerun is the engine and how much is the page.

It writes to a throwaway database (a temporary SQLite file), never to the configured store. The
target (issue 15) is a median under 100 ms per interaction; the figures are reported, not asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

APP = Path(__file__).resolve().parent / "app.py"
TARGET_MS = 100.0
NEEDS_MEDICATIONS = "esi-medications-unknown-needs-information"
OTHER_DEMO = "esi-lumbar-radicular-indicated"
TIMEOUT = 120
DATABASE_URL = "SPINE_CDS_DATABASE_URL"


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def summary(samples: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """Median and 90th percentile (ms) of each interaction's samples."""
    return {
        name: {
            "n": len(values),
            "median_ms": round(statistics.median(values) * 1000, 1),
            "p90_ms": round(_percentile(values, 0.9) * 1000, 1),
        }
        for name, values in samples.items()
        if values
    }


def _timed(samples: dict[str, list[float]], name: str, action: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = action()
    samples.setdefault(name, []).append(time.perf_counter() - started)
    return result


def bench_page(rounds: int) -> dict[str, list[float]]:
    """Each of a clinician's interactions as a rerun of the real app script, `rounds` times."""
    from streamlit.testing.v1 import AppTest

    from ui.clinician import DEMO_TAB, FORM_TAB, INPUT_TABS

    samples: dict[str, list[float]] = {}
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    _timed(samples, "open the app (first run, cold)", at.run)
    for _ in range(rounds):
        at.selectbox(key="demo_choice").set_value(NEEDS_MEDICATIONS)
        _timed(samples, "assess: choose a demo case", at.run)
        _timed(samples, "rerun with nothing changed", at.run)
        at.radio(key="answer_medications_taken").set_value("None")
        _timed(samples, "answer: a missing question", at.run)
        at.button(key="answer_reassess").click()
        _timed(samples, "answer: re-assess with the answers", at.run)
        at.selectbox(key="whatif_path").set_value("add:medications")
        _timed(samples, "what-if: choose add a medication", at.run)
        at.text_input(key="whatif_medications.name").input("apixaban")
        _timed(samples, "what-if: type the drug", at.run)
        at.number_input(key="whatif_medications.last_dose_hours_ago").set_value(130)
        _timed(samples, "what-if: last dose 130 h ago", at.run)
        at.button(key="whatif_keep").click()
        _timed(samples, "what-if: keep the answer", at.run)
        at.session_state[INPUT_TABS] = FORM_TAB  # the input tabs draw only the open one
        _timed(samples, "switch to the case form tab", at.run)
        at.button(key="f_assess").click()
        _timed(samples, "assess: the case form", at.run)
        save = next(b for b in at.button if b.label == "Save to the MDT list")
        save.click()
        _timed(samples, "save to the MDT list", at.run)
        at.session_state[INPUT_TABS] = DEMO_TAB
        _timed(samples, "switch to the demo case tab", at.run)
        at.selectbox(key="demo_choice").set_value(OTHER_DEMO)
        _timed(samples, "assess: choose a demo case", at.run)
        if at.exception:
            raise RuntimeError(f"the app failed during the benchmark: {at.exception[0].message}")
    return samples


FRAGMENT_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
from decision.demo_cases import demo_cases
from ui.case_form import case_form
from ui.case_questions import missing_questions, what_if_panel
from ui.clinician import page_answers
from ui.components import evaluator
answers = page_answers()
if answers.case is None:
    answers.load(demo_cases()[{demo!r}]["case"])
{call}
"""
FRAGMENTS = {
    "form": "case_form(answers)",
    "questions": "missing_questions(answers, answers.report(evaluator()))",
    "what-if": "what_if_panel(answers, answers.report(evaluator()), None)",
    "save": (
        "from ui.clinician import _save_and_share\nfrom ui.identity import signed_in_user\n"
        "_save_and_share(answers.case, answers.report(evaluator()), signed_in_user())"
    ),
}


def bench_fragments(rounds: int) -> dict[str, list[float]]:
    """What a fragment rerun costs: the form, the needs-information box and the what-if panel are
    fragments, so a widget inside one reruns only it (AppTest reruns whole scripts, so each is run
    here as a script of its own, which is what its rerun executes)."""
    from streamlit.testing.v1 import AppTest

    root = str(APP.parent.parent)
    samples: dict[str, list[float]] = {}

    def script(part: str) -> AppTest:
        code = FRAGMENT_SCRIPT.format(root=root, demo=NEEDS_MEDICATIONS, call=FRAGMENTS[part])
        return AppTest.from_string(code, default_timeout=TIMEOUT).run()

    form, questions, panel, saving = script("form"), script("questions"), script("what-if"), script("save")
    panel.selectbox(key="whatif_path").set_value("add:medications").run()
    for index in range(rounds):
        form.number_input(key="f_age").set_value(40 + index % 2)
        _timed(samples, "fragment: the form, one answer typed", form.run)
        choice = ("None", "Not asked")[index % 2]
        questions.radio(key="answer_medications_taken").set_value(choice)
        _timed(samples, "fragment: needs information, one answer", questions.run)
        panel.number_input(key="whatif_medications.last_dose_hours_ago").set_value(130 + index % 2)
        panel.text_input(key="whatif_medications.name").input("apixaban")
        _timed(samples, "fragment: what-if, one step", panel.run)
        first = next(b for b in saving.button if b.label in ("Save to the MDT list", "Save again (new version)"))
        first.click()
        _timed(samples, "fragment: save (and its rerun)", saving.run)
    return samples


def bench_calls(rounds: int) -> dict[str, list[float]]:
    """The app's own calls without the page: assess, answer, what-if, save, and the form's refill."""
    from decision.demo_cases import demo_cases
    from decision.evaluator import default_evaluator
    from decision.store import CaseStore
    from ui.case_answers import Change, assess, changed, save, what_if
    from ui.form_fill import form_fill

    evaluator = default_evaluator()
    store = CaseStore()
    cases = [demo["case"] for demo in demo_cases().values()]
    samples: dict[str, list[float]] = {}
    apixaban = Change(path="medications", value={"name": "apixaban", "last_dose_hours_ago": 130}, add=True)
    for _ in range(rounds):
        for case in cases:
            report = _timed(samples, "call: assess", lambda c=case: assess(evaluator, c))
            _timed(
                samples,
                "call: answer and re-assess",
                lambda c=case: assess(evaluator, changed(c, Change(path="comorbidities.osteoporosis", value=False))),
            )
            _timed(
                samples, "call: what-if (add a medication)", lambda c=case, r=report: what_if(evaluator, c, r, apixaban)
            )
            _timed(samples, "call: form refill", lambda c=case: form_fill(c))
        first = cases[0]
        first_report = assess(evaluator, first)
        _timed(
            samples, "call: save", lambda c=first, r=first_report: save(store, c, r, "benchmark", who="app benchmark")
        )
    return samples


def table(results: dict[str, dict[str, float]]) -> str:
    width = max(len(name) for name in results)
    lines = [f"{'interaction':<{width}}  {'n':>4}  {'median ms':>9}  {'p90 ms':>8}  target"]
    for name, figures in results.items():
        met = "" if name.startswith("open") else ("met" if figures["median_ms"] < TARGET_MS else "NOT met")
        lines.append(
            f"{name:<{width}}  {figures['n']:>4.0f}  {figures['median_ms']:>9.1f}  {figures['p90_ms']:>8.1f}  {met}"
        )
    return "\n".join(lines)


def run(rounds: int, calls_rounds: int) -> dict[str, dict[str, float]]:
    """Both measurements against a throwaway database; the summary by interaction."""
    from ui.components import store

    configured = os.environ.get(DATABASE_URL)
    with tempfile.TemporaryDirectory(prefix="spine-cds-bench-") as folder:
        os.environ[DATABASE_URL] = f"sqlite:///{folder}/bench.sqlite"
        store.clear()  # the app's store is kept per process: make it the throwaway one
        try:
            samples = bench_page(rounds)
            samples.update(bench_fragments(rounds))
            samples.update(bench_calls(calls_rounds))
        finally:
            store.clear()
            if configured is None:
                os.environ.pop(DATABASE_URL, None)
            else:
                os.environ[DATABASE_URL] = configured
    return summary(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Server time per interaction of the clinician page.")
    parser.add_argument("--rounds", type=int, default=10, help="rounds of the page's interactions (default 10)")
    parser.add_argument("--calls-rounds", type=int, default=3, help="rounds over every demo case of the plain calls")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    results = run(max(1, args.rounds), max(1, args.calls_rounds))
    print(table(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
