"""What one record says, gathered with where each value came from, before any of it is judged.

The resource handlers (one module per resource family) write here; `assemble` turns what was
gathered into a case.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from decision.fhir.elements import EXTENSION_KINDS, EXTENSION_TYPES, ExtensionValue, codings, extension_values
from decision.report import IgnoredInput
from knowledge.codemaps import CodeIndex, Scalar

if TYPE_CHECKING:
    from fhir.resources.R4B.codeableconcept import CodeableConcept
    from fhir.resources.R4B.domainresource import DomainResource

T = TypeVar("T")


class Dose(enum.Enum):
    ONGOING = "ongoing"
    """A medication record that says the drug is still taken: no recorded dose is the last one."""


DoseTime = dt.datetime | Dose | None
"""When a dose was last given, Dose.ONGOING, or None when the record does not say."""
LabRange = dict[str, float | None]


@dataclass
class Sourced(Generic[T]):
    """A value and where it came from: the resource, its time, the element."""

    value: T
    origin: str
    when: dt.datetime | None = None
    element: str | None = None


@dataclass
class RecordReader:
    """Gathers what each resource says, with where it came from."""

    codes: CodeIndex
    now: dt.datetime | None
    scalars: dict[str, list[Sourced[Scalar]]] = field(default_factory=dict)
    diagnoses: list[dict[str, Any]] = field(default_factory=list)
    onsets: list[Sourced[dt.date]] = field(default_factory=list)
    medications: dict[str, list[Sourced[DoseTime]]] = field(default_factory=dict)
    allergies: set[str] = field(default_factory=set)
    prior_injections: list[dict[str, object]] = field(default_factory=list)
    diagnostic_blocks: list[dict[str, object]] = field(default_factory=list)
    imaging: dict[str, dict[str, object]] = field(default_factory=dict)
    stated_none: dict[str, str] = field(default_factory=dict)
    ignored: list[IgnoredInput] = field(default_factory=list)
    media: dict[str, CodeableConcept | None] = field(default_factory=dict)
    full_urls: dict[str, str] = field(default_factory=dict)
    incomplete: set[str] = field(default_factory=set)
    lab_ranges: dict[str, list[Sourced[LabRange]]] = field(default_factory=dict)

    @property
    def assessment_date(self) -> dt.date | None:
        return self.now.date() if self.now else None

    def ignore(self, origin: str, reason: str, element: str | None = None, reopens: tuple[str, ...] = ()) -> None:
        """List what was not used; `reopens` names the case lists this record belonged to, which
        can no longer be taken as complete."""
        self.ignored.append(IgnoredInput(resource=origin, element=element, reason=reason))
        self.incomplete.update(reopens)

    def ext(self, origin: str, res: DomainResource, name: str) -> list[ExtensionValue]:
        kind = EXTENSION_KINDS[name]
        values, wrong = extension_values(res, getattr(self.codes.maps.extensions, name), kind)
        if wrong:
            expected = " or ".join(EXTENSION_TYPES[kind])
            self.ignore(
                origin, f"extension {name} must be given as {expected}; this one was not used", f"extension {name}"
            )
        return values

    def put(
        self, path: str, value: Scalar, origin: str, when: dt.datetime | None = None, element: str | None = None
    ) -> None:
        self.scalars.setdefault(path, []).append(Sourced(value, origin, when, element))

    def on_assessment_day(self, when: dt.datetime | None) -> bool:
        return when is not None and self.now is not None and when.astimezone(self.now.tzinfo).date() == self.now.date()

    def after_now(self, when: dt.datetime | None) -> bool:
        return when is not None and self.now is not None and when > self.now

    def hours_before_now(self, when: dt.datetime | None) -> float | None:
        if when is None or self.now is None:
            return None
        hours = (self.now - when).total_seconds() / 3600
        return round(hours, 4) if hours >= 0 else None

    def absent(self, concept: CodeableConcept | None, origin: str) -> bool:
        """Whether the code says "none known" (an IPS absent code); the lists it names become empty."""
        for coding in codings(concept):
            entry = self.codes.absent.get((coding.system, coding.code))
            if entry is not None:
                for name in entry.empty:
                    self.stated_none[name] = origin
                return True
        return False
