"""One case under every policy profile, side by side, with the rules and sources that make them differ.

A site chooses a profile (its own practice, NICE, Medicare's LCDs, ASIPP's bleeding-risk classes),
but a clinician or an MDT often needs to know what the others would say: that Medicare would not
cover a repeat epidural the clinic would only defer, or that ASIPP's classes make a transforaminal
epidural low risk where ASRA's make it intermediate. Each profile's answer comes from the
evaluator; each difference from the default profile is traced to what caused it: a rule that
applies under one profile and not the other, the same rule with another figure (the profile's
question, both answers and their sources), or the bleeding-risk class that the profile's
antithrombotic guideline gives the procedure. Nothing here judges the case.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from decision.case import Case
from decision.diff import report_diff
from decision.evaluator import CaseEvaluator
from decision.explain import STATUS_LABEL, candidate_title
from decision.report import Reason, Report, ReportCandidate, Status
from decision.rule_text import params_used, rule_text

FROZEN = ConfigDict(frozen=True, extra="forbid")
COVERAGE_WORDS: dict[str, str] = {
    "indicated": "covered: meets the coverage criteria",
    "indicated_with_caution": "covered: meets the coverage criteria (with caution)",
    "needs_information": "coverage not yet decided: needs information",
    "deferred": "deferred: coverage not yet decided",
    "contraindicated": "contraindicated: coverage not decided",
    "not_indicated": "not covered: does not meet the coverage criteria",
}
GUIDELINE_PARAM = "antithrombotic_guideline"
"""The profile switch naming the guideline whose bleeding-risk classes (and so holds) apply."""
DECISIVE_KINDS = frozenset({"indication", "restriction", "red_flag", "unknown", "not_met"})
"""Reasons that can move a status; guidance and warnings never do."""


class Profile(BaseModel):
    """One column: a policy profile and the antithrombotic guideline it switches to."""

    model_config = FROZEN
    policy: str
    title: str
    coverage: bool = Field(description="A payer's coverage profile: its answers are worded as coverage.")
    guideline: str | None = Field(default=None, description="The antithrombotic guideline's source id.")
    guideline_title: str | None = None


class DifferingRule(BaseModel):
    """What makes one profile's answer differ from the default's, with its sources."""

    model_config = FROZEN
    rule_id: str
    title: str
    text: str = Field(description="The rule's words as the report gives them, or the differing figures.")
    applies_under: str = Field(description="'profile', 'default' or 'both' (the same rule, another figure).")
    sources: list[str] = Field(description="source_id#section references.")
    source_titles: list[str]


class ProfileDifference(BaseModel):
    """A candidate whose status under a profile is not the default profile's."""

    model_config = FROZEN
    policy: str
    policy_title: str
    status: Status | None
    words: str
    default_words: str
    rules: list[DifferingRule]


class CandidateRow(BaseModel):
    model_config = FROZEN
    key: str
    title: str
    statuses: dict[str, Status | None] = Field(description="By policy id; None: not a candidate there.")
    words: dict[str, str] = Field(description="Each status in words (coverage words for a payer's profile).")
    differences: list[ProfileDifference]


class PolicyComparison(BaseModel):
    model_config = FROZEN
    default_policy: str
    profiles: list[Profile]
    rows: list[CandidateRow]

    @property
    def differs(self) -> bool:
        return any(row.differences for row in self.rows)


def status_words(status: Status | None, coverage: bool) -> str:
    """A status in words; a payer's profile says it as coverage."""
    if status is None:
        return "not a candidate"
    return COVERAGE_WORDS[status] if coverage else STATUS_LABEL[status].capitalize()


def compare_policies(evaluator: CaseEvaluator, case: Case | dict[str, Any]) -> PolicyComparison:
    """The case evaluated under every profile of the evaluator's knowledge, the default first."""
    knowledge = evaluator.knowledge
    default = knowledge.manifest.default_policy
    order = [default, *sorted(p for p in evaluator.policies if p != default)]
    reports = {policy: evaluator.evaluate(case, policy) for policy in order}
    profiles = [_profile(evaluator, policy, reports[policy]) for policy in order]
    coverage = {p.policy: p.coverage for p in profiles}
    changed = {
        policy: {c.candidate for c in report_diff(reports[default], reports[policy]).status_changes} for policy in order
    }
    keys = list(dict.fromkeys(c.key for policy in order for c in reports[policy].candidates))
    rows = []
    for key in keys:
        found = {policy: _candidate(reports[policy], key) for policy in order}
        statuses = {policy: (c.status if c else None) for policy, c in found.items()}
        example = next(c for c in found.values() if c is not None)
        differences = [
            ProfileDifference(
                policy=policy,
                policy_title=reports[policy].policy_title,
                status=statuses[policy],
                words=status_words(statuses[policy], coverage[policy]),
                default_words=status_words(statuses[default], coverage[default]),
                rules=_differing_rules(evaluator, default, policy, found[default], found[policy]),
            )
            for policy in order[1:]
            if key in changed[policy]
        ]
        rows.append(
            CandidateRow(
                key=key,
                title=candidate_title(example),
                statuses=statuses,
                words={policy: status_words(statuses[policy], coverage[policy]) for policy in order},
                differences=differences,
            )
        )
    return PolicyComparison(default_policy=default, profiles=profiles, rows=rows)


