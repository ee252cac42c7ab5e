"""The benchmark: every figure from one run on one generated case mix, with its baselines.

Paths measured on the same cases:
  full      JSON text -> validate -> evaluate (durable-rules) -> explain -> serialise
  floor     the engine alone: the same compiled rulesets fed the same prepared facts
  reference the same full path with the plain-Python evaluator instead of durable-rules
plus knowledge load + compile time, peak memory, and the engine's cost per case when the rule
count is multiplied (synthetic copies of the real rules, so the conditions stay realistic).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

from decision.cli.casegen import generate_cases
from decision.evaluator import CaseEvaluator
from decision.explain import to_text
from decision.reference import reference_evaluate
from knowledge.loader import Knowledge, RuleEntry, load_knowledge


def _summary(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    total = sum(ordered)
    return {
        "cases": len(ordered),
        "cases_per_second": len(ordered) / total if total else 0.0,
        "p50_us": statistics.median(ordered) * 1e6,
        "p99_us": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e6,
    }


def _timed(items: list[Any], work: Callable[[Any], Any]) -> list[float]:
    gc.collect()
    out = []
    for item in items:
        start = time.perf_counter()
        work(item)
        out.append(time.perf_counter() - start)
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
    return _timed(prepared, lambda item: case_evaluator.engine.fire(item.policy_id, item.facts))


def run_benchmark(
    case_count: int = 2000, scale_cases: int = 300, factors: tuple[int, ...] = (1, 4, 16)
) -> dict[str, Any]:
    started = time.perf_counter()
    compile_times = []
    for _ in range(3):
        t0 = time.perf_counter()
        case_evaluator = CaseEvaluator(load_knowledge())
        compile_times.append(time.perf_counter() - t0)
    knowledge = case_evaluator.knowledge
    cases = list(generate_cases(knowledge, case_count))
    lines = [json.dumps(case) for case in cases]
    for line in lines[:50]:  # warm up
        case_evaluator.evaluate(json.loads(line))

    def full(line: str) -> str:
        report = case_evaluator.evaluate(json.loads(line))
        to_text(report)
        return report.model_dump_json()

    def reference(line: str) -> str:
        report = reference_evaluate(case_evaluator, json.loads(line))
        to_text(report)
        return report.model_dump_json()

    full_s = _timed(lines, full)
    floor_s = _floor(case_evaluator, cases)
    reference_s = _timed(lines, reference)
    results: dict[str, Any] = {
        "case_mix": {"cases": case_count, "generator": "decision.cli.casegen (seeded)"},
        "knowledge": {
            "version": knowledge.version,
            "hash": knowledge.content_hash[:12],
            "rules": len(knowledge.rules),
            "engine_rules": {p: c.engine_rule_count for p, c in case_evaluator.policies.items()},
        },
        "load_and_compile_s": {"median": statistics.median(compile_times), "runs": compile_times},
        "full": _summary(full_s),
        "floor": _summary(floor_s),
        "reference": _summary(reference_s),
    }
    results["ratios"] = {
        "full_over_floor_p50": results["full"]["p50_us"] / results["floor"]["p50_us"],
        "full_over_reference_p50": results["full"]["p50_us"] / results["reference"]["p50_us"],
    }
    scaling = {}
    for factor in factors:
        scaled = CaseEvaluator(_multiplied(knowledge, factor)) if factor > 1 else case_evaluator
        times = _floor(scaled, cases[:scale_cases])
        scaling[f"{factor}x"] = {
            "rules": len(scaled.knowledge.rules),
            "engine_rules_clinic": scaled.policies["clinic"].engine_rule_count,
            **_summary(times),
        }
    results["rule_count_scaling_floor"] = scaling
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["wall_s"] = time.perf_counter() - started
    return results


def format_table(results: dict[str, Any]) -> str:
    rows = [("path", "cases/s", "p50 µs", "p99 µs")]
    for name in ("full", "floor", "reference"):
        r = results[name]
        rows.append((name, f"{r['cases_per_second']:,.0f}", f"{r['p50_us']:,.0f}", f"{r['p99_us']:,.0f}"))
    width = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.rjust(width[i]) if i else cell.ljust(width[i]) for i, cell in enumerate(row)) for row in rows
    ]
    ratios = results["ratios"]
    lines += [
        "",
        f"full / floor (p50):      {ratios['full_over_floor_p50']:.2f}",
        f"full / reference (p50):  {ratios['full_over_reference_p50']:.2f}",
        f"knowledge load + compile: {results['load_and_compile_s']['median']:.3f} s (median of 3)",
        f"peak memory (RSS): {results['peak_rss_mb']:.0f} MB",
        "",
        "engine floor as the rule count grows:",
    ]
    for factor, r in results["rule_count_scaling_floor"].items():
        lines.append(
            f"  {factor:>4}: {r['rules']:5} rules ({r['engine_rules_clinic']:6} engine rules)  "
            f"p50 {r['p50_us']:,.0f} µs  {r['cases_per_second']:,.0f} cases/s"
        )
    lines.append(
        f"\n{results['case_mix']['cases']} generated cases; knowledge {results['knowledge']['version']} "
        f"#{results['knowledge']['hash']}; {results['wall_s']:.0f} s"
    )
    return "\n".join(lines)
