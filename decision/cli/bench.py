"""The benchmark: every figure from one run on one generated case mix, with its baselines.

Paths measured on the same cases, interleaved case by case (each case runs through every path in
a rotating order, so a slow spell of the machine falls on all of them alike):
  full       JSON text -> validate -> evaluate (durable-rules) -> explain -> serialise
  full_host  the same full path with the engine driven through durable's Python `Host`, as before
             issue 17 (the baseline the README's before/after ratios come from)
  batch_path JSON text -> report JSON as `spine-cds batch` writes it: validate, evaluate, and the
             verdict's plain data written with orjson (no pydantic report, no text explanation);
             one case at a time, where batch runs 64 cases through each engine session
  floor      the engine alone: the same compiled rulesets fed the same prepared facts
  floor_host the same through durable's `Host`
  c_core     durable's C core alone: the same facts pre-serialised, asserted and their firings
             drained with no Python work per firing (the floor under any engine wrapper)
  reference  the same full path with the plain-Python evaluator instead of durable-rules
plus the full path by case size (1, 5 and 20 diagnoses), knowledge load + compile time, peak
memory, the engine's cost per case when the rule count is multiplied (synthetic copies of the
real rules, so the conditions stay realistic), and whole-batch throughput (one case per engine
session, `spine-cds batch` on one core and with two workers, `--dask` on a 2-worker LocalCluster).
Per-case figures are CPU time of the evaluating thread; batch figures are wall clock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import importlib.util
import itertools
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import durable_rules_engine
import yaml
from durable.engine import Host

from decision.case_facts import CaseFacts
from decision.cli.batch import evaluate_line, numbered, run_dask, run_serial
from decision.cli.casegen import generate_cases
from decision.compile import SEEN_ACTION, CompiledPolicy
from decision.engine import SESSION_CASES, EngineError, RulesEngine, payload, weighed_facts
from decision.evaluator import CaseEvaluator, InvalidCase, default_evaluator
from decision.explain import to_text
from decision.reference import reference_evaluate
from knowledge.loader import Knowledge, RuleEntry, load_knowledge

CASE_SIZES = (1, 5, 20)
"""Diagnoses per case for the size sweep."""
_clock = time.thread_time
"""Per-case figures are the CPU time the evaluating thread spent: on a machine shared with other
jobs, wall time also counts the waits for a core, which fall on the paths unevenly."""


class _HostEngine(RulesEngine):
    """The engine as it was before issue 17: durable's Python `Host` runs the actions, handing
    each firing the whole fact as JSON. Kept here only as the benchmark's baseline."""

    def __init__(self, policies: dict[str, CompiledPolicy]) -> None:
        self._lock = threading.Lock()
        self._sessions = itertools.count(1)
        self._live_sessions = 0
        self._closed = False
        self._collected: set[tuple[str, int]] | None = None
        engine = self

        class _PrivateHost(Host):  # type: ignore[misc]
            def _run(self) -> None:
                """No timer threads."""

            def get_action(self, action_name: str) -> Callable[[Any], None]:
                def action(closure: Any) -> None:
                    assert engine._collected is not None
                    engine._collected.add((action_name, int(closure.m.ctx)))

                return action

        self._host = _PrivateHost()
        self._names = {pid: tuple(policy.rulesets) for pid, policy in policies.items()}
        self._keys = {name: keys for policy in policies.values() for name, keys in policy.ruleset_keys.items()}
        for policy in policies.values():
            for name, definition in policy.rulesets.items():
                self._host.register_rulesets({name: json.loads(json.dumps(definition))})

    def fire(
        self, policy_id: str, facts: CaseFacts | list[dict[str, Any]], every_context: bool = True
    ) -> set[tuple[str, int]]:
        """Every whole fact through every ruleset, as before issue 17 (`every_context` is always so)."""
        if isinstance(facts, CaseFacts):
            facts = facts.whole()  # as the engine was handed them before issue 17
        fired: set[tuple[str, int]] = set()
        with self._lock:
            for ruleset in self._names[policy_id]:
                session = str(next(self._sessions))
                collected: set[tuple[str, int]] = set()
                self._collected = collected
                try:
                    keys = self._keys.get(ruleset)
                    narrowed = facts if keys is None else [_narrow(fact, keys) for fact in facts]
                    self._host.assert_facts(ruleset, [{**fact, "sid": session} for fact in narrowed])
                    if "exception" in self._host.get_state(ruleset, session):
                        raise EngineError("a rule action failed inside the engine")
                finally:
                    self._collected = None
                    self._host.delete_state(ruleset, session)
                fired |= {firing for firing in collected if firing[0] != SEEN_ACTION}
        return fired

    def close(self) -> None:
        for ruleset in list(self._host._ruleset_list):
            durable_rules_engine.delete_ruleset(ruleset._handle)
        self._host._ruleset_list.clear()
        self._host._ruleset_directory.clear()


