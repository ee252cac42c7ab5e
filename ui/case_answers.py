"""One set of answers per case, shared by the case form, the missing-information questions and what-if.

The page used to keep the case in three places: the form's widgets, the case last assessed, and
the what-if's scratch copy. An answer given in the "needs information" box then lived only in the
assessed case, so the next Assess from the form threw it away and the question came back. Here
the case's answers are one object, `CaseAnswers`; every way of answering goes through it, and
whenever an answer arrives from anywhere but the form its `revision` moves on, which tells the
form to refill its widgets from the answers (`ui.form_fill`).

Nothing here imports streamlit: these are the app's own calls (assess, answer, what-if, save), as
plain functions the tests and the app benchmark (`ui/app_bench.py`) call directly.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from decision.case import with_field
from decision.diff import DiffInWords, diff_in_words, field_question
from decision.evaluator import CaseEvaluator
from decision.fields import case_layout
from decision.report import MissingInformation, Report
from decision.rule_text import rule_text
from decision.wording import any_label, shipped_knowledge

ENTRY_NAME = "name"
"""The item field a missing-information question's `about` names entries by (a drug as written)."""


def list_paths() -> tuple[str, ...]:
    """The case's lists: the repeated parts (medications, imaging, ...) and lists of choices (allergies)."""
    own, *parts = case_layout()
    return tuple(
        [g.path for g in parts if g.repeated and g.path != "diagnoses"]
        + [s.path for s in own.fields if s.kind == "enum_list"]
    )


class Change(BaseModel):
    """One answer: a field set, a whole list given, or one entry added to a list.

    `path` is a case path (`comorbidities.diabetes`), a list (`medications`), or a list's item field
    (`medications.last_dose_hours_ago`) with `entry`, the index of the entry it answers for.
    With `add`, `value` is a new entry for the list `path`.
    """

    model_config = ConfigDict(frozen=True)
    path: str
    value: Any = None
    entry: int | None = None
    add: bool = False


def _entries(case: dict[str, Any], head: str) -> list[dict[str, Any]]:
    entries = case.get(head)
    return [dict(e) if isinstance(e, dict) else e for e in entries] if isinstance(entries, list) else []


def changed(case: dict[str, Any], change: Change) -> dict[str, Any]:
    """A copy of the case with one answer applied; the case given is left as it was."""
    head, _, tail = change.path.partition(".")
    if change.add:
        entries = _entries(case, change.path)
        return {**copy.deepcopy(case), change.path: [*copy.deepcopy(entries), dict(change.value)]}
    if tail and head in {g.path for g in case_layout() if g.repeated}:
        entries = copy.deepcopy(_entries(case, head))
        chosen = range(len(entries)) if change.entry is None else [change.entry]
        for index in chosen:
            if 0 <= index < len(entries) and isinstance(entries[index], dict):
                if change.value is None:
                    entries[index].pop(tail, None)
                else:
                    entries[index][tail] = change.value
        return {**copy.deepcopy(case), head: entries}
    return with_field(case, change.path, change.value)


def entries_asked(case: dict[str, Any], item: MissingInformation) -> list[int]:
    """Which entries of a list a question about an item field is for (none for a question about the case).

    The entries it names (`about`, a drug as written), else every entry whose answer is not recorded.
    """
    head, _, tail = item.field.partition(".")
    if not tail or head not in {g.path for g in case_layout() if g.repeated}:
        return []
    entries = _entries(case, head)
    if item.about:
        return [i for i, e in enumerate(entries) if isinstance(e, dict) and e.get(ENTRY_NAME) in item.about]
    return [i for i, e in enumerate(entries) if isinstance(e, dict) and e.get(tail) is None]


def entry_words(case: dict[str, Any], list_path: str, index: int) -> str:
    """An entry as the clinician wrote it: its name, else its first answers (\"herniated disc, lumbar\")."""
    entries = _entries(case, list_path)
    entry = entries[index] if 0 <= index < len(entries) and isinstance(entries[index], dict) else {}
    if entry.get(ENTRY_NAME):
        return str(entry[ENTRY_NAME])
    knowledge = shipped_knowledge()  # ids in labels' words ("Herniated disc ..., Lumbar spine")
    shown = [
        ", ".join(v) if isinstance(v, list) else any_label(knowledge, str(v))
        for v in entry.values()
        if v not in (None, "", [])
    ]
    return ", ".join(shown[:3]) or f"entry {index + 1}"


def change_words(change: Change) -> str:
    """An answer in words for the page (the field's question, never its path)."""
    if change.add:
        return f"{field_question(change.path)}: add {_value_words(change.value)}"
    return f"{field_question(change.path)}: {_value_words(change.value)}"


def _value_words(value: Any) -> str:
    if value is None:
        return "not known"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{field_question(k) if '.' in k else k.replace('_', ' ')} {v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_value_words(v) for v in value) or "none"
    return str(value)


def fingerprint(data: Any) -> str:
    """The answers as one text, to tell whether they changed between two runs of the page."""
    return json.dumps(data, sort_keys=True, default=str)


