"""CDS Hooks 2.0 on the wire: the requests spine-cds accepts and the cards it answers with.

The models follow the specification's tables (https://cds-hooks.hl7.org/2.0/) so that a malformed
request is refused with the field named, and a response cannot leave the shapes the spec allows.
The spec forbids null and empty values for optional fields ("implementers MUST omit it"), so
responses are always dumped with `dump()`, which drops them.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from knowledge.problems import validation_problems

WIRE = ConfigDict(extra="forbid", frozen=True)
REQUEST = ConfigDict(extra="forbid", frozen=True, strict=True)
SUMMARY_MAX = 139
"""The spec asks for a "<140-character summary"."""

UUID_PATTERN = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
Hook = Literal["patient-view", "order-select"]
Indicator = Literal["info", "warning", "critical"]


def dump(model: BaseModel) -> dict[str, Any]:
    """JSON-ready, with every unset optional attribute omitted (the spec forbids null and empty)."""
    data: dict[str, Any] = model.model_dump(mode="json", exclude_none=True)
    return data


# -- response ------------------------------------------------------------------------------


class Coding(BaseModel):
    model_config = WIRE
    code: str = Field(min_length=1)
    system: str = Field(min_length=1)
    display: str | None = None


class Source(BaseModel):
    model_config = WIRE
    label: str = Field(min_length=1)
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None


class Action(BaseModel):
    model_config = WIRE
    type: Literal["create", "update", "delete"]
    description: str = Field(min_length=1)
    resource: dict[str, Any] | None = None
    resourceId: str | None = None


class Suggestion(BaseModel):
    model_config = WIRE
    label: str = Field(min_length=1)
    uuid: str | None = None
    isRecommended: bool | None = None
    actions: list[Action] | None = Field(default=None, min_length=1)


class Link(BaseModel):
    model_config = WIRE
    label: str = Field(min_length=1)
    url: str = Field(min_length=1)
    type: Literal["absolute", "smart"]
    appContext: str | None = None
    autolaunchable: bool | None = None


class Card(BaseModel):
    model_config = WIRE
    uuid: str | None = None
    summary: str = Field(min_length=1, max_length=SUMMARY_MAX)
    detail: str | None = None
    indicator: Indicator
    source: Source
    suggestions: list[Suggestion] | None = Field(default=None, min_length=1)
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[Coding] | None = Field(default=None, min_length=1)
    links: list[Link] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _selection_with_suggestions(self) -> Card:
        if self.suggestions and self.selectionBehavior is None:
            raise ValueError("suggestions need a selectionBehavior")
        return self


class DiscoveryService(BaseModel):
    model_config = WIRE
    hook: Hook
    title: str
    description: str
    id: str
    prefetch: dict[str, str]
    usageRequirements: str | None = None


# -- request -------------------------------------------------------------------------------


class FhirAuthorization(BaseModel):
    model_config = REQUEST
    access_token: str = Field(min_length=1)
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str
    subject: str
    patient: str | None = None


class HookRequest(BaseModel):
    """The body every hook call shares; `context` is checked per hook (PatientViewContext...)."""

    model_config = REQUEST
    hook: str = Field(min_length=1)
    hookInstance: str
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None
    extension: dict[str, Any] | None = None

    @field_validator("hookInstance")
    @classmethod
    def _uuid(cls, value: str) -> str:
        if not UUID_PATTERN.match(value):
            raise ValueError("expected a UUID")
        return value

    @field_validator("fhirServer")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("expected the absolute base URL of a FHIR server")
        return value

    @model_validator(mode="after")
    def _server_with_token(self) -> HookRequest:
        if self.fhirAuthorization is not None and self.fhirServer is None:
            raise ValueError("fhirServer is required when fhirAuthorization is given")
        return self


class PatientViewContext(BaseModel):
    """patient-view 1.0 context. Extra fields are allowed: hooks add context fields in new versions."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)
    userId: str = Field(min_length=1)
    patientId: str = Field(min_length=1)
    encounterId: str | None = None


class OrderSelectContext(PatientViewContext):
    """order-select 1.0 context: the newly selected order ids and the draft orders Bundle."""

    selections: list[str] = Field(min_length=1)
    draftOrders: dict[str, Any]

    @field_validator("draftOrders")
    @classmethod
    def _bundle(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("resourceType") != "Bundle":
            raise ValueError("expected a FHIR Bundle (resourceType 'Bundle')")
        if not isinstance(value.get("entry", []), list):
            raise ValueError("entry: expected a list")
        return value


class AcceptedSuggestion(BaseModel):
    model_config = REQUEST
    id: str = Field(min_length=1)


class OverrideReason(BaseModel):
    model_config = REQUEST
    reason: Coding | None = None
    userComment: str | None = Field(default=None, max_length=4000)


class FeedbackItem(BaseModel):
    model_config = REQUEST
    card: str = Field(min_length=1)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = None
    overrideReason: OverrideReason | None = None
    outcomeTimestamp: str

    @field_validator("outcomeTimestamp")
    @classmethod
    def _timestamp(cls, value: str) -> str:
        if not re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$", value):
            raise ValueError("expected an ISO 8601 date and time with a zone (e.g. 2021-12-11T10:05:31Z)")
        return value

    @model_validator(mode="after")
    def _accepted_needs_suggestions(self) -> FeedbackItem:
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("acceptedSuggestions is required for an accepted outcome")
        return self


class FeedbackRequest(BaseModel):
    model_config = REQUEST
    feedback: list[FeedbackItem] = Field(min_length=1, max_length=200)


def problems(error: ValidationError, prefix: str = "") -> list[str]:
    """Lines of "field: what is wrong"; the given values are not echoed (they may be patient data)."""
    return validation_problems(
        error,
        echo_values=False,
        prefix=prefix,
        whole="(body)",
        unknown_field="unknown field (not part of CDS Hooks 2.0)",
    )
