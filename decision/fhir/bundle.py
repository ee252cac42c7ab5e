"""A FHIR Bundle as a case: its entries are the record, its timestamp the moment of assessment."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from pydantic import ValidationError

from decision.fhir.elements import as_datetime
from decision.fhir.errors import FhirInputError, resource_problems
from decision.fhir.imported import ImportedCase
from decision.fhir.parsing import model_class
from decision.fhir.record import guarded, import_record

if TYPE_CHECKING:
    from fhir.resources.R4B.bundle import Bundle


def case_from_bundle(bundle: Mapping[str, Any], *, now: dt.datetime | None = None) -> ImportedCase:
    """A Bundle as a case; `now` defaults to Bundle.timestamp. Raises FhirInputError."""
    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        raise FhirInputError(["expected a FHIR Bundle (resourceType 'Bundle')"])
    shell = {k: v for k, v in bundle.items() if k != "entry"}
    try:
        parsed_shell = cast("Bundle", model_class("Bundle").model_validate(shell))
    except ValidationError as err:
        raise FhirInputError(resource_problems("Bundle", err)) from None
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise FhirInputError(["Bundle.entry: expected a list"])
    resources: list[object] = []
    full_urls: dict[str, str] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("resource"), Mapping):
            raise FhirInputError([f"Bundle.entry[{index}]: expected an object with a resource"])
        resource = entry["resource"]
        resources.append(resource)
        if isinstance(entry.get("fullUrl"), str) and resource.get("id"):
            full_urls[entry["fullUrl"]] = f"{resource.get('resourceType')}/{resource.get('id')}"
    identifier = parsed_shell.identifier
    case_id = str(identifier.value) if identifier is not None and identifier.value else parsed_shell.id
    when = now if now is not None else _bundle_time(bundle.get("timestamp"), parsed_shell.timestamp)
    return guarded(lambda: import_record(resources, full_urls, when, case_id))


def _bundle_time(raw: object, parsed: object) -> dt.datetime | None:
    """Bundle.timestamp as "now": it must be an instant written as text, and not in the future
    (a future "now" would make every last dose look long ago)."""
    if raw is None:
        return None
    when = as_datetime(parsed)
    if not isinstance(raw, str) or when is None or "T" not in raw:
        raise FhirInputError([f"Bundle.timestamp: expected an instant such as 2026-10-01T09:30:00Z, got {raw!r}"])
    if when > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5):
        raise FhirInputError([f"Bundle.timestamp: {raw} is in the future"])
    return when
