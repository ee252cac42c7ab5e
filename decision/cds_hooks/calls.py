"""The work of a CDS Hooks call: authenticate the caller, gather the prefetch (fetching what is
missing from the caller's FHIR server within bounds), evaluate, write and store the cards, record
feedback, report health. The HTTP layer (decision.cds_hooks.service) only moves bytes."""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from decision.case import Case
from decision.cds_hooks.cards import CardWriter, IssuedCard
from decision.cds_hooks.fhir_client import FetchLimits
from decision.cds_hooks.prefetch import Gathered, PrefetchError, about_another_patient, gather, prefetch_templates
from decision.cds_hooks.protocol import (
    FEEDBACK_ACTION,
    FETCH_WORKERS,
    ISSUED_ACTION,
    SERVICES,
    STORED_SOURCE,
    Caller,
    Fetch,
    HttpProblem,
    ServiceDefinition,
    hook_request,
    json_body,
    validated,
)
from decision.cds_hooks.trust import (
    AuthenticationError,
    Authenticator,
    ClientIdentity,
    is_loopback_host,
    normalised_base,
    trusted_clients,
)
from decision.cds_hooks.wire import (
    FeedbackRequest,
    HookRequest,
    OrderSelectContext,
    dump,
)
from decision.fhir import FhirInputError, case_from_resources, evaluate_imported, procedure_from_order
from decision.reload import shared_reloader
from decision.report import Report, candidate_key
from decision.settings import Settings
from decision.store import CardRecord, CaseStore, StoreError, StoreUnavailable
from decision.store.replay import UsedTokens

logger = logging.getLogger("spine_cds.service")


@dataclass(frozen=True)
class SelectedOrder:
    label: str
    resource: dict[str, Any]


@dataclass
class PreparedCall:
    """A hook call checked and ready to be answered, with what is to be fetched from the FHIR server."""

    service: ServiceDefinition
    request: HookRequest
    patient_id: str
    user_id: str
    orders: list[SelectedOrder]
    caller: Caller
    wanted: dict[str, str] = field(default_factory=dict)
    limits: FetchLimits = field(default_factory=FetchLimits)


def _hidden_fetched(found: list[str], fetched: list[str]) -> list[str]:
    """Problems about resources the service fetched itself, without their ids or content: they came
    from the EHR's server, not from the caller, and the caller may not be the one who may read them."""
    if not fetched:
        return found
    shown: list[str] = []
    for problem in found:
        key = next((k for k in fetched if problem.startswith(f"prefetch.{k}:")), None)
        if key is not None:
            problem = f"fhirServer ({key}): the FHIR server's answer could not be used"
        elif not problem.startswith("prefetch."):
            problem = "fhirServer: the FHIR server's answers do not make a valid record"
        if problem not in shown:
            shown.append(problem)
    return shown


