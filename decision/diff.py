"""What changed between two reports of the same case (for "what if" questions)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from decision.report import Report


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
