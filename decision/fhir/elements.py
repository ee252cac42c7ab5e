"""Reading FHIR data types (codes, dates, quantities, extensions, references) the same way everywhere."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fhir.resources.R4B.codeableconcept import CodeableConcept
    from fhir.resources.R4B.domainresource import DomainResource
    from fhir.resources.R4B.reference import Reference
    from fhir.resources.R4B.resource import Resource

ExtensionValue = str | bool | float
"""What a spine-cds extension carries: a code or text, a yes/no, a number."""

EXTENSION_KINDS = {
    "levels": "text",
    "side": "text",
    "subtype": "text",
    "region": "text",
    "approach": "text",
    "steroid": "bool",
    "relief_percent": "number",
    "relief_weeks": "number",
    "concordant": "bool",
}
EXTENSION_TYPES = {
    "text": ("valueCode", "valueString"),
    "bool": ("valueBoolean",),
    "number": ("valueDecimal", "valueInteger"),
}


@dataclass
class Coded:
    system: str
    code: str
    display: str


def codings(concept: CodeableConcept | None) -> list[Coded]:
    if concept is None:
        return []
    return [Coded(c.system or "", c.code or "", c.display or "") for c in (concept.coding or []) if c.code]


def concept_text(concept: CodeableConcept | None) -> str:
    if concept is None:
        return ""
    return str(concept.text or next((c.display for c in concept.coding or [] if c.display), "") or "")


def status_code(concept: CodeableConcept | None) -> str | None:
    codes = codings(concept)
    return codes[0].code if codes else None


def as_datetime(value: object) -> dt.datetime | None:
    """A FHIR date or dateTime as an aware datetime; a bare date is taken as its start (UTC)."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), dt.UTC)
    return None


def as_date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return None


def number(value: ExtensionValue | Decimal | None) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    return int(number) if number.is_integer() else number


def extension_values(resource: DomainResource, url: str, kind: str) -> tuple[list[ExtensionValue], bool]:
    """(values of the expected type, whether an extension with this URL had another type).

    A concordance given as the string "false" must not read as true: only the FHIR type that
    carries the meaning is read, and anything else is reported by the caller."""
    out: list[ExtensionValue] = []
    wrong = False
    for ext in resource.extension or []:
        if ext.url != url:
            continue
        value = next((getattr(ext, n) for n in EXTENSION_TYPES[kind] if getattr(ext, n, None) is not None), None)
        if value is None:
            wrong = True
        else:
            out.append(float(value) if kind == "number" else value)
    return out, wrong


def label(resource: Resource, index: int) -> str:
    kind = resource.get_resource_type()
    return f"{kind}/{resource.id}" if resource.id else f"{kind}[{index}]"


def reference_key(reference: Reference | None) -> str | None:
    """A reference as written, without a version. An absolute URL is kept whole: the same id on
    another server may be another patient."""
    if reference is None or not reference.reference:
        return None
    return str(reference.reference).split("/_history/", 1)[0]