class CdsHooksService:
    """The hooks' work, apart from HTTP: request in, cards out, case and cards stored."""

    def __init__(self, settings: Settings, clock: Callable[[], dt.datetime], fetch: Fetch) -> None:
        self.settings = settings
        self.clock = clock
        self.fetch = fetch
        self.authenticator = Authenticator(trusted_clients(settings), shared=self._first_use_anywhere)
        self.fetch_pool = ThreadPoolExecutor(FETCH_WORKERS, thread_name_prefix="spine-cds-fhir-fetch")
        self._fetch_slots = threading.BoundedSemaphore(FETCH_WORKERS)
        self._case_store: CaseStore | None = None
        self._used_tokens: UsedTokens | None = None
        self._store_lock = threading.Lock()
        self._feedback_lock = threading.Lock()

    # -- callers -------------------------------------------------------------------------
    def audience(self, url: str) -> str:
        """The URL called, as the EHR named it: the configured public URL and the path, else the URL received."""
        parts = urlsplit(url)
        if self.settings.service_url:
            return f"{self.settings.service_url.rstrip('/')}{parts.path}"
        return f"{parts.scheme}://{parts.netloc}{parts.path}"

    def caller(self, authorization: str | None, audience: str, log: dict[str, Any]) -> Caller:
        """The authenticated caller; in the local demo (allow_unauthenticated) a call without a token is
        let through as "not authenticated", and a call with one is still checked."""
        if self.settings.service_allow_unauthenticated and not authorization:
            return Caller()
        try:
            identity, client = self.authenticator.authenticate(authorization, audience)
        except AuthenticationError as refused:
            log["auth_refused"] = refused.reason
            raise HttpProblem(401, "not authenticated", [refused.told]) from None
        log["issuer"] = identity.issuer
        return Caller(identity, client)

    @property
    def store(self) -> CaseStore:
        """Opened on first use and again after a failure: a store that is down when the service
        starts must not keep the cards from going out (they go without a link and feedback)."""
        with self._store_lock:
            if self._case_store is None:
                self._case_store = CaseStore(self.settings.database_url, settings=self.settings)
            return self._case_store

    def _first_use_anywhere(self, issuer: str, jti: str, expires: float, purge_before: float) -> bool:
        """The token's first use on the case store's database, which every replica shares."""
        store = self.store
        with self._store_lock:
            if self._used_tokens is None or self._used_tokens.engine is not store.engine:
                self._used_tokens = UsedTokens(store.engine)
            used = self._used_tokens
        return used.first_use(issuer, jti, expires, purge_before)

    # -- hooks ---------------------------------------------------------------------------
    def call(self, service_id: str, raw: bytes, log: dict[str, Any], caller: Caller | None = None) -> dict[str, Any]:
        """A hook call answered in one go (the HTTP route runs the same steps, the fetching on its own pool)."""
        prepared = self.prepare(service_id, raw, log, caller or Caller())
        if isinstance(prepared, dict):
            return prepared
        fetched, failed = self.fetch_for(prepared)
        return self.finish(prepared, fetched, failed, log)

    def prepare(
        self, service_id: str, raw: bytes, log: dict[str, Any], caller: Caller
    ) -> PreparedCall | dict[str, Any]:
        """The request checked; a dict is the answer already (nothing selected that spine-cds reads)."""
        service = self.service(service_id)
        data = json_body(raw)
        if isinstance(data.get("hook"), str) and data["hook"] != service.hook:
            raise HttpProblem(
                400, "wrong hook for this service", [f"hook: {service.id} answers '{service.hook}', not this hook"]
            )
        request, context = hook_request(data, service.context)
        log["hook"], log["hookInstance"] = request.hook, request.hookInstance
        orders = self._selected_orders(context) if isinstance(context, OrderSelectContext) else []
        if isinstance(context, OrderSelectContext) and not orders:
            log["cards"] = 0
            return {"cards": []}  # nothing selected is an order spine-cds reads (a ServiceRequest)
        prepared = PreparedCall(service, request, context.patientId, context.userId, orders, caller)
        not_sent = {key: t for key, t in prefetch_templates().items() if key not in (request.prefetch or {})}
        if not_sent and request.fhirServer and request.fhirAuthorization:
            configured = caller.client.fhir_base if caller.client else None
            if configured is None or normalised_base(request.fhirServer) != configured:
                raise HttpProblem(
                    422,
                    "fhirServer not allowed",
                    ["fhirServer: not the FHIR server configured for this CDS client; send the prefetch instead"],
                )
            assert caller.client is not None
            prepared.wanted = not_sent
            prepared.limits.private_addresses_allowed = caller.client.fhir_private_network or is_loopback_host(
                urlsplit(configured).hostname or ""
            )
        return prepared

    def fetch_for(self, prepared: PreparedCall) -> tuple[dict[str, Any], list[str]]:
        """Runs on the fetch pool; a call that finds every slot taken fetches nothing (its keys are
        reported unfetched on the cards) rather than queueing behind slow servers."""
        if not prepared.wanted or prepared.request.fhirServer is None or prepared.request.fhirAuthorization is None:
            return {}, []
        if not self._fetch_slots.acquire(blocking=False):
            logger.warning(json.dumps({"event": "fetch_pool_full"}))
            return {}, list(prepared.wanted)
        try:
            token = prepared.request.fhirAuthorization.access_token
            server = normalised_base(prepared.request.fhirServer)
            return self.fetch(server, token, prepared.wanted, prepared.patient_id, prepared.limits)
        finally:
            self._fetch_slots.release()

    def finish(
        self, prepared: PreparedCall, fetched: dict[str, Any], failed: list[str], log: dict[str, Any]
    ) -> dict[str, Any]:
        given: dict[str, Any] = {**dict(prepared.request.prefetch or {}), **fetched}
        templates = prefetch_templates()
        try:
            gathered = gather(given, prepared.patient_id, {k: v for k, v in templates.items() if k not in failed})
        except PrefetchError as exc:
            raise PrefetchError(_hidden_fetched(exc.problems, list(fetched))) from None
        gathered.unfetched = failed
        case_id = secrets.token_urlsafe(12)
        case, report = self._evaluate(gathered, case_id, prepared.patient_id, list(fetched))
        who = prepared.caller.identity.who(prepared.user_id)
        issued = self._cards(prepared.service, prepared.request, case, report, gathered, prepared.orders, who)
        log["cards"] = len(issued)
        return {"cards": [dump(item.card) for item in issued]}

    def service(self, service_id: str) -> ServiceDefinition:
        found = SERVICES.get(service_id)
        if found is None:
            raise HttpProblem(404, "unknown service", [f"no CDS service has the id '{service_id[:100]}'"])
        return found

    def _selected_orders(self, context: OrderSelectContext) -> list[SelectedOrder]:
        """The selected ServiceRequests; other selected orders (medications, diets) are not ours."""
        by_reference: dict[str, dict[str, Any]] = {}
        for entry in context.draftOrders.get("entry") or []:
            resource = entry.get("resource") if isinstance(entry, Mapping) else None
            if isinstance(resource, Mapping) and resource.get("resourceType") and resource.get("id"):
                by_reference[f"{resource['resourceType']}/{resource['id']}"] = dict(resource)
        orders, missing = [], []
        for index, selection in enumerate(context.selections):
            resource = by_reference.get(selection)
            if resource is None:
                missing.append(f"context.selections.{index}: not an entry of context.draftOrders")
            elif about_another_patient(resource, context.patientId):
                missing.append(f"context.selections.{index}: the order is for another patient than context.patientId")
            elif resource["resourceType"] == "ServiceRequest":
                orders.append(SelectedOrder(selection, resource))
        if missing:
            raise HttpProblem(422, "invalid request", missing)
        return orders

    def _evaluate(self, gathered: Gathered, case_id: str, patient_id: str, fetched: list[str]) -> tuple[Case, Report]:
        try:
            imported = case_from_resources(gathered.resources, now=self.clock(), case_id=case_id)
        except FhirInputError as exc:
            found = _hidden_fetched(_by_key(gathered) or exc.problems, fetched)
            raise HttpProblem(422, "invalid FHIR in the prefetch", found) from None
        report = evaluate_imported(imported, self.settings.service_policy, evaluate=shared_reloader().evaluate)
        return imported.case, _without_patient_id(report, patient_id)

    def _cards(
        self,
        service: ServiceDefinition,
        request: HookRequest,
        case: Case,
        report: Report,
        gathered: Gathered,
        orders: list[SelectedOrder],
        who: str,
    ) -> list[IssuedCard]:
        writer = CardWriter(
            knowledge=shared_reloader().evaluator().knowledge,
            link_url=f"{self.settings.ui_url.rstrip('/')}/?case={case.case_id}",
            notes=tuple(gathered.notes()),
        )
        issued, titles = self._write(writer, service, report, orders)
        worth_storing = bool(report.candidates or report.red_flags) and any(item.card.uuid for item in issued)
        if not worth_storing or not self._save(service, request, case, report, issued, titles, who):
            # Without a stored case there is nothing to link to and no feedback to take; when it
            # should have been stored and was not, the cards say so.
            anonymous = CardWriter(writer.knowledge, None, writer.notes, new_id=lambda: None, not_stored=worth_storing)
            issued, _ = self._write(anonymous, service, report, orders)
        return issued

    @staticmethod
    def _write(
        writer: CardWriter, service: ServiceDefinition, report: Report, orders: list[SelectedOrder]
    ) -> tuple[list[IssuedCard], list[str]]:
        if service.hook == "patient-view":
            return writer.patient_view(report), []
        issued: list[IssuedCard] = []
        titles: list[str] = []
        assessed: list[IssuedCard] = []
        for order in orders:
            try:
                selection, ignored = procedure_from_order(order.resource)
            except FhirInputError as exc:
                raise HttpProblem(422, "invalid order", [f"context.draftOrders: {p}" for p in exc.problems]) from None
            if selection is None:
                issued.append(writer.not_assessed(order.label, ignored))
                continue
            term = writer.knowledge.vocabulary.procedures.get(selection.procedure)
            titles.append(term.label if term else selection.procedure)
            assessed += writer.order(report, order.resource, selection)
        if assessed:
            issued = writer.red_flags(report) + assessed + issued
        return issued, titles

    def _save(
        self,
        service: ServiceDefinition,
        request: HookRequest,
        case: Case,
        report: Report,
        issued: list[IssuedCard],
        titles: list[str],
        who: str,
    ) -> bool:
        """The mapped case (no names, no FHIR ids: its id is a random token), its report and the cards."""
        case_id = case.case_id or secrets.token_urlsafe(12)
        records = [
            CardRecord(
                card_uuid=item.card.uuid,
                candidate=candidate_key(item.candidate.procedure, item.candidate.approach, item.candidate.region)
                if item.candidate
                else item.about,
                indicator=item.card.indicator,
                suggestions=tuple(s.uuid for s in item.card.suggestions or [] if s.uuid),
            )
            for item in issued
            if item.card.uuid
        ]
        title = f"CDS Hooks {service.hook}" + (f": {', '.join(dict.fromkeys(titles))}" if titles else "")
        stored_case = json.loads(case.model_dump_json(exclude_none=True))
        try:
            self.store.save_case(stored_case, report, title, who=who, source=STORED_SOURCE, case_id=case_id)
            self.store.record_issued_cards(case_id, service.id, request.hookInstance, records, who=who)
        except Exception as exc:  # the cards still go out, without a link and without uuids
            logger.error(json.dumps({"event": "store_failed", "error": type(exc).__name__}))
            return False
        return True

    # -- feedback ------------------------------------------------------------------------
    def feedback(
        self, service_id: str, raw: bytes, log: dict[str, Any], caller: Caller | None = None
    ) -> dict[str, Any]:
        """Feedback on cards this service issued to the same issuer, once per card and outcome; a card
        issued to another client is answered as unknown (whether it exists is not told)."""
        with self._feedback_lock:  # the check for an earlier outcome and the write are one step
            return self._feedback(service_id, raw, log, caller or Caller())

    def _feedback(self, service_id: str, raw: bytes, log: dict[str, Any], caller: Caller) -> dict[str, Any]:
        service = self.service(service_id)
        request = validated(FeedbackRequest, json_body(raw))
        try:
            store = self.store
        except Exception as exc:
            logger.error(json.dumps({"event": "store_failed", "error": type(exc).__name__}))
            raise HttpProblem(503, "the case store is not reachable; send the feedback again later") from None
        unknown, strangers, repeated = [], [], []
        users: list[str | None] = []
        given: set[tuple[str, str]] = set()
        for index, item in enumerate(request.feedback):
            card = store.issued_card(item.card)
            trail = store.audit_trail(card.case_id) if card is not None else []
            issued = next(
                (
                    entry
                    for entry in trail
                    if entry.action == ISSUED_ACTION
                    and any(c.get("card") == item.card for c in entry.details.get("cards") or [])
                ),
                None,
            )
            if (
                card is None
                or card.service_id != service.id
                or issued is None
                or ClientIdentity.issuer_in(issued.who) != caller.identity.issuer
            ):
                unknown.append(f"feedback.{index}.card: no card with this uuid was issued by {service.id}")
                continue
            users.append(ClientIdentity.user_in(issued.who))
            earlier = any(
                entry.action == FEEDBACK_ACTION
                and entry.details.get("card") == item.card
                and entry.details.get("outcome") == item.outcome
                for entry in trail
            )
            if earlier or (item.card, item.outcome) in given:
                repeated.append(f"feedback.{index}: this outcome was already recorded for this card")
            given.add((item.card, item.outcome))
            for number, accepted in enumerate(item.acceptedSuggestions or []):
                if accepted.id not in card.suggestions:
                    strangers.append(f"feedback.{index}.acceptedSuggestions.{number}.id: not a suggestion of this card")
        if unknown:
            raise HttpProblem(404, "unknown card", unknown)
        if strangers:
            raise HttpProblem(422, "invalid feedback", strangers)
        if repeated:
            raise HttpProblem(409, "feedback already recorded", repeated)
        for item, user_id in zip(request.feedback, users, strict=True):
            reason = item.overrideReason
            try:
                store.record_feedback(
                    item.card,
                    item.outcome,
                    [s.id for s in item.acceptedSuggestions or []],
                    dump(reason.reason) if reason and reason.reason else None,
                    reason.userComment if reason else None,
                    item.outcomeTimestamp,
                    who=caller.identity.who(user_id),
                )
            except StoreUnavailable:
                raise
            except StoreError as exc:  # issued between the check and now cannot vanish; kept for safety
                raise HttpProblem(404, "unknown card", exc.problems) from None
        log["feedback"] = len(request.feedback)
        return {"recorded": len(request.feedback)}

    # -- health --------------------------------------------------------------------------
    def health(self) -> tuple[int, dict[str, Any]]:
        knowledge = shared_reloader().status()
        try:
            reachable = self.store.ping()
        except Exception:
            reachable = False
        body = {
            "status": "ok" if reachable else "degraded",
            "knowledge_version": knowledge.version,
            "knowledge_hash": knowledge.content_hash,
            # An edit that could not be used: the last good release keeps answering (named by the
            # version and hash above); the problems themselves are for `spine-cds kb validate`.
            "knowledge_edit_refused": knowledge.error is not None,
            "engine_version": shared_reloader().evaluator().version,
            "store_reachable": reachable,
            "services": list(SERVICES),
        }
        return (200 if reachable else 503), body


def _by_key(gathered: Gathered) -> list[str]:
    """Invalid resources named by their prefetch key (run again key by key, on the error path only)."""
    found = []
    for key in dict.fromkeys(gathered.keys_of):
        resources = [r for r, k in zip(gathered.resources, gathered.keys_of, strict=True) if k == key]
        try:
            case_from_resources(resources, now=None)
        except FhirInputError as exc:
            found += [f"prefetch.{key}: {problem}" for problem in exc.problems]
    return found


def _without_patient_id(report: Report, patient_id: str) -> Report:
    """The report to show and store, with the FHIR patient id taken out of the ignored-input labels."""
    marker = f"Patient/{patient_id}"
    cleaned = [
        item.model_copy(update={"resource": item.resource.replace(marker, "Patient")}) for item in report.ignored_input
    ]
    return report.model_copy(update={"ignored_input": cleaned})
