"""AllergyIntolerance: the allergies the case lists; an unmapped allergy leaves the list unknown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from decision.fhir.elements import codings, concept_text, status_code
from decision.fhir.reader import RecordReader

if TYPE_CHECKING:
    from fhir.resources.R4B.allergyintolerance import AllergyIntolerance


def read_allergy(reader: RecordReader, origin: str, res: AllergyIntolerance) -> None:
    verification = status_code(res.verificationStatus)
    clinical = status_code(res.clinicalStatus)
    if verification in ("refuted", "entered-in-error"):
        reader.ignore(origin, f"verification '{verification}'", "verificationStatus")
        return
    if clinical in ("inactive", "resolved"):
        reader.ignore(origin, f"not active ({clinical})", "clinicalStatus")
        return
    if reader.absent(res.code, origin):
        return
    for coding in codings(res.code):
        if coding.system == reader.codes.maps.local.allergy:
            reader.allergies.add(coding.code)
            return
        entry = reader.codes.allergies.get((coding.system, coding.code))
        if entry is not None:
            reader.allergies.add(entry.allergy)
            return
    reader.ignore(
        origin,
        f"allergy not in the map ('{concept_text(res.code) or 'uncoded'}'): it may matter, so the allergy list "
        "is left unknown",
        "code",
        ("allergies",),
    )
