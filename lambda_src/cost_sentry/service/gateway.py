"""The gateway service: authenticate -> validate -> resolve model -> reserve -> Bedrock -> settle/release.

Transport-free: a surface (cost_sentry.surfaces) asks with an ``ApiCall`` and renders the typed answer
(service/results.py) in its own wire format. Each request runs in one ``telemetry.track`` (one EMF
document, one log line, the outcome decided once); the steps live in their own rooms: what can refuse
before anything is spent (service/preparing.py), the ledger's hold (here, ``_admit``), and what the hold
becomes after the call (service/settling.py). Refusals and failures are raised as ``GatewayError`` on
every path.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Generator, Iterator
from typing import Any

from cost_sentry.adapters import bedrock
from cost_sentry.adapters.bedrock import BedrockClients, StreamEnd, TextDelta
from cost_sentry.adapters.config_store import ConfigStore
from cost_sentry.adapters.ledger import Ledger, Reservation
from cost_sentry.core import guardrails
from cost_sentry.core.catalog import Catalog, default_catalog
from cost_sentry.core.cost_report import CostReport
from cost_sentry.core.errors import GatewayError, UpstreamFailed
from cost_sentry.core.log import RequestLogger
from cost_sentry.core.metrics import MetricsEmitter
from cost_sentry.core.money import nanos_to_usd
from cost_sentry.core.outcomes import CallEnd
from cost_sentry.core.periods import period_label
from cost_sentry.core.pricing import Usage
from cost_sentry.core.resolvers import ProfileResolver
from cost_sentry.core.settings import Settings
from cost_sentry.core.validation import parse_user
from cost_sentry.service.budget_status import budget_document
from cost_sentry.service.preparing import Preparer
from cost_sentry.service.results import (
    ApiCall,
    Attribution,
    Completion,
    Done,
    ModelList,
    Settled,
    StreamEvent,
)
from cost_sentry.service.settling import PreparedCall, Settler, held_report
from cost_sentry.service.telemetry import Telemetry, Trace

# Shadow mode (a tenant's enforce = false): the limit that would have denied an admitted request.
WOULD_DENY_HEADER = "x-cost-sentry-would-deny"


class GatewayService:
    def __init__(
        self,
        *,
        settings: Settings,
        config_store: ConfigStore,
        ledger: Ledger,
        resolver: ProfileResolver,
        bedrock_clients: BedrockClients,
        metrics: MetricsEmitter,
        request_logger: RequestLogger,
        catalog: Catalog | None = None,
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.perf_counter,
        user_budgets: Any = None,  # cost_sentry.adapters.user_budget.UserBudgetReader
    ) -> None:
        self.user_budgets = user_budgets
        self.settings = settings
        self.config_store = config_store
        self.ledger = ledger
        self.request_logger = request_logger
        self.catalog = catalog or default_catalog()
        self.telemetry = Telemetry(metrics, request_logger, clock, timer)
        self.preparer = Preparer(
            settings=settings,
            config_store=config_store,
            catalog=self.catalog,
            resolver=resolver,
            bedrock_clients=bedrock_clients,
        )
        self.settler = Settler(ledger, request_logger, clock)
        self._clock = clock

    @property
    def resolver(self) -> ProfileResolver:
        return self.preparer.resolver

    @property
    def bedrock_clients(self) -> BedrockClients:
        return self.preparer.bedrock_clients

    # -- model calls ----------------------------------------------------------------------------

    def converse(self, call: ApiCall) -> Completion:
        """One buffered call: the whole answer, settled."""
        with self.telemetry.track(call) as trace:
            prepared, reservation = self._admit(call, trace, stream=False)
            try:
                result = bedrock.converse(prepared.client, prepared.arguments)
            except BaseException as exc:
                # bedrock.converse has already mapped the error to the caller's answer; what the
                # reservation becomes is the outcome table's (core/outcomes.py).
                self.settler.end_failed_call(prepared, reservation, trace, _call_end(exc), exc)
                raise
            trace.completion = result.text
            usage = result.usage or Usage(result.input_tokens, result.output_tokens)
            report = self.settler.settle(prepared, reservation, trace, usage)
            settled = self._settled(prepared, reservation, usage, report, result.stop_reason, result.trace)
            return Completion(
                **vars(settled),
                text=result.text,
                content=result.content,
                additional_fields=result.additional_fields,
            )

    def stream(
        self, call: ApiCall, on_hold: Callable[[CostReport], None] | None = None
    ) -> Generator[StreamEvent, None, None]:
        """ConverseStream: ``Delta`` and ``Event`` as they arrive, then one ``Done``.

        A refusal raises GatewayError from the first ``next()``, before anything can have been sent; a
        failure later raises it from the ``next()`` where it happened (the surface ends its stream with
        its own error event). ``on_hold`` is told the worst case held before the first event: a stream's
        headers leave before its cost is known.
        """
        with self.telemetry.track(call) as trace:
            prepared, reservation = self._admit(call, trace, stream=True)
            if on_hold is not None:
                on_hold(held_report(reservation))
            events = self._open(prepared, reservation, trace)
            end = yield from self._relay(events, prepared, reservation, trace)
            usage = end.usage or Usage(end.input_tokens, end.output_tokens)
            report = self.settler.settle(prepared, reservation, trace, usage)
            yield Done(
                **vars(self._settled(prepared, reservation, usage, report, end.stop_reason, end.trace))
            )

    def _open(self, prepared: PreparedCall, reservation: Reservation, trace: Trace) -> Iterator[Any]:
        """Start ConverseStream and wait for its first event: the call's refusals arrive here."""
        try:
            stream = bedrock.open_stream(prepared.client, prepared.arguments)
        except BaseException as exc:
            self.settler.end_failed_call(prepared, reservation, trace, _call_end(exc), exc)
            raise
        events = bedrock.iter_stream(stream)
        try:
            first = next(events)
        except BaseException as exc:
            # The stream had opened (HTTP 200): the model was admitted, so a break before any text is
            # still charged at the worst case (core/outcomes.py).
            self.settler.end_failed_call(
                prepared, reservation, trace, CallEnd.STREAM_BROKEN_BEFORE_CONTENT, exc
            )
            if isinstance(exc, StopIteration):
                raise UpstreamFailed("bedrock_stream_incomplete", "the Bedrock stream was empty") from None
            raise
        return _chain(first, events)

    def _relay(
        self, events: Iterator[Any], prepared: PreparedCall, reservation: Reservation, trace: Trace
    ) -> Generator[StreamEvent, None, StreamEnd]:
        """Each event to the caller as it comes; returns the stream's end (its usage)."""
        parts: list[str] = []
        content = False
        try:
            for event in events:
                if isinstance(event, StreamEnd):
                    trace.completion = "".join(parts)
                    return event
                if isinstance(event, TextDelta):
                    parts.append(event.text)
                content = content or _is_content(event)
                yield event
            # bedrock.iter_stream ends with a StreamEnd or raises: a stream without one is a broken one.
            raise UpstreamFailed("bedrock_stream_incomplete", "the Bedrock stream ended without its usage")
        except BaseException as exc:
            # The stream broke (or the consumer went away) after Bedrock started generating. Bedrock
            # bills what it processed, which we cannot know: charge the worst case we reserved (an
            # over-charge of at most the unused max_tokens, credited back when CUR proves it) rather
            # than release it and lose spend that happened.
            trace.completion = "".join(parts)
            broken = CallEnd.STREAM_BROKEN_AFTER_CONTENT if content else CallEnd.STREAM_BROKEN_BEFORE_CONTENT
            self.settler.end_failed_call(prepared, reservation, trace, broken, exc)
            if isinstance(exc, Exception) and not isinstance(exc, GatewayError):
                raise bedrock.map_bedrock_error(exc) from exc
            raise

    def _admit(self, call: ApiCall, trace: Trace, *, stream: bool) -> tuple[PreparedCall, Reservation]:
        """Everything that can refuse, then the worst case held in the ledger (or a limit's denial)."""
        prepared = self.preparer.prepare(call, trace, stream=stream)
        trace.reserved_nanos = prepared.worst.cost_nanos
        reservation = self.ledger.reserve(
            prepared.tenant,
            call.request_id,
            prepared.worst,
            user=prepared.user,
            reload_tenant=self.config_store.reload_tenant,
            # What the sweep records (at the worst case) if this request never settles.
            record=self.settler.call_record(prepared, trace, estimated=True),
        )
        trace.admitted = True
        if reservation.would_deny is not None:
            trace.would_deny = reservation.would_deny
            self.request_logger.warn(
                "would_deny",
                requestId=call.request_id,
                tenant=prepared.tenant.tenant_id,
                user=prepared.user,
                reason=reservation.would_deny,
                reservedUsd=nanos_to_usd(reservation.nanos),
            )
        return prepared, reservation

    def _settled(
        self,
        prepared: PreparedCall,
        reservation: Reservation,
        usage: Usage,
        report: CostReport,
        stop_reason: str | None,
        trace: dict[str, Any] | None,
    ) -> Settled:
        """What every settled answer reports, buffered or streamed."""
        tenant = prepared.tenant
        return Settled(
            request_id=reservation.request_id,
            model=prepared.spec.short_name,
            model_id=prepared.profile_arn,
            usage=usage,
            cost=report,
            stop_reason=stop_reason,
            # Bedrock's trace as the caller gets it: the guardrail part only when the caller asked.
            trace=trace if prepared.guardrail_trace_asked else guardrails.without_guardrail_trace(trace),
            limit_nanos=reservation.limit_nanos,
            period_label=period_label(tenant.budget_period, self._clock()),
            period_type=tenant.budget_period,
            attribution=Attribution(
                application_id=tenant.application_id,
                cost_center=tenant.cost_center,
                environment=tenant.environment,
                user=prepared.user,
                timestamp=self.settler.timestamp(),
            ),
        )

    # -- other routes -----------------------------------------------------------------------------

    def budget(self, call: ApiCall) -> dict[str, Any]:
        """The caller's budget now (``GET /v1/budget``): the tenant's, its pace, and the user's own."""
        with self.telemetry.track(call) as trace:
            tenant = self.preparer.authenticate(call, trace)
            user = parse_user(call.user_header)
            trace.user = user
            status = self.ledger.period_status(tenant)
            user_status = None
            if user is not None and self.user_budgets is not None:
                user_status = self.user_budgets.status(tenant, user)
            return budget_document(call.request_id, tenant, status, user_status, self._clock())

    def models(self, call: ApiCall) -> ModelList:
        """The caller's models (short names, the default first) and aliases: ``GET /v1/models``."""
        with self.telemetry.track(call) as trace:
            tenant = self.preparer.authenticate(call, trace)
            names = [tenant.default_model, *(n for n in tenant.models if n != tenant.default_model)]
            return ModelList(
                models=tuple(
                    (name, self.catalog.get(name).family) for name in names if name in self.catalog.models
                ),
                aliases=dict(tenant.model_aliases),
            )

    def reject(self, call: ApiCall, error: GatewayError) -> None:
        """A request the transport already refused (unknown route, undecodable body): still measured."""
        try:
            with self.telemetry.track(call):
                raise error
        except GatewayError:
            pass


def _is_content(event: Any) -> bool:
    """Text, tool input or reasoning: what the model generated (not the stream's framing events)."""
    return isinstance(event, TextDelta) or "contentBlockDelta" in getattr(event, "event", {})


def _call_end(exc: BaseException) -> CallEnd:
    """How a Bedrock call that raised ended; a consumer that went away is not Bedrock's refusal."""
    if isinstance(exc, Exception):
        return bedrock.call_end_of(exc)
    return CallEnd.CONNECTION_LOST  # GeneratorExit, KeyboardInterrupt: the request had left


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


def new_request_id() -> str:
    return str(uuid.uuid4())


__all__ = ["ApiCall", "Completion", "Done", "GatewayService", "ModelList", "new_request_id"]
