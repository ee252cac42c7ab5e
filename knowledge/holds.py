"""Antithrombotic hold tables: a guideline's table of when to stop and restart each drug, as data.

A clinician reviews the table in the shape the guideline prints it (drug by drug, risk class by
risk class) in `holds/<guideline>.yaml`; this module turns each row into ordinary knowledge rules
(a hold that defers, a shared assessment that cautions, a stop/restart plan) so that the engine,
the explanations and the tests treat them like every other rule. Nothing here states a figure:
every number comes from a row, and every row names its source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from knowledge.schema import HoldPlan, Rule, SourceRef

STRICT = ConfigDict(extra="forbid", frozen=True)

RiskClass = Literal["low", "intermediate", "high"]
RISK_CLASSES: tuple[RiskClass, ...] = ("low", "intermediate", "high")
ClassGroup = Literal["all", "low", "intermediate", "high", "intermediate_or_high", "low_or_intermediate"]
GROUP_CLASSES: dict[str, tuple[RiskClass, ...]] = {
    "all": ("low", "intermediate", "high"),
    "low": ("low",),
    "intermediate": ("intermediate",),
    "high": ("high",),
    "intermediate_or_high": ("intermediate", "high"),
    "low_or_intermediate": ("low", "intermediate"),
}
Action = Literal["stop", "shared_assessment", "no_hold", "defer_for_plan", "caution_for_plan"]
_ACTION_SEVERITY = {"no_hold": 0, "shared_assessment": 1, "caution_for_plan": 1, "stop": 2, "defer_for_plan": 3}


class HoldAdvice(BaseModel):
    """What the table says for one drug before procedures of one bleeding-risk class.

    stop: wait `stop_hours` after the last dose. shared_assessment: go ahead after weighing
    bleeding against thrombosis with the prescriber. no_hold: no hold. defer_for_plan /
    caution_for_plan: the checked sources hold no figure, so the procedure waits for (or goes
    ahead only with) a plan agreed with the prescriber.
    """

    model_config = STRICT
    action: Action
    stop_hours: int | None = Field(default=None, gt=0)
    restart_after_hours: tuple[int, int] | int | None = None
    normal_inr: bool = False

    @model_validator(mode="after")
    def _stop_has_hours(self) -> HoldAdvice:
        if (self.action == "stop") != (self.stop_hours is not None):
            raise ValueError("stop_hours goes with action: stop, and only with it")
        return self

    def severity(self) -> tuple[int, int]:
        return _ACTION_SEVERITY[self.action], self.stop_hours or 0


ClassRows = dict[ClassGroup, HoldAdvice]


class Variant(BaseModel):
    """Rows that depend on a fact: the dose or indication on the medication entry (`regimen`) or
    a case field (e.g. renal disease). When the fact is unknown the strictest row applies and the
    report asks for it."""

    model_config = STRICT
    field: str = Field(description="`regimen` (on the medication entry) or a dotted case field.")
    rows: dict[str, ClassRows] = Field(min_length=2, description="Value of the field -> rows by risk class.")


class DrugRow(BaseModel):
    model_config = STRICT
    medication: str = Field(description="A medication id of the vocabulary.")
    sources: tuple[SourceRef, ...] = Field(min_length=1)
    verification: Literal["V", "V2", "recheck"] = Field(
        description="V: checked against the guideline; V2: against a faithful reproduction of its table; "
        "recheck: recalled or from a secondary source, to re-check before relying on it."
    )
    note: str = ""
    rows: ClassRows | None = None
    variant: Variant | None = None
    tests: tuple[str, ...] = Field(default=(), description="Vignettes that exercise this row's rules.")

    @model_validator(mode="after")
    def _rows_or_variant(self) -> DrugRow:
        if (self.rows is None) == (self.variant is None):
            raise ValueError("a drug row has either `rows` or `variant`")
        for rows in [self.rows] if self.rows is not None else list(self.variant.rows.values()):  # type: ignore[union-attr]
            _concrete(rows)
        return self


class HoldTable(BaseModel):
    model_config = STRICT
    guideline: str
    title: str
    evidence: str
    description: str = ""
    drugs: tuple[DrugRow, ...] = Field(min_length=1)


def _concrete(rows: ClassRows) -> dict[RiskClass, HoldAdvice]:
    """Rows by single risk class; every class answered exactly once."""
    out: dict[RiskClass, HoldAdvice] = {}
    for group, advice in rows.items():
        for risk in GROUP_CLASSES[group]:
            if risk in out:
                raise ValueError(f"risk class {risk} is given twice")
            out[risk] = advice
    missing = [r for r in RISK_CLASSES if r not in out]
    if missing:
        raise ValueError(f"no advice for risk class {', '.join(missing)}")
    return out


def _regroup(concrete: dict[RiskClass, HoldAdvice]) -> list[tuple[tuple[RiskClass, ...], HoldAdvice]]:
    groups: list[tuple[tuple[RiskClass, ...], HoldAdvice]] = []
    for risk in RISK_CLASSES:
        advice = concrete[risk]
        for i, (classes, existing) in enumerate(groups):
            if existing == advice:
                groups[i] = ((*classes, risk), existing)
                break
        else:
            groups.append(((risk,), advice))
    return groups


def _class_condition(classes: tuple[RiskClass, ...]) -> dict[str, Any] | None:
    """The candidate fields that say a procedure is in these classes (after patient factors)."""
    key = set(classes)
    if key == {"low", "intermediate", "high"}:
        return None
    if key == {"intermediate", "high"}:
        return {"field": "candidate.intermediate_or_high_risk", "eq": True}
    if key == {"low"}:
        return {"field": "candidate.intermediate_or_high_risk", "eq": False}
    if key == {"high"}:
        return {"field": "candidate.high_risk", "eq": True}
    if key == {"low", "intermediate"}:
        return {"field": "candidate.high_risk", "eq": False}
    if key == {"intermediate"}:
        return {
            "all": [
                {"field": "candidate.intermediate_or_high_risk", "eq": True},
                {"field": "candidate.high_risk", "eq": False},
            ]
        }
    # low and high without intermediate
    return {"not": _class_condition(("intermediate",))}


def _hours(hours: int) -> str:
    return f"{hours} hours ({hours // 24} days)" if hours >= 48 and hours % 24 == 0 else f"{hours} hours"


def _restart(restart: tuple[int, int] | int | None) -> str:
    if restart is None:
        return "restart when the prescriber agrees (the checked table gives no time)"
    if isinstance(restart, int):
        return f"restart {restart} hours after the procedure"
    return f"restart {restart[0]}-{restart[1]} hours after the procedure"


def _class_words(classes: tuple[RiskClass, ...]) -> str:
    if len(classes) == 3:
        return "any"
    return " or ".join(classes)


@dataclass(frozen=True)
class _Target:
    """Who a generated rule speaks of: the drug entry (and its dose, when the row depends on it), the
    risk classes, and the words that say which variant of the row it is."""

    label: str
    item: tuple[dict[str, Any], ...]
    case: tuple[dict[str, Any], ...]
    base_id: str
    classes: str
    variant_words: str
    variant_tag: str

    def exists(self, *more: dict[str, Any]) -> dict[str, Any]:
        return _all(list(self.case), {"exists": {"list": "medications", "where": _all(list(self.item), *more)}})


class _Generated:
    def __init__(self, table: HoldTable, labels: dict[str, str]) -> None:
        self.table = table
        self.labels = labels
        self.rules: list[Rule] = []

    def drug(self, row: DrugRow) -> None:
        if row.rows is not None:
            self._rows(row, _concrete(row.rows), variant=None)
            return
        assert row.variant is not None
        variants = {value: _concrete(rows) for value, rows in row.variant.rows.items()}
        for value, concrete in variants.items():
            self._rows(row, concrete, variant=(row.variant.field, value))
        strictest = {risk: max((v[risk] for v in variants.values()), key=HoldAdvice.severity) for risk in RISK_CLASSES}
        self._rows(row, strictest, variant=(row.variant.field, None))

    def _rows(self, row: DrugRow, concrete: dict[RiskClass, HoldAdvice], variant: tuple[str, Any] | None) -> None:
        for classes, advice in _regroup(concrete):
            if advice.action != "no_hold":
                self._advice(row, self._target(row, classes, variant), advice, variant)

    def _target(self, row: DrugRow, classes: tuple[RiskClass, ...], variant: tuple[str, Any] | None) -> _Target:
        item: list[dict[str, Any]] = [{"field": "name", "eq": row.medication}]
        class_condition = _class_condition(classes)
        case: list[dict[str, Any]] = [] if class_condition is None else [class_condition]
        suffix = variant_words = variant_tag = ""
        if variant is not None:
            field, value = variant
            if value is None:
                test: dict[str, Any] = {"is_unknown": field}
                suffix = f".{field.rsplit('.', 1)[-1]}_unknown"
                variant_words = (
                    f" The {_field_words(field)} is not recorded, so the strictest row of the table applies."
                )
                variant_tag = f" ({_field_words(field)} not recorded)"
            else:
                # settled only by a recorded value: when it is unknown the strictest-row rules speak
                test = {"all": [{"not": {"is_unknown": field}}, {"field": field, "eq": _variant_value(value)}]}
                suffix = f".{_slug(value)}"
                variant_words = variant_tag = f" ({_field_words(field)}: {value.replace('_', ' ')})"
            (item if "." not in field else case).append(test)
        classes_id = "_".join(classes) if len(classes) < 3 else "all"
        return _Target(
            label=self.labels[row.medication],
            item=tuple(item),
            case=tuple(case),
            base_id=f"{row.medication}{suffix}.{classes_id}",
            classes=_class_words(classes),
            variant_words=variant_words,
            variant_tag=variant_tag,
        )

    def _rule(self, row: DrugRow, rule_id: str, title: str, statement: str, when: Any, then: Any) -> None:
        self.rules.append(
            Rule.model_validate(
                {
                    "id": rule_id,
                    "title": title,
                    "statement": statement,
                    "evidence": self.table.evidence,
                    "sources": row.sources,
                    "recheck": row.verification == "recheck",
                    "tests": row.tests,
                    "when": when,
                    "then": then,
                }
            )
        )

    def _advice(self, row: DrugRow, target: _Target, advice: HoldAdvice, variant: tuple[str, Any] | None) -> None:
        label, words, extra = target.label, target.classes, target.variant_words
        plan = HoldPlan(
            medication=row.medication,
            stop_before_hours=advice.stop_hours,
            restart_after_hours=advice.restart_after_hours,
            action=advice.action,
            normal_inr=advice.normal_inr,
        )
        restart = _restart(advice.restart_after_hours)
        inr = " with a normal INR" if advice.normal_inr else ""
        rule_id = f"hold.{target.base_id}"
        if advice.action == "stop":
            assert advice.stop_hours is not None
            hold = _hours(advice.stop_hours)
            statement = f"{label} is stopped at least {hold} before a procedure of {words} bleeding risk{inr}; {restart}.{extra}"
            self._rule(
                row,
                rule_id,
                f"{label}{target.variant_tag}: stop {hold} before ({words} bleeding risk)",
                statement,
                target.exists({"field": "last_dose_hours_ago", "lt": advice.stop_hours}),
                {
                    "status": "deferred",
                    "text": f"{label} was taken less than {hold} ago; the procedure waits until the hold is complete.{extra}",
                },
            )
            if variant is not None and variant[1] is None:
                self._ask_variant(row, target, advice.stop_hours, variant[0])
            rule_id = f"plan.{target.base_id}"
            effect: dict[str, Any] = {
                "text": f"{label}: stop at least {hold} before{inr}; {restart}.{extra}",
                "plan": plan,
            }
        elif advice.action == "shared_assessment":
            statement = (
                f"Before a procedure of {words} bleeding risk, whether to continue {label} is decided in a shared "
                f"assessment of bleeding against thrombotic risk; {restart} if it is held.{extra}"
            )
            effect = {
                "status": "indicated_with_caution",
                "warning": True,
                "text": f"The patient takes {label}: decide with the patient and prescriber whether to hold it "
                f"(shared assessment); if held, {restart}.{extra}",
                "plan": plan,
            }
        else:
            defer = advice.action == "defer_for_plan"
            agree = (
                "the procedure waits for a plan agreed with the prescriber."
                if defer
                else "agree with the prescriber whether to hold it."
            )
            statement = (
                f"The checked sources give no figure for {label} before a procedure of {words} bleeding risk; {agree}"
            )
            effect = {
                "status": "deferred" if defer else "indicated_with_caution",
                "warning": not defer,
                "text": f"The patient takes {label}, for which no checked hold period is held here: "
                + (
                    "agree when to stop and restart it with the prescriber before booking."
                    if defer
                    else "agree with the prescriber whether to hold it."
                ),
                "plan": plan,
            }
        title = f"{label}{target.variant_tag} before a procedure of {words} bleeding risk"
        self._rule(row, rule_id, title, statement, target.exists(), effect)

    def _ask_variant(self, row: DrugRow, target: _Target, stop_hours: int, field: str) -> None:
        """Ask for the unknown fact while the strictest hold is still running (then it can matter)."""
        words = _field_words(field)
        self._rule(
            row,
            f"ask.{target.base_id}",
            f"{target.label}: the {words} decides the hold",
            f"The hold for {target.label} depends on the {words}; without it the strictest figure of the table is used.",
            target.exists({"field": "last_dose_hours_ago", "lt": stop_hours}),
            {
                "status": "needs_information",
                "require": [f"medications.{field}" if "." not in field else field],
                "text": f"Record the {words} of {target.label}: the hold period depends on it.",
            },
        )


def _all(parts: list[dict[str, Any]], *more: dict[str, Any]) -> dict[str, Any]:
    items = [*parts, *more]
    return items[0] if len(items) == 1 else {"all": items}


def _slug(value: str) -> str:
    return value.lower().replace("-", "_")


def _variant_value(value: str) -> Any:
    return {"true": True, "false": False}.get(value, value)


def _field_words(field: str) -> str:
    return {"regimen": "dose or indication", "comorbidities.renal_impairment": "renal function"}.get(
        field, field.rsplit(".", 1)[-1].replace("_", " ")
    )


def hold_rules(table: HoldTable, labels: dict[str, str]) -> list[Rule]:
    """Every row of a table as knowledge rules, in table order."""
    generated = _Generated(table, labels)
    for row in table.drugs:
        generated.drug(row)
    return generated.rules


def tabled_medications(table: HoldTable) -> frozenset[str]:
    return frozenset(row.medication for row in table.drugs)
