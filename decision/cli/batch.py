"""Batch evaluation: one report line per case line, in order, on one core, several, or a Dask cluster.

Each process builds its own evaluator (durable-rules is not thread-parallel: the engine runs
under one lock). Lines are streamed, never all held: memory stays flat however long the input.
"""

from __future__ import annotations

import contextlib
import gc
import glob
import itertools
import json
import multiprocessing
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from decision.cli.inputs import InputError, parse_document
from decision.evaluator import CaseEvaluator, InvalidCase, default_evaluator

Result = tuple[str, bool]
"""(one output line without its newline, whether the case was valid)."""


class Block(NamedTuple):
    """A chunk's output lines, each ending in a newline, as one text, and how many cases and invalid
    cases it holds. What a worker process hands back and `spine-cds batch` writes: one text per
    chunk rather than 64 records sent, taken apart and written one by one by the parent process,
    which shares the cores with the workers."""

    text: str
    cases: int
    invalid: int


def block_of(results: list[Result]) -> Block:
    return Block("".join(f"{line}\n" for line, _ in results), len(results), sum(not valid for _, valid in results))


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


CHUNK = 64
"""Cases evaluated together: one engine session per ruleset serves all of them (`evaluate_many`)."""


def _payload(number: int, raw: bytes | None) -> Any:
    if raw is None:
        raise InputError([f"longer than {MAX_LINE_BYTES:,} bytes; not read"])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError([f"not UTF-8 text (byte {exc.start})"]) from None
    return parse_document(text, f"line {number}")


def _error(number: int, payload: Any, exc: InputError | InvalidCase) -> Result:
    case_id = printable_id(payload.get("case_id")) if isinstance(payload, dict) else None
    return json.dumps({"line": number, "case_id": case_id, "error": {"problems": exc.echoed_problems}}), False


def _record(number: int, report: bytes) -> Result:
    """The report's JSON with the input line number put first."""
    return f'{{"line":{number},{report[1:].decode()}', True


def evaluate_line(evaluator: CaseEvaluator, number: int, raw: bytes | None, policy: str | None) -> Result:
    """A report record, or an error record, each with the input line number; never an exception.
    `raw` is None for a line longer than MAX_LINE_BYTES (not read)."""
    payload: Any = None
    try:
        payload = _payload(number, raw)
        return _record(number, evaluator.evaluate_json(payload, policy))
    except (InputError, InvalidCase) as exc:
        return _error(number, payload, exc)


def evaluate_lines(evaluator: CaseEvaluator, items: list[tuple[int, bytes | None]], policy: str | None) -> list[Result]:
    """`evaluate_line` for each item, the same records in the same order, the valid cases run
    through the engine together (`CaseEvaluator.evaluate_many_json`)."""
    results: list[Result | None] = [None] * len(items)
    read: list[tuple[int, Any]] = []
    for position, (number, raw) in enumerate(items):
        try:
            read.append((position, _payload(number, raw)))
        except InputError as exc:
            results[position] = _error(number, None, exc)
    outcomes = evaluator.evaluate_many_json([payload for _, payload in read], policy)
    for (position, payload), outcome in zip(read, outcomes, strict=True):
        number = items[position][0]
        results[position] = (
            _error(number, payload, outcome) if isinstance(outcome, InvalidCase) else _record(number, outcome)
        )
    return [result for result in results if result is not None]


def chunked(items: Iterable[tuple[int, bytes | None]], size: int = CHUNK) -> Iterator[list[tuple[int, bytes | None]]]:
    """The items in lists of `size`, as they are read (streaming is kept)."""
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


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


def _freeze() -> None:
    """Set every object alive now aside from the garbage collector (`gc.freeze`): the knowledge
    and its compiled rules are a few hundred thousand objects that live through a batch, and every
    full collection walked them all, about a seventh of a batch's CPU time (6,000 generated cases on
    one core, a warm process's CPU time: 1,630 -> 1,890 cases/s; `spine-cds batch`, its start
    included: 1,180-1,250 -> 1,370-1,410 cases/s). Not for a process that reloads its knowledge (the
    app, the service): it would keep each replaced knowledge's reference cycles for good."""
    gc.collect()  # what is garbage now is freed, not frozen
    gc.freeze()


@contextlib.contextmanager
def _frozen() -> Iterator[None]:
    """`_freeze` for the block, undone after it (a test or the bench may run a batch in its own
    process, which then goes on). A process that froze objects itself is left as it is: it manages
    its collector. A half-read batch stays frozen until its results are read or dropped."""
    if gc.get_freeze_count():
        yield
        return
    _freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _serial_chunks(lines: Iterable[bytes] | BinaryIO, policy: str | None) -> Iterator[list[Result]]:
    evaluator = default_evaluator()
    with _frozen():
        for chunk in chunked(numbered(lines)):
            yield evaluate_lines(evaluator, chunk, policy)


def run_serial(lines: Iterable[bytes] | BinaryIO, policy: str | None) -> Iterator[Result]:
    """One record per case line, in order, in this process."""
    for results in _serial_chunks(lines, policy):
        yield from results


def serial_blocks(lines: Iterable[bytes] | BinaryIO, policy: str | None) -> Iterator[Block]:
    """`run_serial`, a chunk's records at a time."""
    return map(block_of, _serial_chunks(lines, policy))


_worker_policy: str | None = None


def _init_worker(policy: str | None) -> None:
    global _worker_policy
    _worker_policy = policy
    default_evaluator()  # build the engine once per process, before the first case
    _freeze()  # a worker process evaluates with this one knowledge until it ends


def _work(items: list[tuple[int, bytes | None]]) -> Block:
    return block_of(evaluate_lines(default_evaluator(), items, _worker_policy))


def run_workers(
    lines: Iterable[bytes] | BinaryIO, policy: str | None, workers: int, chunk: int = CHUNK
) -> Iterator[Block]:
    """Worker processes, their blocks in input order (imap keeps order while streaming); each task
    is a chunk of cases evaluated together, each result that chunk's records as one `Block`."""
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_init_worker, initargs=(policy,)) as pool:
        yield from pool.imap(_work, chunked(numbered(lines), chunk))


def _evaluate_partition(lines: Iterable[str], policy: str | None) -> list[str]:
    evaluator = default_evaluator()
    items = numbered(line.encode() for line in lines)
    return [record for chunk in chunked(items) for record, _ in evaluate_lines(evaluator, chunk, policy)]


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