def _narrow(fact: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    narrowed = {"k": fact["k"], "ctx": fact["ctx"]}
    for key in keys:
        narrowed[key] = fact[key]
    return narrowed


def _host_evaluator(knowledge: Knowledge) -> CaseEvaluator:
    """An evaluator over the same knowledge whose engine is the pre-issue-17 `Host` path."""
    evaluator = CaseEvaluator(knowledge)
    evaluator.engine.close()
    evaluator.engine = _HostEngine(evaluator.policies)
    return evaluator


_CoreBatch = tuple[int, str, str, bool]
"""(ruleset handle, session, the facts as JSON, whether the session is deleted after them)."""


def _c_core_batches(case_evaluator: CaseEvaluator, prepared: list[Any]) -> list[list[_CoreBatch]]:
    """Per case, what the engine hands durable's C core for it, serialised outside the timing: the
    same facts to the same rulesets (the first rulesets every fact, the others those of the
    candidates weighed; only the kinds a ruleset reads), the same fact ids, and a session per
    ruleset serving SESSION_CASES cases in turn, as `RulesEngine.fire` does."""
    engine = case_evaluator.engine
    out: list[list[_CoreBatch]] = []
    sessions: dict[int, tuple[str, int, int]] = {}  # handle -> (session, next id, cases served)
    for item in prepared:
        policy = case_evaluator.policies[item.policy_id]
        fired = engine.fire(item.policy_id, item.facts)
        weighed = CaseFacts(item.facts.common, weighed_facts(item.facts.facts, fired, policy.opening_actions))
        batches: list[_CoreBatch] = []
        for ruleset in engine.register(item.policy_id):
            session, base, served = sessions.get(ruleset.handle) or (f"c{next(engine._sessions)}", 0, 0)
            case = item.facts if ruleset.first else weighed
            chosen = CaseFacts(case.common, [f for f in case.facts if f["k"] in ruleset.kinds])
            last = served + 1 >= SESSION_CASES
            sessions[ruleset.handle] = (session, base + len(item.facts.facts), served + 1)
            if last:
                del sessions[ruleset.handle]
            if chosen.facts or last:
                text = payload(ruleset, [chosen], session, base) if chosen.facts else ""
                batches.append((ruleset.handle, session, text, last))
        out.append(batches)
    for handle, (session, _, _) in sessions.items():  # sessions the last cases left open
        out[-1].append((handle, session, "", True))
    return out


def _c_core(batches: list[_CoreBatch]) -> int:
    """Assert, drain every firing, delete when the engine would: durable's C core with nothing per
    firing in Python."""
    firings = 0
    for handle, session, batch, delete in batches:
        if batch:
            status = durable_rules_engine.assert_facts(handle, batch)
            message = durable_rules_engine.start_action_for_state(handle, status[1])
            while message:
                firings += 1
                message = durable_rules_engine.complete_and_start_action(handle, status[1])
        if delete:
            with contextlib.suppress(Exception):  # a session no fact was ever asserted in has no state
                durable_rules_engine.delete_state(handle, session)
    return firings


def _summary(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    total = sum(ordered)
    return {
        "cases": len(ordered),
        "cases_per_second": len(ordered) / total if total else 0.0,
        "p50_us": statistics.median(ordered) * 1e6,
        "p99_us": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e6,
    }


def _interleaved(items: list[Any], paths: dict[str, Callable[[Any], Any]]) -> dict[str, list[float]]:
    """Each item through every path, the order rotating from item to item."""
    gc.collect()
    names = list(paths)
    out: dict[str, list[float]] = {name: [] for name in names}
    for number, item in enumerate(items):
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            start = _clock()
            paths[name](item)
            out[name].append(_clock() - start)
    return out


def _multiplied(knowledge: Knowledge, factor: int) -> Knowledge:
    """The knowledge with every rule present `factor` times (copies get new ids)."""
    rules: list[RuleEntry] = []
    for copy_number in range(factor):
        for entry in knowledge.rules:
            rule = (
                entry.rule
                if copy_number == 0
                else entry.rule.model_copy(update={"id": f"{entry.rule.id}.x{copy_number}"})
            )
            rules.append(dataclasses.replace(entry, rule=rule, order=len(rules)))
    index = {e.rule.id: e for e in rules}
    return dataclasses.replace(knowledge, rules=tuple(rules), rule_index=index)


def _floor(case_evaluator: CaseEvaluator, cases: list[dict[str, Any]]) -> list[float]:
    """Facts are prepared outside the timing: only the engine's own work is measured."""
    prepared = [case_evaluator.prepare(case) for case in cases]
    return _interleaved(prepared, {"floor": lambda item: case_evaluator.engine.fire(item.policy_id, item.facts)})[
        "floor"
    ]


def _with_diagnoses(case_evaluator: CaseEvaluator, cases: list[dict[str, Any]], size: int) -> list[dict[str, Any]]:
    """Cases of `size` diagnoses: each generated case with the diagnoses of the cases after it
    (no entry twice), kept only if still a valid case."""
    out = []
    for number, case in enumerate(cases):
        diagnoses = list(case["diagnoses"])
        seen = {json.dumps(d, sort_keys=True) for d in diagnoses}
        for other in itertools.chain(cases[number + 1 :], cases[:number]):
            if len(diagnoses) == size:
                break
            for diagnosis in other["diagnoses"]:
                key = json.dumps(diagnosis, sort_keys=True)
                if key not in seen and len(diagnoses) < size:
                    seen.add(key)
                    diagnoses.append(diagnosis)
        grown = {**case, "diagnoses": diagnoses}
        try:
            case_evaluator.prepare(grown)
        except InvalidCase:
            continue
        if len(diagnoses) == size:
            out.append(grown)
    return out


BATCH_CASES = 6000
"""Cases per `spine-cds batch` run in the benchmark: enough that the process's start (imports and
the knowledge compile, timed separately) does not hide the rate."""

VIGNETTES = Path(__file__).resolve().parents[2] / "tests" / "vignettes"
"""The repository's vignettes (with ../shared/vignettes beside the checkout, if there): the second
case mix of the batch figures. An installed copy without the tests has only the generated mix."""


def vignette_lines() -> list[str]:
    """Every vignette's case, as one JSON line each."""
    folders = [VIGNETTES.parents[2] / "shared" / "vignettes", VIGNETTES]
    return [
        json.dumps(yaml.safe_load(path.read_text(encoding="utf-8"))["case"], default=str)
        for folder in folders
        if folder.is_dir()
        for path in sorted(folder.glob("*.yaml"))
    ]


def _cli_batch(source: Path, workers: int) -> float:
    """Wall seconds of `spine-cds batch SOURCE --workers N` run as a user runs it, in a process
    of its own: the imports, the knowledge compile, reading, evaluating and writing included."""
    command = [
        sys.executable,
        "-c",
        "import sys; from decision.cli.command import main; sys.exit(main(sys.argv[1:]))",
        "batch",
        str(source),
        "--out",
        str(source.with_suffix(".out")),
        "--workers",
        str(workers),
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def _cli_rates(lines: list[str], folder: Path, name: str) -> dict[str, Any]:
    """`spine-cds batch` on one core and with two workers over `lines`, each run also on one case
    to time the process's start: `cases_per_second` counts the start, `steady_cases_per_second`
    is the rate once started ((cases - 1) / (seconds - start))."""
    source, single = folder / f"{name}.jsonl", folder / f"{name}-one.jsonl"
    source.write_text("\n".join(lines) + "\n")
    single.write_text(lines[0] + "\n")
    out: dict[str, Any] = {"cases": len(lines), "distinct": len(set(lines))}
    for workers, key in ((1, "batch_1_core"), (2, "batch_2_workers")):
        start = _cli_batch(single, workers)
        seconds = _cli_batch(source, workers)
        out[key] = {
            "cases": len(lines),
            "seconds": seconds,
            "start_seconds": start,
            "cases_per_second": len(lines) / seconds,
            "steady_cases_per_second": (len(lines) - 1) / max(seconds - start, 1e-9),
        }
    return out


def batch_figures(lines: list[str], with_dask: bool = True, batch_cases: int = BATCH_CASES) -> dict[str, Any]:
    """Whole-batch throughput (wall clock, cases/s). In this process, on the bench mix: one case per
    `evaluate_json` call on one core (`batch.evaluate_line`: its engine sessions serve SESSION_CASES
    cases in turn; before the reports were written from plain data, an `evaluate` call) and `--dask`
    on a 2-worker LocalCluster (its start and each worker's knowledge compile included: the same
    lines, written to two files). As a user runs it, `spine-cds batch` on one core and with
    `--workers 2`, each in a process of its own: on `batch_cases` generated cases (distinct: the
    bench mix's generator, further on) and on the vignettes' cases repeated to as many."""
    encoded = [line.encode() for line in lines]
    evaluator = default_evaluator()
    out: dict[str, Any] = {"cases": len(lines)}

    def rate(run: Callable[[], int]) -> dict[str, float]:
        gc.collect()
        start = time.perf_counter()
        count = run()
        seconds = time.perf_counter() - start
        return {"cases": count, "seconds": seconds, "cases_per_second": count / seconds}

    out["one_per_session_1_core"] = rate(
        lambda: sum(1 for n, raw in numbered(encoded) if evaluate_line(evaluator, n, raw, None))
    )
    generated = [json.dumps(case) for case in generate_cases(evaluator.knowledge, batch_cases)]
    vignettes = vignette_lines()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        out["cli_generated"] = _cli_rates(generated, folder, "generated")
        if vignettes:
            repeated = [vignettes[i % len(vignettes)] for i in range(batch_cases)]
            out["cli_vignettes"] = _cli_rates(repeated, folder, "vignettes")
        if with_dask:
            if importlib.util.find_spec("distributed") is None:
                out["dask_2_workers"] = None
            else:
                half = len(lines) // 2
                for part_name, part in (("a", lines[:half]), ("b", lines[half:])):
                    Path(folder, f"cases-{part_name}.jsonl").write_text("\n".join(part) + "\n")
                pattern = str(Path(folder, "cases-*.jsonl"))
                out["dask_2_workers"] = rate(lambda: run_dask(pattern, str(Path(folder, "out")), "local", None)[0])
    return out


def run_benchmark(
    case_count: int = 2000,
    scale_cases: int = 300,
    factors: tuple[int, ...] = (1, 4, 16),
    with_dask: bool = True,
    batch_cases: int = BATCH_CASES,
) -> dict[str, Any]:
    started = time.perf_counter()
    compile_times = []
    for run in range(3):
        t0 = _clock()
        case_evaluator = CaseEvaluator(load_knowledge())
        case_evaluator.engine.register(case_evaluator.knowledge.manifest.default_policy)  # ready to evaluate
        compile_times.append(_clock() - t0)
        if run < 2:
            case_evaluator.close()
    knowledge = case_evaluator.knowledge
    host_evaluator = _host_evaluator(knowledge)
    cases = list(generate_cases(knowledge, case_count))
    lines = [json.dumps(case) for case in cases]
    for line in lines[:50]:  # warm up, and the baseline gives the same reports
        same = case_evaluator.evaluate(json.loads(line)).model_dump_json()
        if same != host_evaluator.evaluate(json.loads(line)).model_dump_json():
            raise AssertionError("the engine and its Host baseline disagree")

    def full_with(evaluator: CaseEvaluator) -> Callable[[str], str]:
        def full(line: str) -> str:
            report = evaluator.evaluate(json.loads(line))
            to_text(report)
            return report.model_dump_json()

        return full

    def batch_path(line: str) -> bytes:
        """JSON text to report JSON as `spine-cds batch` writes it (no pydantic report, no text),
        one case at a time (batch runs 64 cases through each engine session)."""
        return case_evaluator.evaluate_json(json.loads(line))

    def reference(line: str) -> str:
        report = reference_evaluate(case_evaluator, json.loads(line))
        to_text(report)
        return report.model_dump_json()

    prepared = [case_evaluator.prepare(case) for case in cases]
    prepared_host = [host_evaluator.prepare(case) for case in cases]
    host_facts = [item.facts.whole() for item in prepared_host]  # whole facts, as before issue 17
    batches = _c_core_batches(case_evaluator, prepared)
    full, full_host = full_with(case_evaluator), full_with(host_evaluator)
    paths: dict[str, Callable[[int], Any]] = {
        "full": lambda i: full(lines[i]),
        "full_host": lambda i: full_host(lines[i]),
        "batch_path": lambda i: batch_path(lines[i]),
        "floor": lambda i: case_evaluator.engine.fire(prepared[i].policy_id, prepared[i].facts),
        "floor_host": lambda i: host_evaluator.engine.fire(prepared_host[i].policy_id, host_facts[i]),
        "c_core": lambda i: _c_core(batches[i]),
        "reference": lambda i: reference(lines[i]),
    }
    timings = _interleaved(list(range(len(lines))), paths)
    results: dict[str, Any] = {
        "case_mix": {"cases": case_count, "generator": "decision.cli.casegen (seeded)"},
        "knowledge": {
            "version": knowledge.version,
            "hash": knowledge.content_hash[:12],
            "rules": len(knowledge.rules),
            "engine_rules": {p: c.engine_rule_count for p, c in case_evaluator.policies.items()},
        },
        "load_and_compile_s": {"median": statistics.median(compile_times), "runs": compile_times},
        **{name: _summary(seconds) for name, seconds in timings.items()},
    }
    p50 = {name: results[name]["p50_us"] for name in paths}
    results["ratios"] = {
        "full_over_floor_p50": p50["full"] / p50["floor"],
        "full_over_c_core_p50": p50["full"] / p50["c_core"],
        "batch_path_over_c_core_p50": p50["batch_path"] / p50["c_core"],
        "full_over_reference_p50": p50["full"] / p50["reference"],
        "full_over_full_host_p50": p50["full"] / p50["full_host"],
        "floor_over_floor_host_p50": p50["floor"] / p50["floor_host"],
    }
    by_size = {}
    size_pool = cases[: max(60, case_count // 20)]
    for size in CASE_SIZES:
        sized = [json.dumps(case) for case in _with_diagnoses(case_evaluator, size_pool, size)]
        times = _interleaved(sized, {"full": full, "full_host": full_host})
        by_size[f"{size}"] = {name: _summary(seconds) for name, seconds in times.items()}
    results["full_by_diagnoses"] = by_size
    scaling = {}
    for factor in factors:
        scaled = CaseEvaluator(_multiplied(knowledge, factor)) if factor > 1 else case_evaluator
        times_floor = _floor(scaled, cases[:scale_cases])
        scaling[f"{factor}x"] = {
            "rules": len(scaled.knowledge.rules),
            "engine_rules_clinic": scaled.policies["clinic"].engine_rule_count,
            **_summary(times_floor),
        }
        if factor > 1:
            scaled.close()
    results["rule_count_scaling_floor"] = scaling
    results["batch"] = batch_figures(lines, with_dask, batch_cases)
    host_evaluator.close()
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["wall_s"] = time.perf_counter() - started
    return results


def memory_run(total: int, every: int) -> list[dict[str, float]]:
    """A batch worker's memory over many cases: `total` distinct generated cases (the bench mix's
    generator, read as they are made), evaluated as `spine-cds batch` evaluates on one core, this
    process's RSS read every `every` cases. Flat means no growth with the number of cases; distinct
    cases, so that what the verdict remembers from case to case fills its stores as real data would."""
    lines = (json.dumps(case).encode() for case in generate_cases(default_evaluator().knowledge, total))
    marks: list[dict[str, float]] = []
    started = time.perf_counter()
    for done, _ in enumerate(run_serial(lines, None), start=1):
        if done % every == 0 or done == total:
            pages = int(Path("/proc/self/statm").read_text().split()[1])
            marks.append(
                {
                    "cases": done,
                    "rss_mb": pages * resource.getpagesize() / 1e6,
                    "seconds": time.perf_counter() - started,
                }
            )
    return marks


PATHS = ("full", "full_host", "batch_path", "floor", "floor_host", "c_core", "reference")


def format_table(results: dict[str, Any]) -> str:
    rows = [("path", "cases/s", "p50 µs", "p99 µs")]
    for name in PATHS:
        r = results[name]
        rows.append((name, f"{r['cases_per_second']:,.0f}", f"{r['p50_us']:,.0f}", f"{r['p99_us']:,.0f}"))
    width = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.rjust(width[i]) if i else cell.ljust(width[i]) for i, cell in enumerate(row)) for row in rows
    ]
    ratios = results["ratios"]
    lines += [
        "",
        f"full / floor (p50):       {ratios['full_over_floor_p50']:.2f}",
        f"full / c_core (p50):      {ratios['full_over_c_core_p50']:.2f}",
        f"batch_path / c_core (p50): {ratios['batch_path_over_c_core_p50']:.2f}",
        f"full / reference (p50):   {ratios['full_over_reference_p50']:.2f}",
        f"full / full_host (p50):   {ratios['full_over_full_host_p50']:.2f}",
        f"floor / floor_host (p50): {ratios['floor_over_floor_host_p50']:.2f}",
        f"knowledge load + compile + the default policy's rulesets registered: "
        f"{results['load_and_compile_s']['median']:.3f} s (CPU, median of 3)",
        f"peak memory (RSS): {results['peak_rss_mb']:.0f} MB",
        "",
        "full path by diagnoses per case (p50 / p99, µs):",
    ]
    for size, r in results["full_by_diagnoses"].items():
        lines.append(
            f"  {size:>3}: {r['full']['cases']:4} cases  full {r['full']['p50_us']:,.0f} / {r['full']['p99_us']:,.0f}"
            f"  full_host {r['full_host']['p50_us']:,.0f} / {r['full_host']['p99_us']:,.0f}"
        )
    lines += ["", "engine floor as the rule count grows:"]
    for factor, r in results["rule_count_scaling_floor"].items():
        lines.append(
            f"  {factor:>4}: {r['rules']:5} rules ({r['engine_rules_clinic']:6} engine rules)  "
            f"p50 {r['p50_us']:,.0f} µs  {r['cases_per_second']:,.0f} cases/s"
        )
    batch = results.get("batch")
    if batch:
        lines += ["", f"batch throughput on the same {batch['cases']} cases (wall clock):"]
        for name, label in (
            ("one_per_session_1_core", "one case per evaluate_json call, 1 core"),
            ("dask_2_workers", "--dask, 2-worker LocalCluster (start included)"),
        ):
            figure = batch.get(name)
            if figure:
                lines.append(f"  {label:48} {figure['cases_per_second']:8,.0f} cases/s  ({figure['seconds']:.1f} s)")
        for mix, title in (("cli_generated", "generated cases"), ("cli_vignettes", "vignette cases")):
            runs = batch.get(mix)
            if not runs:
                continue
            lines.append(
                f"spine-cds batch in its own process, {runs['cases']:,} {title} ({runs['distinct']:,} distinct), "
                "wall clock: once started (with the start)"
            )
            for name, label in (("batch_1_core", "1 core"), ("batch_2_workers", "--workers 2")):
                figure = runs[name]
                lines.append(
                    f"  {label:12} {figure['steady_cases_per_second']:8,.0f} cases/s"
                    f"  ({figure['cases_per_second']:,.0f} cases/s, {figure['seconds']:.1f} s;"
                    f" start {figure['start_seconds']:.1f} s)"
                )
    lines.append(
        f"\n{results['case_mix']['cases']} generated cases; knowledge {results['knowledge']['version']} "
        f"#{results['knowledge']['hash']}; {results['wall_s']:.0f} s"
    )
    return "\n".join(lines)
