"""List: a spine-cds list code with emptyReason nilknown says a case list is known to be empty."""

from __future__ import annotations

from typing import TYPE_CHECKING

from decision.fhir.case_fields import LIST_FIELDS
from decision.fhir.elements import codings, status_code
from decision.fhir.reader import RecordReader

if TYPE_CHECKING:
    from fhir.resources.R4B.list import List as FhirList


def read_list(reader: RecordReader, origin: str, res: FhirList) -> None:
    codes = [c.code for c in codings(res.code) if c.system == reader.codes.maps.local.list]
    if not codes or codes[0] not in LIST_FIELDS:
        reader.ignore(origin, "List is read only for spine-cds list codes (a 'none known' statement)", "code")
        return
    reason = status_code(res.emptyReason)
    if res.entry:
        reader.ignore(origin, "List entries are read from the resources themselves, not from the List", "entry")
    elif res.status == "current" and reason == "nilknown":
        reader.stated_none[codes[0]] = origin
    else:
        reader.ignore(
            origin,
            f"empty List without 'nilknown' ({reason or 'no reason'}): {codes[0]} stays unknown",
            "emptyReason",
        )
