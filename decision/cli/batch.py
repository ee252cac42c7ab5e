"""Batch evaluation: one report line per case line, in order, on one core, several, or a Dask cluster.

Each process builds its own evaluator (durable-rules is not thread-parallel: the engine runs
under one lock). Lines are streamed, never all held: memory stays flat however long the input.
"""

from __future__ import annotations

import glob
import json
import multiprocessing
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from decision.cli.inputs import InputError, parse_document
from decision.evaluate import CaseEvaluator, InvalidCase, default_evaluator

Result = tuple[str, bool]
"""(one output line without its newline, whether the case was valid)."""


def evaluate_line(evaluator: CaseEvaluator, number: int, raw: bytes, policy: str | None) -> Result:
    """A report line, or an error record naming the line and the problems; never an exception."""
    payload: Any = None
    try:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError([f"not UTF-8 text (byte {exc.start})"]) from None
        payload = parse_document(text, f"line {number}")
        return evaluator.evaluate(payload, policy).model_dump_json(), True
    except (InputError, InvalidCase) as exc:
        case_id = payload.get("case_id") if isinstance(payload, dict) else None
        return json.dumps({"line": number, "case_id": case_id, "error": {"problems": exc.echoed_problems}}), False


def numbered(lines: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    for number, raw in enumerate(lines, start=1):
        if raw.strip():
            yield number, raw


def run_serial(lines: Iterable[bytes], policy: str | None) -> Iterator[Result]:
    evaluator = default_evaluator()
    for number, raw in numbered(lines):
        yield evaluate_line(evaluator, number, raw, policy)


_worker_policy: str | None = None


def _init_worker(policy: str | None) -> None:
    global _worker_policy
    _worker_policy = policy
    default_evaluator()  # build the engine once per process, before the first case


def _work(item: tuple[int, bytes]) -> Result:
    return evaluate_line(default_evaluator(), item[0], item[1], _worker_policy)


def run_workers(lines: Iterable[bytes], policy: str | None, workers: int, chunk: int = 64) -> Iterator[Result]:
    """Worker processes, results in input order (imap keeps order while streaming)."""
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_init_worker, initargs=(policy,)) as pool:
        yield from pool.imap(_work, numbered(lines), chunksize=chunk)


def _evaluate_partition(lines: Iterable[str], policy: str | None) -> list[str]:
    evaluator = default_evaluator()
    return [
        evaluate_line(evaluator, n, line.encode(), policy)[0] for n, line in enumerate(lines, start=1) if line.strip()
    ]


def run_dask(pattern: str, out_dir: str, scheduler: str, policy: str | None) -> tuple[int, int]:
    """One partition per input file (give a glob of JSONL files to spread the work); one output part per
    partition, in input order. Returns (cases, invalid)."""
    import dask.bag as db
    from dask.distributed import Client, LocalCluster

    files = sorted(glob.glob(pattern))
    if not files:
        raise FileNotFoundError(pattern)
    cluster = (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        if scheduler == "local"
        else None
    )
    client = Client(cluster if cluster is not None else scheduler)
    try:
        bag = db.read_text(files, blocksize=None, linedelimiter="\n").map(lambda line: line.rstrip("\n"))
        results = bag.map_partitions(_evaluate_partition, policy)
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        results.to_textfiles(f"{out_dir}/part-*.jsonl", last_endline=True)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    cases = invalid = 0
    for part in sorted(Path(out_dir).glob("part-*.jsonl"), key=lambda p: int(p.stem.split("-")[1])):
        for line in part.read_text(encoding="utf-8").splitlines():
            cases += 1
            invalid += line.startswith('{"line"')
    return cases, invalid