def _profile(evaluator: CaseEvaluator, policy: str, report: Report) -> Profile:
    param = evaluator.policies[policy].params.get(GUIDELINE_PARAM)
    guideline = str(param.value) if param is not None else None
    source = evaluator.knowledge.sources.get(guideline or "")
    return Profile(
        policy=policy,
        title=report.policy_title,
        coverage=evaluator.knowledge.policies[policy].kind == "coverage",  # declared in the policy's YAML
        guideline=guideline,
        guideline_title=source.title if source is not None else None,
    )


def _candidate(report: Report, key: str) -> ReportCandidate | None:
    return next((c for c in report.candidates if c.key == key), None)


def _decisive(candidate: ReportCandidate | None) -> dict[str, Reason]:
    if candidate is None:
        return {}
    return {r.rule_id: r for r in candidate.reasons if r.kind in DECISIVE_KINDS or r.status is not None}


def _differing_rules(
    evaluator: CaseEvaluator,
    default: str,
    policy: str,
    before: ReportCandidate | None,
    after: ReportCandidate | None,
) -> list[DifferingRule]:
    """The decisive reasons one side has and the other lacks, the same rule with other figures, and
    a bleeding-risk class the two guidelines set differently."""
    knowledge = evaluator.knowledge
    old, new = _decisive(before), _decisive(after)
    found: list[DifferingRule] = []
    for rule_id in sorted(old.keys() | new.keys()):
        reason_old, reason_new = old.get(rule_id), new.get(rule_id)
        if reason_old is not None and reason_new is not None and reason_old.text == reason_new.text:
            continue
        figures = _figures(evaluator, default, policy, rule_id)
        if reason_old is not None and reason_new is not None:
            found.append(figures)
            continue
        reason = reason_new or reason_old
        assert reason is not None
        under = policy if reason_new is not None else default
        entry = knowledge.rule_index.get(rule_id)
        title = rule_text(entry.rule, evaluator.policies[under]).title if entry else rule_id
        sources = list(dict.fromkeys([*reason.sources, *figures.sources]))
        found.append(
            DifferingRule(
                rule_id=rule_id,
                title=title,
                text=reason.text + (f" ({figures.text})" if figures.sources else ""),
                applies_under="profile" if reason_new is not None else "default",
                sources=sources,
                source_titles=[_source_title(evaluator, ref) for ref in sources],
            )
        )
    if before is not None and after is not None and before.bleeding_risk != after.bleeding_risk:
        found.append(_bleeding_class(evaluator, default, policy, before, after))
    return found


def _figures(evaluator: CaseEvaluator, default: str, policy: str, rule_id: str) -> DifferingRule:
    """The profile answers a rule uses that the two profiles answer differently (none: no sources)."""
    entry = evaluator.knowledge.rule_index.get(rule_id)
    old, new = evaluator.policies[default].params, evaluator.policies[policy].params
    used = params_used(entry.rule) if entry else set()
    names = sorted(n for n in used if n in old and n in new and old[n].value != new[n].value)
    lines = [
        f"{new[n].question} {_value(old[n].value, old[n].unit)} ({default}), "
        f"{_value(new[n].value, new[n].unit)} ({policy})"
        for n in names
    ]
    sources = list(dict.fromkeys(ref for n in names for ref in (old[n].source, new[n].source)))
    return DifferingRule(
        rule_id=rule_id,
        title=rule_text(entry.rule, evaluator.policies[policy]).title if entry else rule_id,
        text="; ".join(lines) or "The rule's words differ between the two profiles.",
        applies_under="both",
        sources=sources,
        source_titles=[_source_title(evaluator, ref) for ref in sources],
    )


def _bleeding_class(
    evaluator: CaseEvaluator, default: str, policy: str, before: ReportCandidate, after: ReportCandidate
) -> DifferingRule:
    labels = evaluator.knowledge.vocabulary.bleeding_risks
    titles = {p: evaluator.knowledge.policies[p].title for p in (default, policy)}
    old = evaluator.policies[default].params.get(GUIDELINE_PARAM)
    new = evaluator.policies[policy].params.get(GUIDELINE_PARAM)

    def risk(value: str | None) -> str:
        return labels[value].label if value in labels else (value or "not classed")

    sources = list(dict.fromkeys(p.source for p in (old, new) if p is not None))
    return DifferingRule(
        rule_id=GUIDELINE_PARAM,
        title=new.question if new is not None else "Bleeding-risk class",
        text=f"{risk(before.bleeding_risk)} under {titles[default]}, {risk(after.bleeding_risk)} under {titles[policy]}",
        applies_under="both",
        sources=sources,
        source_titles=[_source_title(evaluator, ref) for ref in sources],
    )


def _value(value: Any, unit: str) -> str:
    shown = int(value) if isinstance(value, float) and value.is_integer() else value
    return f"{shown} {unit}".strip()


def _source_title(evaluator: CaseEvaluator, ref: str) -> str:
    try:
        return evaluator.knowledge.source_label(ref)
    except KeyError:
        return ref
