"""Parallel and distributed batch runs give exactly the single-process output, in order."""

from __future__ import annotations

import gc
import io
import itertools
import json
from pathlib import Path

import pytest

from decision.cli.batch import run_serial
from decision.cli.bench import format_table, memory_run, run_benchmark
from decision.cli.casegen import generate_cases
from decision.cli.command import main
from knowledge.loader import load_knowledge


def _write_cases(path: Path, start: int, count: int, bad_line: bool = False) -> None:
    cases = list(generate_cases(load_knowledge(), start + count))[start:]
    lines = [json.dumps(c) for c in cases]
    if bad_line:
        lines.insert(3, '{"age": "old"}')
    path.write_text("\n".join(lines) + "\n")


def _batch(argv: list[str]) -> int:
    return main(["batch", *argv], out=io.StringIO())


def test_worker_processes_give_the_serial_output_in_order(tmp_path: Path) -> None:
    source = tmp_path / "cases.jsonl"
    _write_cases(source, 0, 120, bad_line=True)
    assert _batch([str(source), "--out", str(tmp_path / "serial.jsonl")]) == 2
    assert _batch([str(source), "--out", str(tmp_path / "workers.jsonl"), "--workers", "2"]) == 2
    serial = (tmp_path / "serial.jsonl").read_text()
    assert serial == (tmp_path / "workers.jsonl").read_text()
    records = [json.loads(line) for line in serial.splitlines()]
    assert len(records) == 121 and records[3]["line"] == 4 and records[3]["error"]["problems"]


def test_dask_on_a_two_worker_local_cluster_gives_the_single_machine_output(tmp_path: Path) -> None:
    pytest.importorskip("dask.distributed")
    _write_cases(tmp_path / "cases-a.jsonl", 0, 60)
    _write_cases(tmp_path / "cases-b.jsonl", 60, 60)
    (tmp_path / "all.jsonl").write_text(
        (tmp_path / "cases-a.jsonl").read_text() + (tmp_path / "cases-b.jsonl").read_text()
    )
    assert _batch([str(tmp_path / "all.jsonl"), "--out", str(tmp_path / "single.jsonl")]) == 0
    assert _batch([str(tmp_path / "cases-*.jsonl"), "--dask", "local", "--out", str(tmp_path / "parts")]) == 0
    parts = sorted((tmp_path / "parts").glob("part-*.jsonl"))
    assert len(parts) == 2
    # Line numbers count within each input file; apart from them the bytes are the single run's.
    distributed = [json.loads(line) for p in parts for line in p.read_text().splitlines()]
    single = [json.loads(line) for line in (tmp_path / "single.jsonl").read_text().splitlines()]
    assert [r.pop("line") for r in distributed] == [*range(1, 61), *range(1, 61)]
    assert [r.pop("line") for r in single] == list(range(1, 121))
    assert distributed == single


def test_batch_streams_its_input() -> None:
    """Results come out while input is still being read: memory does not grow with the input."""
    cases = (json.dumps(c).encode() for c in generate_cases(load_knowledge(), 10**9))
    first = list(itertools.islice(run_serial(cases, None), 5))
    assert len(first) == 5 and all(valid for _, valid in first)


def test_the_benchmark_reports_every_path_and_ratio() -> None:
    results = run_benchmark(case_count=100, scale_cases=10, factors=(1, 2), batch_cases=60)
    for path in ("full", "batch_path", "floor", "c_core", "reference"):
        assert results[path]["cases"] == 100 and results[path]["p50_us"] > 0
    # The ratio is reported from the same run's medians (the engine now dominates a full
    # evaluation, so full and floor are close and their order is within measurement noise).
    ratio = results["ratios"]["full_over_floor_p50"]
    assert ratio == results["full"]["p50_us"] / results["floor"]["p50_us"] and ratio > 0
    batch_ratio = results["ratios"]["batch_path_over_c_core_p50"]
    assert batch_ratio == results["batch_path"]["p50_us"] / results["c_core"]["p50_us"] and batch_ratio > 0
    assert set(results["rule_count_scaling_floor"]) == {"1x", "2x"}
    assert results["load_and_compile_s"]["median"] > 0 and results["peak_rss_mb"] > 0
    for mix in ("cli_generated", "cli_vignettes"):  # spine-cds batch, run as a user runs it
        runs = results["batch"][mix]
        assert runs["cases"] == 60
        for name in ("batch_1_core", "batch_2_workers"):
            assert runs[name]["seconds"] > 0 and runs[name]["start_seconds"] > 0  # 60 cases: within its noise
    table = format_table(results)
    assert "full / floor" in table and "full / reference" in table and "--workers 2" in table
    assert "batch_path / c_core" in table


def test_the_memory_run_reads_rss_along_the_way_and_at_the_end() -> None:
    marks = memory_run(total=130, every=64)
    assert [mark["cases"] for mark in marks] == [64, 128, 130]
    assert all(mark["rss_mb"] > 0 for mark in marks)
    assert [mark["seconds"] for mark in marks] == sorted(mark["seconds"] for mark in marks)


def test_a_batch_run_in_process_sets_the_knowledge_aside_from_the_collector_only_while_it_runs() -> None:
    """The knowledge is frozen out of garbage collection for the run (each full collection walked
    it) and given back afterwards, so a process that goes on (a test run, the bench) collects as before."""
    lines = [json.dumps(case).encode() for case in generate_cases(load_knowledge(), 3)]
    results = run_serial(lines, None)
    next(results)
    assert gc.get_freeze_count() > 0
    assert len(list(results)) == 2
    assert gc.get_freeze_count() == 0


def test_a_process_that_froze_its_own_objects_is_left_frozen() -> None:
    lines = [json.dumps(case).encode() for case in generate_cases(load_knowledge(), 2)]
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert len(list(run_serial(lines, None))) == 2
        assert frozen > 0 and gc.get_freeze_count() > 0  # not unfrozen by the batch
    finally:
        gc.unfreeze()
