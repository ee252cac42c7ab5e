"""Eight threads through one evaluator: no crash, no cross-talk, no growth in memory or sessions.

`make test` runs 8 x 150 evaluations; `make test-long` 8 x 10,000.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from vignette_format import load_vignette, vignette_files

from decision.evaluator import default_evaluator

PER_THREAD = 10_000 if os.environ.get("SPINE_CDS_HYPOTHESIS") == "long" else 150
THREADS = 8


def _rss_bytes() -> int:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def _run(cases: list[dict[str, object]], expected: list[str], per_thread: int) -> list[BaseException]:
    evaluator = default_evaluator()
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(per_thread):
                index = (i * 7 + worker) % len(cases)
                got = evaluator.evaluate(cases[index]).model_dump_json()
                if got != expected[index]:
                    raise AssertionError(f"thread {worker}: case {index} differs from its single-threaded twin")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_eight_threads_match_their_single_threaded_twins_without_growth() -> None:
    evaluator = default_evaluator()
    cases = [load_vignette(p)["case"] for p in vignette_files()]
    expected = [evaluator.evaluate(c).model_dump_json() for c in cases]
    assert not _run(cases, expected, max(PER_THREAD // 10, 20))  # warm up caches and allocator
    before = _rss_bytes()
    assert not _run(cases, expected, PER_THREAD)
    growth = _rss_bytes() - before
    assert evaluator.engine.live_sessions == evaluator.engine.kept_sessions <= evaluator.engine.ruleset_count
    assert growth < 64 * 1024 * 1024, f"memory grew by {growth / 1e6:.1f} MB over {THREADS * PER_THREAD} evaluations"
