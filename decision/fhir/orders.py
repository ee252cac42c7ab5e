"""ServiceRequest: the injection an order being placed asks for (CDS Hooks order-select and order-sign)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, ConfigDict

from decision.fhir.parsing import parse_resources
from decision.fhir.procedures import procedure_item
from decision.fhir.reader import RecordReader
from decision.report import IgnoredInput
from knowledge.codemaps import default_codemaps

if TYPE_CHECKING:
    from fhir.resources.R4B.servicerequest import ServiceRequest


class ProcedureSelection(BaseModel):
    """The injection an order asks for, as far as its codes say (None = not coded)."""

    model_config = ConfigDict(frozen=True)
    procedure: str
    approach: str | None = None
    region: str | None = None


def procedure_from_order(resource: Mapping[str, Any]) -> tuple[ProcedureSelection | None, list[IgnoredInput]]:
    """The procedure a ServiceRequest (an order being placed) asks for, from its code."""
    parsed, ignored = parse_resources([resource], supported=("ServiceRequest",))
    if not parsed:
        return None, [
            IgnoredInput(resource=i.resource, reason="an injection order is read from a ServiceRequest")
            for i in ignored
        ]
    label, res = parsed[0]
    order = cast("ServiceRequest", res)  # the only type parsed here
    reader = RecordReader(codes=default_codemaps(), now=None)
    item = procedure_item(reader, label, order.code, order)
    if item is None or item.get("procedure") is None:
        if item is not None:
            reader.ignore(label, "the code does not say which injection (e.g. facet joint or medial branch)", "code")
        return None, reader.ignored
    return ProcedureSelection.model_validate(item), reader.ignored
