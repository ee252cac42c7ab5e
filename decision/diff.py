"""What changed between two reports of the same case (for "what if" questions), in ids and in words.

`report_diff` compares by ids (candidate keys, case paths, rule ids), which tests and tools need;
`diff_in_words` says the same as a clinician reads it: candidate titles and status labels from
`decision.explain`, missing information by its question, rules by their statement. Ids are only
the fallback for something the knowledge cannot name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict

from decision.case_summary import field_words
from decision.explain import STATUS_LABEL, candidate_title
from decision.fields import case_layout
from decision.report import MissingInformation, Report


class StatusChange(BaseModel):
    model_config = ConfigDict(frozen=True)
    candidate: str
    before: str | None
    after: str | None


class ReportDiff(BaseModel):
    model_config = ConfigDict(frozen=True)
    status_changes: list[StatusChange]
    missing_added: list[str]
    missing_resolved: list[str]
    rules_now_firing: list[str]
    rules_no_longer_firing: list[str]
    red_flags_before: bool
    red_flags_after: bool

    @property
    def empty(self) -> bool:
        return not (
            self.status_changes
            or self.missing_added
            or self.missing_resolved
            or self.rules_now_firing
            or self.rules_no_longer_firing
            or self.red_flags_before != self.red_flags_after
        )


def report_diff(before: Report, after: Report) -> ReportDiff:
    old = {c.key: c.status for c in before.candidates}
    new = {c.key: c.status for c in after.candidates}
    changes = [
        StatusChange(candidate=key, before=old.get(key), after=new.get(key))
        for key in sorted(old.keys() | new.keys())
        if old.get(key) != new.get(key)
    ]
    old_missing = {m.field for m in before.missing_information}
    new_missing = {m.field for m in after.missing_information}
    return ReportDiff(
        status_changes=changes,
        missing_added=sorted(new_missing - old_missing),
        missing_resolved=sorted(old_missing - new_missing),
        rules_now_firing=sorted(set(after.fired_rules) - set(before.fired_rules)),
        rules_no_longer_firing=sorted(set(before.fired_rules) - set(after.fired_rules)),
        red_flags_before=bool(before.red_flags),
        red_flags_after=bool(after.red_flags),
    )


class StatusInWords(BaseModel):
    """One candidate whose status changed: its title and both statuses as the report labels them."""

    model_config = ConfigDict(frozen=True)
    candidate: str
    title: str
    before: str
    after: str


class DiffInWords(BaseModel):
    """A what-if's result as a clinician reads it; every line is text from the knowledge or the report."""

    model_config = ConfigDict(frozen=True)
    statuses: list[StatusInWords]
    now_needed: list[str]
    no_longer_needed: list[str]
    rules_now_met: list[str]
    rules_no_longer_met: list[str]
    red_flag: str | None = None

    @property
    def empty(self) -> bool:
        return not (
            self.statuses
            or self.now_needed
            or self.no_longer_needed
            or self.rules_now_met
            or self.rules_no_longer_met
            or self.red_flag
        )


def field_question(path: str) -> str:
    """A case path as the form asks it (its title from the case model), else in the case model's words.

    `medications` is the list's own question, `medications.drug_class` the question of its items,
    `diagnoses.prior_surgery_at_site` a diagnosis's question.
    """
    head, _, tail = path.partition(".")
    for group in case_layout():
        if group.path == path:
            return group.question or group.title
        for spec in group.fields:
            if spec.path == path or (group.repeated and group.path == head and spec.path == tail):
                return spec.ask()
    return field_words(path)


def missing_question(item: MissingInformation) -> str:
    """A missing-information item by its question, naming the entries it is about (a drug as written)."""
    question = field_question(item.field)
    return f"{question} ({', '.join(item.about)})" if item.about else question


def _status_label(status: str | None) -> str:
    return STATUS_LABEL.get(status, status) if status else "not considered"


def _rule_words(rule_id: str, statements: Mapping[str, str]) -> str:
    return statements.get(rule_id) or rule_id


def diff_in_words(before: Report, after: Report, statements: Mapping[str, str] | None = None) -> DiffInWords:
    """The difference between two reports in words.

    `statements` maps rule ids to their statements (the knowledge's `Rule.statement`); a rule the
    map does not hold is named by the text a report gives it, and only then by its id.
    """
    said = {**_report_rule_texts(before), **_report_rule_texts(after), **(statements or {})}
    titles = {c.key: candidate_title(c) for c in [*before.candidates, *after.candidates]}
    diff = report_diff(before, after)
    old_missing = {(m.field, tuple(m.about)): m for m in before.missing_information}
    new_missing = {(m.field, tuple(m.about)): m for m in after.missing_information}
    red_flag = None
    if diff.red_flags_before != diff.red_flags_after:
        red_flag = "A red flag is now raised." if diff.red_flags_after else "No red flag is raised any more."
    return DiffInWords(
        statuses=[
            StatusInWords(
                candidate=change.candidate,
                title=titles.get(change.candidate, change.candidate),
                before=_status_label(change.before),
                after=_status_label(change.after),
            )
            for change in diff.status_changes
        ],
        now_needed=_unique(missing_question(new_missing[k]) for k in sorted(new_missing.keys() - old_missing.keys())),
        no_longer_needed=_unique(
            missing_question(old_missing[k]) for k in sorted(old_missing.keys() - new_missing.keys())
        ),
        rules_now_met=_unique(_rule_words(r, said) for r in diff.rules_now_firing),
        rules_no_longer_met=_unique(_rule_words(r, said) for r in diff.rules_no_longer_firing),
        red_flag=red_flag,
    )


def _unique(lines: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(lines))


def _report_rule_texts(report: Report) -> dict[str, str]:
    texts = {f.rule_id: f.text for f in [*report.contraindications, *report.warnings, *report.red_flags]}
    for candidate in report.candidates:
        texts.update({r.rule_id: r.text for r in candidate.reasons})
        texts.update({step.rule_id: step.text for step in candidate.antithrombotic_plan})
    return texts
