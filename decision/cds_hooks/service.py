"""The CDS Hooks 2.0 service: discovery, patient-view and order-select cards, feedback, health.

Thin: a request is checked (decision.cds_hooks.wire), its prefetch becomes a case (decision.cds_hooks.prefetch,
decision.fhir), the engine evaluates it, cards are written from the report (decision.cds_hooks.cards), and
the case, its report and the cards issued are stored (decision.store) so that the MDT can open the case
from the card's link and feedback reaches the audit trail. Nothing else is kept between requests,
so identical replicas can sit behind a load balancer over one shared store.

What is stored is the case as mapped (no names, no FHIR ids: the case id is a random token) and
the report. Logs are one JSON line per request without patient data: no patient id, no resource
content, no exception message (it could quote either).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from decision.cds_hooks.calls import (
    CdsHooksService,
)
from decision.cds_hooks.fhir_client import fetch_prefetch
from decision.cds_hooks.prefetch import prefetch_templates
from decision.cds_hooks.protocol import (
    BODY_READ_SECONDS,
    MAX_BODY_BYTES,
    SERVICES,
    Caller,
    Fetch,
    HttpProblem,
    discovery,
    problem_response,
    utc_now,
)
from decision.reload import shared_reloader
from decision.settings import Settings, load_settings
from knowledge.problems import ProblemError

logger = logging.getLogger("spine_cds.service")


# -- HTTP ----------------------------------------------------------------------------------


def _frames(exc: BaseException) -> list[str]:
    """Where an unexpected error happened (file:line function), without its message or values."""
    return [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in traceback.extract_tb(exc.__traceback__)]


async def read_body(request: Request) -> bytes:
    """The body, refused by its Content-Length before any of it is read, counted while it streams
    (a body without a length, or lying about it), and within BODY_READ_SECONDS."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise HttpProblem(413, "request too large", [f"(body): more than {MAX_BODY_BYTES} bytes"])
    body = bytearray()
    try:
        async with asyncio.timeout(BODY_READ_SECONDS):
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_BODY_BYTES:
                    raise HttpProblem(413, "request too large", [f"(body): more than {MAX_BODY_BYTES} bytes"])
    except TimeoutError:
        raise HttpProblem(
            408, "request body too slow", [f"(body): not received within {BODY_READ_SECONDS:g} s"]
        ) from None
    return bytes(body)


def create_app(
    settings: Settings | None = None, *, clock: Callable[[], dt.datetime] = utc_now, fetch: Fetch = fetch_prefetch
) -> FastAPI:
    """The service with `settings` (default: from the environment); `clock` and `fetch` are
    replaceable so tests can fix the time and stand in for a FHIR server."""
    service = CdsHooksService(settings or load_settings(), clock, fetch)
    prefetch_templates()  # loads the code maps now, not during the first call (CDS clients wait ~500 ms)
    app = FastAPI(
        title="spine-cds CDS Hooks service",
        version=shared_reloader().evaluator().version,
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service
    if service.settings.service_allow_unauthenticated:
        logger.warning(
            json.dumps(
                {
                    "event": "unauthenticated",
                    "warning": "CDS Hooks calls are answered WITHOUT authentication: a local demo only, never a "
                    "deployment (name the trusted EHRs with --trust)",
                }
            )
        )
    if service.settings.service_allow_origins:
        # Browser-based CDS clients (e.g. the CDS Hooks sandbox) call across origins: only those named.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(service.settings.service_allow_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )

    @app.middleware("http")
    async def one_log_line(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        request.state.log = {}
        try:
            response = await call_next(request)
        except Exception as exc:
            logger.error(json.dumps({"event": "internal_error", "error": type(exc).__name__, "at": _frames(exc)}))
            response = JSONResponse({"error": "internal error; the service logged where it happened"}, status_code=500)
        route = request.scope.get("route")
        line = {
            "event": "request",
            "method": request.method,
            "route": getattr(route, "path", "(no route)"),
            "service": request.path_params.get("service_id") if route else None,
            **request.state.log,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        }
        if line["service"] not in SERVICES:
            line["service"] = None  # an unknown id is the client's text, not ours to log
        logger.info(json.dumps(line))
        return response

    @app.get("/cds-services")
    def get_discovery() -> dict[str, Any]:
        return discovery()

    async def checked_caller(request: Request) -> Caller:
        """The caller authenticated from the headers alone, before any of the body is read."""
        audience = service.audience(str(request.url))
        return await run_in_threadpool(
            service.caller, request.headers.get("authorization"), audience, request.state.log
        )

    def refused(problem: ProblemError) -> Response:
        response = problem_response(problem)
        if isinstance(problem, HttpProblem) and problem.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response

    @app.post("/cds-services/{service_id}")
    async def post_hook(service_id: str, request: Request) -> Response:
        """Checked and evaluated on the request threads; the fetching from a FHIR server, which may be
        slow, on the fetch pool, so that no request thread waits for it."""
        try:
            caller = await checked_caller(request)
            raw = await read_body(request)
            log = request.state.log
            prepared = await run_in_threadpool(service.prepare, service_id, raw, log, caller)
            if isinstance(prepared, dict):
                return JSONResponse(prepared)
            fetched, failed = await asyncio.get_running_loop().run_in_executor(
                service.fetch_pool, service.fetch_for, prepared
            )
            body = await run_in_threadpool(service.finish, prepared, fetched, failed, log)
        except ProblemError as problem:
            return refused(problem)
        return JSONResponse(body)

    @app.post("/cds-services/{service_id}/feedback")
    async def post_feedback(service_id: str, request: Request) -> Response:
        try:
            caller = await checked_caller(request)
            raw = await read_body(request)
            body = await run_in_threadpool(service.feedback, service_id, raw, request.state.log, caller)
        except ProblemError as problem:
            return refused(problem)
        return JSONResponse(body)

    @app.get("/health")
    def get_health() -> Response:
        status, body = service.health()
        return JSONResponse(body, status_code=status)

    return app
