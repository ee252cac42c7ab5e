"""Procedure: prior injections and diagnostic blocks, with their relief; `procedure_item` also reads orders."""

from __future__ import annotations

from typing import TYPE_CHECKING

from decision.fhir.case_fields import INJECTION_LISTS
from decision.fhir.elements import as_date, codings, concept_text, number
from decision.fhir.reader import RecordReader

if TYPE_CHECKING:
    from fhir.resources.R4B.codeableconcept import CodeableConcept
    from fhir.resources.R4B.domainresource import DomainResource
    from fhir.resources.R4B.procedure import Procedure

ProcedureItem = dict[str, object]
"""An injection as the case holds it (procedure, approach, region, date, relief...)."""


def read_procedure(reader: RecordReader, origin: str, res: Procedure) -> None:
    if res.status in ("not-done", "entered-in-error", "preparation"):
        reader.ignore(origin, f"status '{res.status}': not a procedure that was done", "status")
        return
    if reader.absent(res.code, origin):
        return
    if res.status != "completed":
        reader.ignore(origin, f"status '{res.status}': only completed procedures are read", "status", INJECTION_LISTS)
        return
    item = procedure_item(reader, origin, res.code, res)
    if item is None:
        return
    kind = None
    for coding in [c for cat in ([res.category] if res.category else []) for c in codings(cat)]:
        category = reader.codes.categories.get((coding.system, coding.code))
        if category is not None:
            kind = category.kind
    if kind is None:
        default = reader.codes.maps.diagnostic_by_default
        kind = "diagnostic_blocks" if item.get("procedure") in default else "prior_injections"
    performed = as_date(res.performedDateTime) or as_date(res.performedPeriod.start if res.performedPeriod else None)
    if performed is not None and reader.assessment_date is not None and performed > reader.assessment_date:
        reader.ignore(origin, "performed after the assessment date", "performed[x]")
        return
    item["date"] = performed
    relief = reader.ext(origin, res, "relief_percent")
    levels = [str(v) for v in reader.ext(origin, res, "levels")]
    if kind == "diagnostic_blocks":
        block = {k: item.get(k) for k in ("procedure", "region", "date")}
        block["levels"] = levels or None
        block["relief_percent"] = number(relief[0]) if relief else None
        for name in ("approach", "steroid", "relief_weeks"):
            if item.get(name) is not None or reader.ext(origin, res, name):
                reader.ignore(origin, f"{name} is not recorded for a diagnostic block", f"extension {name}")
        reader.diagnostic_blocks.append(block)
        return
    steroid = reader.ext(origin, res, "steroid")
    weeks = reader.ext(origin, res, "relief_weeks")
    item["steroid"] = bool(steroid[0]) if steroid else None
    item["relief_percent"] = number(relief[0]) if relief else None
    item["relief_weeks"] = number(weeks[0]) if weeks else None
    if levels:
        reader.ignore(origin, "levels are not recorded for a prior injection", "extension levels")
    reader.prior_injections.append(item)


def procedure_item(
    reader: RecordReader, origin: str, concept: CodeableConcept | None, res: DomainResource
) -> ProcedureItem | None:
    """The injection the codes (and the approach and region extensions) name; None when no code is
    in the map, which leaves the injection history unknown."""
    item: ProcedureItem = {"procedure": None, "approach": None, "region": None}
    matched = False
    for coding in codings(concept):
        if coding.system == reader.codes.maps.local.procedure:
            # "unspecified": an injection the record does not name (kept, kind unknown)
            found: dict[str, str | None] = {"procedure": None if coding.code == "unspecified" else coding.code}
        elif (coding.system, coding.code) in reader.codes.procedures:
            entry = reader.codes.procedures[(coding.system, coding.code)]
            found = {"procedure": entry.procedure, "approach": entry.approach, "region": entry.region}
        else:
            continue
        matched = True
        for name, value in found.items():
            if value is None:
                continue
            if item[name] not in (None, value):
                reader.ignore(origin, f"codes disagree on the {name}: {item[name]} or {value}", f"code {coding.code}")
            else:
                item[name] = value
    if not matched:
        codes = ", ".join(c.code for c in codings(concept)) or concept_text(concept) or "uncoded"
        reader.ignore(
            origin,
            f"procedure not in the map ({codes}): if it was an injection the history is incomplete, so prior "
            "injections are left unknown",
            "code",
            INJECTION_LISTS,
        )
        return None
    for name in ("approach", "region"):
        values = reader.ext(origin, res, name)
        if values and item[name] in (None, str(values[0])):
            item[name] = str(values[0])
        elif values:
            reader.ignore(
                origin,
                f"extension {name} '{values[0]}' disagrees with the code ({item[name]})",
                f"extension {name}",
            )
    return item
