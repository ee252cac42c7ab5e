"""Batch evaluation: one report line per case line, in order, on one core, several, or a Dask cluster.

Each process builds its own evaluator (durable-rules is not thread-parallel: the engine runs
under one lock). Lines are streamed, never all held: memory stays flat however long the input.
"""

from __future__ import annotations

import glob
import json
import multiprocessing
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from decision.cli.inputs import InputError, parse_document
from decision.evaluator import CaseEvaluator, InvalidCase, default_evaluator

Result = tuple[str, bool]
"""(one output line without its newline, whether the case was valid)."""


MAX_LINE_BYTES = 1_000_000
"""The longest case line read (a case with 20 diagnoses and 100 earlier injections is ~30 kB); a
longer line is refused unread, so one line cannot take the memory of the machine."""

_UNPRINTABLE = {"Cc", "Cf", "Co", "Cs", "Zl", "Zp"}


def printable_id(value: Any) -> str | None:
    """A case id as an error record may print it: control, format (bidi) and separator characters
    removed, at most 200 characters. A report's own case_id is already refused such characters."""
    if not isinstance(value, str):
        return None
    return "".join(ch for ch in value if unicodedata.category(ch) not in _UNPRINTABLE)[:200]


def evaluate_line(evaluator: CaseEvaluator, number: int, raw: bytes | None, policy: str | None) -> Result:
    """A report record, or an error record, each with the input line number; never an exception.
    `raw` is None for a line longer than MAX_LINE_BYTES (not read)."""
    payload: Any = None
    try:
        if raw is None:
            raise InputError([f"longer than {MAX_LINE_BYTES:,} bytes; not read"])
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError([f"not UTF-8 text (byte {exc.start})"]) from None
        payload = parse_document(text, f"line {number}")
        report = evaluator.evaluate(payload, policy).model_dump_json()
        return f'{{"line":{number},{report[1:]}', True
    except (InputError, InvalidCase) as exc:
        case_id = printable_id(payload.get("case_id")) if isinstance(payload, dict) else None
        return json.dumps({"line": number, "case_id": case_id, "error": {"problems": exc.echoed_problems}}), False


def _bounded_lines(stream: BinaryIO) -> Iterator[bytes | None]:
    """The stream's lines, None for one longer than MAX_LINE_BYTES (skipped without holding it)."""
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := stream.readline(1 << 16)) and not rest.endswith(b"\n"):
                pass
            yield None
        else:
            yield line


def numbered(lines: Iterable[bytes] | BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """(input line number, line) for every non-blank line; a line too long to read is None."""
    source: Iterable[bytes | None] = _bounded_lines(lines) if hasattr(lines, "readline") else lines  # type: ignore[arg-type]
    for number, raw in enumerate(source, start=1):
        if raw is None or len(raw) > MAX_LINE_BYTES:
            yield number, None
        elif raw.strip():
            yield number, raw


def run_serial(lines: Iterable[bytes] | BinaryIO, policy: str | None) -> Iterator[Result]:
    evaluator = default_evaluator()
    for number, raw in numbered(lines):
        yield evaluate_line(evaluator, number, raw, policy)


_worker_policy: str | None = None


def _init_worker(policy: str | None) -> None:
    global _worker_policy
    _worker_policy = policy
    default_evaluator()  # build the engine once per process, before the first case


def _work(item: tuple[int, bytes | None]) -> Result:
    return evaluate_line(default_evaluator(), item[0], item[1], _worker_policy)


def run_workers(
    lines: Iterable[bytes] | BinaryIO, policy: str | None, workers: int, chunk: int = 64
) -> Iterator[Result]:
    """Worker processes, results in input order (imap keeps order while streaming)."""
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_init_worker, initargs=(policy,)) as pool:
        yield from pool.imap(_work, numbered(lines), chunksize=chunk)


def _evaluate_partition(lines: Iterable[str], policy: str | None) -> list[str]:
    evaluator = default_evaluator()
    return [evaluate_line(evaluator, n, raw, policy)[0] for n, raw in numbered(line.encode() for line in lines)]


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
            invalid += "error" in json.loads(line)
    return cases, invalid
