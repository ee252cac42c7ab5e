"""FHIR R4B → Case: read what a record system already holds instead of retyping it.

The translation of codes is data (`knowledge/fhir/codes.yaml`); this package only walks the
resources. Two promises shape it. Nothing the record does not say becomes a case fact: absent
resources leave fields unknown, so the engine asks for them. Nothing the record says is dropped
silently: every resource, code or value that did not become part of the case is returned as
ignored input, with the reason, and the report lists it.

Lists (medications, allergies, prior injections, imaging, diagnoses) follow one rule: a list is
known when the record states it, either by an explicit "none known" (an IPS absent code or an
empty List with emptyReason nilknown) or by at least one entry the case can hold. Unrelated
entries (a penicillin allergy, an appendectomy) neither fill nor close a list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from decision.fhir.assemble import case_data, validated_case
from decision.fhir.elements import reference_key
from decision.fhir.errors import FhirInputError
from decision.fhir.handlers import read_resources
from decision.fhir.imported import ImportedCase
from decision.fhir.parsing import Parsed, parse_resources
from decision.fhir.reader import RecordReader
from knowledge.codemaps import default_codemaps


def case_from_resources(
    resources: Iterable[Mapping[str, Any]], *, now: dt.datetime | None, case_id: str | None = None
) -> ImportedCase:
    """Map loose resources (a CDS Hooks prefetch, a Bundle's entries) to a case.

    `now` is the moment of assessment: the assessment date and "hours since the last dose" count
    from it; None leaves both unknown.
    """
    return guarded(lambda: import_record(list(resources), {}, now, case_id))


def guarded(read: Callable[[], ImportedCase]) -> ImportedCase:
    """A record nested deeper than Python can walk is refused, not a crash."""
    try:
        result = read()
    except RecursionError:
        raise FhirInputError(["the record is nested too deeply to read"]) from None
    return result


def import_record(
    resources: list[object], full_urls: dict[str, str], now: dt.datetime | None, case_id: str | None
) -> ImportedCase:
    """`full_urls`: a Bundle's entry fullUrls, each to the "Type/id" it names."""
    if now is not None and now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    parsed, ignored = parse_resources(resources)
    seen: set[str] = set()
    for label, res in parsed:
        if res.id and label in seen:
            raise FhirInputError([f"{label}: two resources have this id; each must be unique"])
        seen.add(label)
    _check_subjects(parsed, full_urls)
    reader = RecordReader(codes=default_codemaps(), now=now, ignored=ignored, full_urls=full_urls)
    read_resources(parsed, reader)
    if now is None:
        reader.ignore("(record)", "no assessment time (Bundle.timestamp): dates and hours since a dose stay unknown")
    data = case_data(reader, case_id)
    case = validated_case(data, reader)
    return ImportedCase(case=case, ignored_input=reader.ignored)


def _check_subjects(parsed: Parsed, full_urls: dict[str, str]) -> None:
    """All resources must be about one patient: a mixed record would merge two people's facts."""
    patient_keys = {label for label, res in parsed if res.get_resource_type() == "Patient"}
    patient_keys |= {url for url, key in full_urls.items() if key in patient_keys}
    subjects: set[str] = set()
    for _, res in parsed:
        for name in ("subject", "patient"):
            ref = getattr(res, name, None) if name in type(res).model_fields else None
            key = reference_key(ref)
            if key:
                subjects.add(full_urls.get(key, key))
            elif ref is not None:
                raise FhirInputError(
                    [f"{res.get_resource_type()}/{res.id}: {name} has no reference, so whose it is cannot be checked"]
                )
    strangers = subjects - {full_urls.get(k, k) for k in patient_keys}
    if len(strangers) > (0 if patient_keys else 1):
        raise FhirInputError([f"resources refer to more than one patient ({', '.join(sorted(subjects))})"])
