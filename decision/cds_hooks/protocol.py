"""CDS Hooks 2.0 as this service speaks it: the services it offers (discovery), the limits on a
request, how a request body is read and checked, and how a refusal becomes an HTTP answer."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from decision.cds_hooks.prefetch import PrefetchError, prefetch_templates
from decision.cds_hooks.trust import (
    UNAUTHENTICATED,
    ClientIdentity,
    TrustedClient,
)
from decision.cds_hooks.wire import (
    DiscoveryService,
    Hook,
    HookRequest,
    OrderSelectContext,
    PatientViewContext,
    dump,
    problems,
)
from decision.evaluator import InvalidCase
from decision.fhir import FhirInputError
from decision.store import StoreError, StoreUnavailable
from knowledge.loader import KnowledgeError
from knowledge.problems import ProblemError

logger = logging.getLogger("spine_cds.service")

MAX_BODY_BYTES = 10 * 1024 * 1024
BODY_READ_SECONDS = 10.0
"""A request body not received within this is refused (a client dripping bytes holds nothing long)."""
FETCH_WORKERS = 8
"""Calls fetching from a FHIR server at once; more wait for nothing (their keys are reported unfetched),
and fetching never takes the threads that /health and the other calls run on."""
STORED_SOURCE = "cds-hooks"
ISSUED_ACTION = "CDS Hooks cards issued"
FEEDBACK_ACTION = "CDS Hooks feedback"


@dataclass(frozen=True)
class Caller:
    """Who called (an authenticated issuer, or nobody in the local demo) and that issuer's configuration."""

    identity: ClientIdentity = UNAUTHENTICATED
    client: TrustedClient | None = None


@dataclass(frozen=True)
class ServiceDefinition:
    id: str
    hook: Hook
    title: str
    description: str
    context: type[PatientViewContext]


SERVICES: dict[str, ServiceDefinition] = {
    service.id: service
    for service in (
        ServiceDefinition(
            id="spine-cds-order-select",
            hook="order-select",
            title="spine-cds: image-guided spinal injection order check",
            description="When an image-guided spinal injection is ordered (ServiceRequest coded in CPT or "
            "spine-cds's procedure codes), assesses it against the patient's record with the spine-cds "
            "knowledge base: indicated, with caution, information needed, deferred or contraindicated, "
            "with the rules and sources, and a safer approach or image guidance where the knowledge gives one.",
            context=OrderSelectContext,
        ),
        ServiceDefinition(
            id="spine-cds-patient-view",
            hook="patient-view",
            title="spine-cds: image-guided spinal injection candidates",
            description="When a patient's record is opened, lists the image-guided spinal injections the "
            "spine-cds knowledge base finds for the recorded spinal diagnoses, red flags first, with what "
            "is missing before a decision and the rules and sources behind each statement.",
            context=PatientViewContext,
        ),
    )
}


USAGE = (
    "FHIR R4B. Keys not prefetched are fetched from fhirServer when fhirAuthorization is given; otherwise "
    "what they would say stays unknown, spine-cds asks for it, and the cards name the keys missing."
)


class HttpProblem(ProblemError):
    """A request refused by the service itself, with its HTTP status and what is wrong."""

    def __init__(self, status: int, error: str, details: list[str] | None = None) -> None:
        self.status = status
        self.title = error
        super().__init__(details or [])


HTTP_STATUS: dict[type[ProblemError], tuple[int, str]] = {
    PrefetchError: (422, "invalid prefetch"),
    FhirInputError: (422, "invalid FHIR in the prefetch"),
    InvalidCase: (422, "the record does not make a valid case"),
    StoreUnavailable: (503, "the case store cannot write now; nothing was stored, send it again later"),
    StoreError: (409, "the case store refused the request"),
    KnowledgeError: (503, "the knowledge base is not valid"),
    ProblemError: (422, "invalid request"),
}
"""Every refusal's HTTP status and error, found by the error's class (its nearest listed base).
The problems sent are the ones that never quote a given value (they may be patient data)."""


def problem_response(problem: ProblemError) -> JSONResponse:
    if isinstance(problem, HttpProblem):
        status, error = problem.status, problem.title
    else:
        status, error = next(HTTP_STATUS[cls] for cls in type(problem).__mro__ if cls in HTTP_STATUS)
    body: dict[str, Any] = {"error": error}
    if problem.problems:
        body["problems"] = problem.problems
    return JSONResponse(body, status_code=status)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


Fetch = Callable[..., tuple[dict[str, Any], list[str]]]
"""Runs the prefetch templates on the client's FHIR server, `fetch(server, token, templates, patient_id,
limits)`: (resources by key, keys that failed)."""


def discovery() -> dict[str, Any]:
    templates = prefetch_templates()
    return {
        "services": [
            dump(
                DiscoveryService(
                    hook=s.hook,
                    title=s.title,
                    description=s.description,
                    id=s.id,
                    prefetch=templates,
                    usageRequirements=USAGE,
                )
            )
            for s in SERVICES.values()
        ]
    }


def json_body(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_BODY_BYTES:
        raise HttpProblem(413, "request too large", [f"(body): more than {MAX_BODY_BYTES} bytes"])

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise HttpProblem(400, "the body is not JSON", ["(body): expected a JSON object (UTF-8)"]) from None
    if not isinstance(data, dict):
        raise HttpProblem(422, "invalid request", ["(body): expected a JSON object"])
    return data


Model = TypeVar("Model", bound=BaseModel)
Context = TypeVar("Context", bound=PatientViewContext)


def validated(model: type[Model], data: Any, prefix: str = "") -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise HttpProblem(422, "invalid request", problems(exc, prefix)) from None


def hook_request(data: dict[str, Any], context_model: type[Context]) -> tuple[HookRequest, Context]:
    """The request and its hook's context, every problem of both reported at once."""
    found: list[str] = []
    request = context = None
    try:
        request = HookRequest.model_validate(data)
    except ValidationError as exc:
        found += problems(exc)
    if isinstance(data.get("context"), dict):
        try:
            context = context_model.model_validate(data["context"])
        except ValidationError as exc:
            found += problems(exc, "context")
    if found or request is None or context is None:
        raise HttpProblem(422, "invalid request", found)
    return request, context