@dataclass
class CaseAnswers:
    """The answers of the case on the page. `revision` moves on whenever they change other than
    through the form, so the form knows to show them; `shown` is the revision the form shows."""

    case: Any = None
    revision: int = 0
    shown: int = 0
    form_case: Any = None
    """The answers the form last showed (None: show every answer again, as for a new case)."""
    _report: tuple[Any, Report] | None = field(default=None, repr=False, compare=False)
    _what_if: tuple[Any, WhatIf] | None = field(default=None, repr=False, compare=False)

    def load(self, case: Any) -> None:
        """A new case (a demo, pasted JSON, a shared link): the whole form is refilled from it."""
        self.case = copy.deepcopy(case)
        self.form_case = None
        self.revision += 1

    def from_form(self, form_case: dict[str, Any]) -> None:
        """The form's answers, as the form shows them (so it needs no refill).

        What the form does not ask is kept from the answers before: the policy profile (chosen
        beside the report) and any diagnosis after the first (the form asks one).
        """
        merged = dict(form_case)
        before = self.case if isinstance(self.case, dict) else {}
        if merged.get("policy") is None and before.get("policy") is not None:
            merged["policy"] = before["policy"]
        earlier = before.get("diagnoses")
        if merged.get("diagnoses") and isinstance(earlier, list) and len(earlier) > 1:
            merged["diagnoses"] = [*merged["diagnoses"], *copy.deepcopy(earlier[1:])]
        self.case = merged
        self.form_case = copy.deepcopy(merged)
        self.shown = self.revision

    def apply(self, *answers: Change) -> None:
        """Answers from the missing-information box or a kept what-if: written to the one case.

        The form then changes only the widgets these answers change, so what was typed in the
        form but not yet assessed stays as typed."""
        case = self.case if isinstance(self.case, dict) else {}
        for one in answers:
            case = changed(case, one)
        self.case = case
        self.revision += 1

    @property
    def form_behind(self) -> bool:
        """Whether the form shows older answers than these (it refills before drawing its widgets)."""
        return self.shown != self.revision

    def report(self, evaluator: CaseEvaluator, policy: str | None = None) -> Report:
        """The report for these answers; the same answers, knowledge and policy give the report kept
        from the last run (every click reruns the page, and most clicks change no answer)."""
        key = (_knowledge_key(evaluator), policy, fingerprint(self.case))
        if self._report is None or self._report[0] != key:
            self._report = (key, assess(evaluator, self.case, policy))
        return self._report[1]

    def what_if(self, evaluator: CaseEvaluator, report: Report, change: Change, policy: str | None = None) -> WhatIf:
        """`what_if` on these answers, kept while the answers, the change and the policy stay."""
        key = (_knowledge_key(evaluator), policy, fingerprint(self.case), fingerprint(change.model_dump()))
        if self._what_if is None or self._what_if[0] != key:
            self._what_if = (key, what_if(evaluator, self.case, report, change, policy))
        return self._what_if[1]


def _knowledge_key(evaluator: CaseEvaluator) -> tuple[str, str]:
    """What a kept report was made from: the knowledge's content hash and version, never the
    evaluator's address (a reload frees the old evaluator, and its address may be reused)."""
    return (evaluator.knowledge.content_hash, evaluator.version)


class Store(Protocol):
    def save_case(
        self, case: dict[str, Any], report: Report, title: str, who: str, *, case_id: str | None = None
    ) -> str: ...


def assess(evaluator: CaseEvaluator, case: Any, policy: str | None = None) -> Report:
    """The report for the case's answers (InvalidCase, naming the fields, when they cannot stand)."""
    return evaluator.evaluate(case, policy)


@lru_cache(maxsize=16)
def rule_statements(evaluator: CaseEvaluator, policy: str) -> dict[str, str]:
    """Each rule's statement under a policy (its figures filled in), by id: how a what-if names the
    rules it changes. Kept per evaluator and policy: a reload brings a new evaluator."""
    compiled = evaluator.policies.get(policy)
    if compiled is None:
        return {}
    return {c.entry.rule.id: rule_text(c.entry.rule, compiled).statement for c in compiled.rules}


@dataclass(frozen=True)
class WhatIf:
    """A what-if: the changed answers, their report, and what changed, in words."""

    case: dict[str, Any]
    report: Report
    words: DiffInWords


def what_if(
    evaluator: CaseEvaluator, case: dict[str, Any], report: Report, change: Change, policy: str | None = None
) -> WhatIf:
    """The report if one answer were different (a field, or an entry added to a list); the answers
    themselves are not changed until the clinician keeps the change."""
    changed_case = changed(case, change)
    after = evaluator.evaluate(changed_case, policy)
    return WhatIf(changed_case, after, diff_in_words(report, after, rule_statements(evaluator, after.policy)))


def save(store: Store, case: dict[str, Any], report: Report, title: str, who: str, case_id: str | None = None) -> str:
    """The case and its report stored for the MDT list; returns the stored case's id. With the id of
    a stored case, a new version of it (saved again), not a second copy."""
    return store.save_case(case, report, title or "(untitled)", who=who, case_id=case_id)
