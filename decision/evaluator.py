"""The public entry: `evaluate(case, policy=None) -> Report`.

One evaluator per process, built on first use: the knowledge is loaded, checked and compiled once,
and every evaluation reuses the registered rulesets (per-case ruleset work would dominate the cost).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar

import orjson
from pydantic import ValidationError

from decision.case import Case, using_vocabulary
from decision.case_facts import CaseFacts, engine_facts
from decision.compile import CompiledPolicy, compile_knowledge
from decision.contexts import build_contexts
from decision.engine import RulesEngine
from decision.facts import Context
from decision.report import Report
from decision.truth import Evaluator, SharedMemo
from decision.verdict import VerdictBuilder
from knowledge.loader import Knowledge, did_you_mean, load_knowledge
from knowledge.problems import ProblemError, shown
from knowledge.schema import Vocabulary


def engine_version() -> str:
    try:
        return version("spine-cds")
    except PackageNotFoundError:
        return "0+unknown"


_Out = TypeVar("_Out")


class InvalidCase(ProblemError):
    """The case (or the policy asked for) is not valid input; `problems` name each field."""

    title = "invalid case"


CASE_ERRORS = {"whole": "(case)", "unknown_field": "unknown field (not part of the case format)"}
"""How a pydantic error of the case is worded: the whole case is "(case)"."""


def parse_case(case: Case | dict[str, Any], vocab: Vocabulary | None = None) -> Case:
    """The valid case, checked against `vocab` (the evaluator's own knowledge; default shipped)."""
    if isinstance(case, Case):
        return case
    if not isinstance(case, dict):
        raise InvalidCase(
            ["(case): expected a JSON object with case fields"],
            echoed=[f"(case): expected a JSON object with case fields, got {shown(case)}"],
        )
    try:
        if vocab is None:
            return Case.model_validate(case)
        with using_vocabulary(vocab):
            return Case.model_validate(case)
    except ValidationError as exc:
        raise InvalidCase.from_validation(exc, **CASE_ERRORS) from None


@dataclass(frozen=True)
class PreparedCase:
    case: Case
    policy_id: str
    policy: CompiledPolicy
    contexts: list[Context]
    evaluators: list[Evaluator]
    facts: CaseFacts


class CaseEvaluator:
    """Knowledge compiled into rulesets, and the engine that runs them. Safe to share across threads."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge
        self.policies: dict[str, CompiledPolicy] = compile_knowledge(knowledge)
        self.engine = RulesEngine(self.policies)
        self.version = engine_version()
        self._builders = {pid: VerdictBuilder(knowledge, p, self.version) for pid, p in self.policies.items()}

    def policy_id(self, case: Case, policy: str | None) -> str:
        chosen = policy or case.policy or self.knowledge.manifest.default_policy
        if chosen not in self.policies:
            raise InvalidCase(
                [
                    f"policy: unknown policy {chosen!r}{did_you_mean(chosen, self.policies)}; "
                    f"expected one of: {', '.join(sorted(self.policies))}"
                ]
            )
        return chosen

    def prepare(self, case: Case | dict[str, Any], policy: str | None = None) -> PreparedCase:
        """Everything before the engine: the valid case, its contexts, their evaluators and facts."""
        valid = parse_case(case, self.knowledge.vocabulary)
        policy_id = self.policy_id(valid, policy)
        compiled = self.policies[policy_id]
        params = compiled.param_values()
        contexts = build_contexts(valid, self.knowledge, params)
        case_memo: dict[int, Any] = {}
        shared = SharedMemo(compiled.case_nodes, compiled.count_targets)
        evaluators = [
            Evaluator(
                context, params, case_memo, compiled.count_kinds, compiled.count_tests, shared, compiled.count_lookups
            )
            for context in contexts
        ]
        facts = engine_facts(contexts, compiled, evaluators)
        return PreparedCase(valid, policy_id, compiled, contexts, evaluators, facts)

    def evaluate(self, case: Case | dict[str, Any], policy: str | None = None) -> Report:
        prepared = self.prepare(case, policy)
        firings = self.engine.fire(prepared.policy_id, prepared.facts)
        return self.report(prepared, firings)

    def evaluate_json(self, case: Case | dict[str, Any], policy: str | None = None) -> bytes:
        """`evaluate(...).model_dump_json()`, the same bytes, without building the models (`report_json`)."""
        prepared = self.prepare(case, policy)
        return self.report_json(prepared, self.engine.fire(prepared.policy_id, prepared.facts))

    def evaluate_many(
        self, cases: list[Case | dict[str, Any]], policy: str | None = None
    ) -> list[Report | InvalidCase]:
        """`evaluate` for several cases, the same reports, with the cases of each policy run through
        the engine together (one session per ruleset for all of them: what batch evaluation pays
        per case shrinks). An invalid case gets its InvalidCase in its place; the others go on."""
        return self._many(cases, policy, self.report)

    def evaluate_many_json(
        self, cases: list[Case | dict[str, Any]], policy: str | None = None
    ) -> list[bytes | InvalidCase]:
        """`evaluate_many`, each report as its JSON (`Report.model_dump_json`, byte for byte), written
        straight from the verdict's plain data (`VerdictBuilder.fields`) without building the
        models: what batch writes (validating and dumping a report was about 55 µs, this about 8)."""
        return self._many(cases, policy, self.report_json)

    def _many(
        self,
        cases: list[Case | dict[str, Any]],
        policy: str | None,
        finish: Callable[[PreparedCase, set[tuple[str, int]]], _Out],
    ) -> list[_Out | InvalidCase]:
        out: list[_Out | InvalidCase | None] = [None] * len(cases)
        groups: dict[str, list[tuple[int, PreparedCase]]] = {}
        for number, case in enumerate(cases):
            try:
                prepared = self.prepare(case, policy)
            except InvalidCase as exc:
                out[number] = exc
                continue
            groups.setdefault(prepared.policy_id, []).append((number, prepared))
        for policy_id, members in groups.items():
            firings = self.engine.fire_many(policy_id, [prepared.facts for _, prepared in members])
            for (number, prepared), fired in zip(members, firings, strict=True):
                out[number] = finish(prepared, fired)
        return [result for result in out if result is not None]

    def close(self) -> None:
        """Free the compiled rulesets; evaluating afterwards raises EngineClosed."""
        self.engine.close()

    def report(self, prepared: PreparedCase, firings: set[tuple[str, int]]) -> Report:
        return self._builders[prepared.policy_id].build(
            prepared.case.case_id, prepared.contexts, firings, prepared.evaluators
        )

    def report_json(self, prepared: PreparedCase, firings: set[tuple[str, int]]) -> bytes:
        """`report(...).model_dump_json()`, the same bytes, from the verdict's plain data."""
        fields = self._builders[prepared.policy_id].fields(
            prepared.case.case_id, prepared.contexts, firings, prepared.evaluators
        )
        return orjson.dumps(fields)


_default: CaseEvaluator | None = None
_default_lock = threading.Lock()


def default_evaluator(root: Path | None = None) -> CaseEvaluator:
    """The process-wide evaluator over the shipped knowledge (built once)."""
    global _default
    if root is not None:
        return CaseEvaluator(load_knowledge(root))
    with _default_lock:
        if _default is None:
            _default = CaseEvaluator(load_knowledge())
        return _default


def evaluate(case: Case | dict[str, Any], policy: str | None = None) -> Report:
    """Evaluate one case with the shipped knowledge. Raises InvalidCase for bad input."""
    return default_evaluator().evaluate(case, policy)
