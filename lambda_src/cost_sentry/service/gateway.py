"""The gateway service: authenticate -> validate -> resolve model -> reserve -> Bedrock -> settle/release.

Transport-free: the Lambda handler (handlers/gateway.py) and any streaming front call it with an
``ApiCall`` and shape what it returns. Every request leaves one EMF document and one log line.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from cost_sentry.adapters import bedrock, sagemaker
from cost_sentry.adapters.bedrock import BedrockClients, ConverseResult, RawEvent, StreamEnd, TextDelta
from cost_sentry.adapters.config_store import ConfigStore
from cost_sentry.adapters.ledger import CallRecord, Ledger, Reservation, utc_timestamp
from cost_sentry.core import guardrails
from cost_sentry.core.catalog import Catalog, ModelSpec, default_catalog
from cost_sentry.core.converse import ConverseRequest, check_against_model, parse_json_api
from cost_sentry.core.cost_report import CostBasis, CostReport
from cost_sentry.core.errors import (
    BadRequest,
    Forbidden,
    GatewayError,
    LimitExceeded,
    Unauthorized,
    UpstreamFailed,
    iso_time,
)
from cost_sentry.core.estimate import WorstCase, worst_case_for
from cost_sentry.core.log import RequestLog, RequestLogger
from cost_sentry.core.metrics import MetricsEmitter, RequestMetrics
from cost_sentry.core.money import nanos_to_usd
from cost_sentry.core.outcomes import CallEnd, Settlement, settlement_for
from cost_sentry.core.pacing import Pace, pace_at
from cost_sentry.core.periods import period_label
from cost_sentry.core.pricing import Usage
from cost_sentry.core.resolvers import ProfileResolver, resolve_model_name
from cost_sentry.core.settings import Settings
from cost_sentry.core.tenants import TenantConfig
from cost_sentry.core.validation import parse_user

RequestParser = Callable[[bytes, int], ConverseRequest]
# Shadow mode (a tenant's enforce = false): the limit that would have denied an admitted request.
WOULD_DENY_HEADER = "x-cost-sentry-would-deny"


@dataclass(frozen=True)
class ApiCall:
    """One HTTP request as the gateway needs it (no transport details)."""

    request_id: str
    api_key_id: str | None
    body: bytes = b""
    user_header: str | None = None
    route: str = "converse"
    # How the body becomes the content model: each surface brings its own (the seed's by default).
    parser: RequestParser = parse_json_api
    # Streams: False yields the seed's text deltas only; True every Converse event ({"type": "event"}).
    raw_events: bool = False
    # A surface's own check of the resolved model, before anything is reserved (InvokeModel's body
    # format is the model family's own); it raises BadRequest to refuse.
    model_check: Callable[[ModelSpec], None] | None = None


@dataclass(frozen=True)
class ApiResult:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    # The whole Bedrock answer (content blocks, usage with cache fields, tier) for the surfaces.
    reply: ConverseResult | None = None
    usage: Usage | None = None
    # What a model call cost and what is left (every surface's cost headers); None for other routes.
    cost: CostReport | None = None


@dataclass(frozen=True)
class PreparedCall:
    tenant: TenantConfig
    user: str | None
    principal: str | None
    request: ConverseRequest
    spec: ModelSpec
    profile_arn: str
    arguments: dict[str, Any]
    worst: WorstCase
    client: Any
    # The caller asked for the guardrail trace (the gateway always asks Bedrock for it: it is the bill).
    guardrail_trace_asked: bool = False


@dataclass
class _Trace:
    """What the request did, filled in as it goes; becomes the metrics document and the log line."""

    call: ApiCall
    started: float
    tenant: TenantConfig | None = None
    user: str | None = None
    model: str | None = None
    profile_arn: str | None = None
    approved: bool = False
    denied: bool = False
    failed: bool = False
    rejected: bool = False
    underestimated: bool = False
    settle_failed: bool = False
    # Shadow mode: the code of the limit that would have denied this request (it was admitted).
    would_deny: str | None = None
    call_end: str | None = None
    status: int = 500
    code: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_nanos: int = 0
    reserved_nanos: int | None = None
    completion: str | None = None
    request: ConverseRequest | None = None
    usage: Usage | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        if self.denied:
            return "denied"
        if self.approved:
            return "failed" if self.failed else "succeeded"
        return "rejected" if self.rejected else ("succeeded" if self.status < 400 else "error")


def model_metric(profile_arn: str) -> str:
    """The profile id (last ARN segment) for inference profiles, else the model id itself."""
    if ":application-inference-profile/" in profile_arn or ":inference-profile/" in profile_arn:
        return profile_arn.rsplit("/", 1)[-1]
    return profile_arn.rsplit("/", 1)[-1] if profile_arn.startswith("arn:") else profile_arn


def error_body(error: GatewayError, request_id: str) -> dict[str, Any]:
    return {"error": {"code": error.code, "message": error.message, **error.details, "requestId": request_id}}


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
        self.resolver = resolver
        self.bedrock_clients = bedrock_clients
        self.metrics = metrics
        self.request_logger = request_logger
        self.catalog = catalog or default_catalog()
        self._clock = clock
        self._timer = timer

    # -- routes ----------------------------------------------------------------------------------

    def converse(self, call: ApiCall) -> ApiResult:
        trace = _Trace(call=call, started=self._timer())
        try:
            prepared = self._prepare(call, trace, stream=False)
            reservation = self._reserve(prepared, trace)
            try:
                result = bedrock.converse(prepared.client, prepared.arguments)
            except BaseException as exc:
                # bedrock.converse has already mapped the error to the caller's answer; what the
                # reservation becomes is the outcome table's (core/outcomes.py).
                trace.failed = True
                self._end_failed_call(prepared, reservation, trace, _call_end(exc), exc)
                raise
            trace.completion = result.text
            report = self._settle(
                prepared, reservation, trace, result.input_tokens, result.output_tokens, result.usage
            )
            body = self._success_body(prepared, trace, report, reservation.limit_nanos)
            body["output"] = {"text": result.text}
            body["stopReason"] = result.stop_reason
            result = replace(result, trace=_answer_trace(prepared, result.trace))
            return self._finish(trace, ApiResult(200, body, reply=result, usage=trace.usage, cost=report))
        except GatewayError as error:
            return self._finish(trace, self._error_result(call, error, trace))
        except Exception as exc:
            return self._finish(trace, self._internal_error(call, exc, trace))

    def iter_stream_events(
        self, call: ApiCall, on_hold: Callable[[CostReport], None] | None = None
    ) -> Generator[dict[str, Any], None, None]:
        """ConverseStream as events: ``{"type": "delta", "text"}``..., then ``{"type": "done", ...}``.

        Anything refused before the first event raises GatewayError from the first ``next()``, so a
        front can still answer with the right status; a failure after that ends with a ``{"type":
        "error"}`` event. ``on_hold`` is told the worst case held before the first event is yielded: a
        stream's headers leave before its cost is known. With ``raw_events`` the ``done`` event carries
        the settled ``CostReport`` as ``costReport``.
        """
        trace = _Trace(call=call, started=self._timer())
        emitted = False
        try:
            prepared = self._prepare(call, trace, stream=True)
            reservation = self._reserve(prepared, trace)
            if on_hold is not None:
                on_hold(_held_report(reservation))
            try:
                stream = bedrock.open_stream(prepared.client, prepared.arguments)
            except BaseException as exc:
                trace.failed = True
                self._end_failed_call(prepared, reservation, trace, _call_end(exc), exc)
                raise
            events = bedrock.iter_stream(stream)
            try:
                first = next(events)
            except BaseException as exc:
                # The stream had opened (HTTP 200): the model was admitted, so a break before any
                # text is still charged at the worst case (core/outcomes.py).
                trace.failed = True
                self._end_failed_call(prepared, reservation, trace, CallEnd.STREAM_BROKEN_BEFORE_CONTENT, exc)
                if isinstance(exc, StopIteration):
                    raise UpstreamFailed(
                        "bedrock_stream_incomplete", "the Bedrock stream was empty"
                    ) from None
                raise
            parts: list[str] = []
            end: StreamEnd | None = None
            try:
                for event in _chain(first, events):
                    if isinstance(event, TextDelta):
                        parts.append(event.text)
                        emitted = True
                        yield _text_event(event, call.raw_events)
                    elif isinstance(event, RawEvent):
                        if call.raw_events:
                            emitted = True
                            yield {"type": "event", "event": event.event}
                    else:
                        end = event
            except BaseException as exc:
                # The stream broke (or the consumer went away) after Bedrock started generating. Bedrock
                # bills what it processed, which we cannot know: charge the worst case we reserved
                # (an over-charge of at most the unused max_tokens, credited back when CUR proves it)
                # rather than release it and lose spend that happened.
                trace.failed = True
                trace.completion = "".join(parts)
                broken = (
                    CallEnd.STREAM_BROKEN_AFTER_CONTENT if emitted else CallEnd.STREAM_BROKEN_BEFORE_CONTENT
                )
                self._end_failed_call(prepared, reservation, trace, broken, exc)
                if isinstance(exc, GeneratorExit):
                    raise
                error = bedrock.map_bedrock_error(exc) if isinstance(exc, Exception) else None
                if error is None:
                    raise
                if not emitted:
                    # Nothing reached the caller yet (only events this surface does not show), so the
                    # front can still answer with the error's own status.
                    raise error from exc
                trace.status, trace.code = error.status, error.code
                yield {"type": "error", **error_body(error, call.request_id)}
                return
            assert end is not None  # iter_stream always ends with StreamEnd or raises
            trace.completion = "".join(parts)
            report = self._settle(
                prepared, reservation, trace, end.input_tokens, end.output_tokens, end.usage
            )
            body = self._success_body(prepared, trace, report, reservation.limit_nanos)
            body["stopReason"] = end.stop_reason
            trace.status = 200
            if call.raw_events:
                body["usageDetail"] = trace.usage
                body["costReport"] = report
                shown = _answer_trace(prepared, end.trace)
                if shown is not None:
                    body["trace"] = shown  # the metadata event's trace, as far as the caller asked
            yield {"type": "done", **body}
        except GatewayError as error:
            if emitted:  # pragma: no cover - errors after the first event are handled above
                raise
            trace.status, trace.code = error.status, error.code
            trace.rejected = trace.rejected or not (trace.approved or trace.denied)
            raise
        finally:
            self._emit(trace)

    def budget(self, call: ApiCall) -> ApiResult:
        trace = _Trace(call=call, started=self._timer())
        try:
            tenant = self._authenticate(call, trace)
            user = parse_user(call.user_header)
            trace.user = user
            status = self.ledger.period_status(tenant)
            body = {
                "requestId": call.request_id,
                "tenantId": tenant.tenant_id,
                "period": status.period_key.removeprefix("PERIOD#"),
                "periodType": tenant.budget_period,
                "limitUsd": nanos_to_usd(status.limit_nanos),
                "spentUsd": nanos_to_usd(status.spent_nanos),
                "heldUsd": nanos_to_usd(status.held_nanos),
                "remainingUsd": nanos_to_usd(status.available_nanos),
                "requests": status.requests,
                "inputTokens": status.input_tokens,
                "outputTokens": status.output_tokens,
                "tokensRemaining": status.tokens_available,
                "blocked": status.blocked,
                "enforce": tenant.enforce,
            }
            now = self._clock()
            if tenant.pace is not None:
                spent_or_held = status.limit_nanos - status.available_nanos
                body["pace"] = _pace_report(tenant.pace, status.limit_nanos, spent_or_held, tenant, now)
            if user is not None and self.user_budgets is not None:
                user_status = self.user_budgets.status(tenant, user)
                body["user"] = user_block = _user_budget(user_status)
                if tenant.user_pace is not None and user_status.limit_nanos is not None:
                    user_block["pace"] = _pace_report(
                        tenant.user_pace,
                        user_status.limit_nanos,
                        user_status.limit_nanos - (user_status.available_nanos or 0),
                        tenant,
                        now,
                    )
            return self._finish(trace, ApiResult(200, body))
        except GatewayError as error:
            return self._finish(trace, self._error_result(call, error, trace))
        except Exception as exc:
            return self._finish(trace, self._internal_error(call, exc, trace))

    def models(self, call: ApiCall) -> ApiResult:
        """The caller's models (short names, the default first) and aliases: ``GET /v1/models``."""
        trace = _Trace(call=call, started=self._timer())
        try:
            tenant = self._authenticate(call, trace)
            names = [tenant.default_model, *(n for n in tenant.models if n != tenant.default_model)]
            body = {
                "requestId": call.request_id,
                "models": [
                    {"id": name, "family": self.catalog.get(name).family}
                    for name in names
                    if name in self.catalog.models
                ],
                "aliases": dict(tenant.model_aliases),
            }
            return self._finish(trace, ApiResult(200, body))
        except GatewayError as error:
            return self._finish(trace, self._error_result(call, error, trace))
        except Exception as exc:
            return self._finish(trace, self._internal_error(call, exc, trace))

    def reject(self, call: ApiCall, error: GatewayError) -> ApiResult:
        """A request the transport already refused (unknown route, undecodable body): still measured."""
        trace = _Trace(call=call, started=self._timer())
        return self._finish(trace, self._error_result(call, error, trace))

    # -- steps -----------------------------------------------------------------------------------

    def _authenticate(self, call: ApiCall, trace: _Trace) -> TenantConfig:
        if not call.api_key_id:
            raise Unauthorized("missing_api_key", "an API key (x-api-key) is required")
        tenant = self.config_store.tenant_for_api_key(call.api_key_id)
        if tenant is None:
            raise Unauthorized("unknown_api_key", "the API key is not assigned to any tenant")
        trace.tenant = tenant
        return tenant

    def _prepare(self, call: ApiCall, trace: _Trace, *, stream: bool) -> PreparedCall:
        tenant = self._authenticate(call, trace)
        request = call.parser(call.body, self.settings.max_body_bytes)
        trace.request = request
        user = parse_user(call.user_header)
        trace.user = user
        if user is None and tenant.has_user_budgets and not tenant.allow_anonymous:
            # A request without a user would spend the tenant's budget past every per-user cap.
            raise Forbidden(
                "user_required",
                "this tenant has per-user budgets: send x-cost-sentry-user, or use a per-user key or "
                "an OIDC token (users.allow_anonymous lets requests without a user through)",
            )
        tags = request.tags
        # The tenant comes from the API key, never from the body: tags can only confirm it.
        for name, given, expected in (
            ("applicationId", tags.application_id if tags else None, tenant.application_id),
            ("costCenter", tags.cost_center if tags else None, tenant.cost_center),
            ("environment", tags.environment if tags else None, tenant.environment),
        ):
            if given is not None and given != expected:
                raise Forbidden(
                    "tag_mismatch", f"tags.{name} {given!r} does not belong to this API key's tenant"
                )
        model = self._model_name(tenant, request.model)
        trace.model = model
        spec = self.catalog.get(model)
        if call.model_check is not None:
            call.model_check(spec)
        # Every model route runs in the streaming function in AWS (/v1/converse too, its body in one
        # piece), so each has the function's limit: a request is refused only if it cannot finish there.
        max_tokens = check_against_model(request, spec, self.settings.generation_limit_seconds())
        profile_arn = self.resolver.profile_arn(tenant, model)
        trace.profile_arn = profile_arn
        # Bedrock's invocation logs carry these, so a log line joins the ledger's call record and CUR 2.0;
        # the caller's own requestMetadata keys travel beside them (reserved names are refused).
        metadata = bedrock.request_metadata(tenant, user, call.request_id, model)
        arguments = bedrock.build_converse_request(profile_arn, spec, request, max_tokens, metadata)
        if request.guardrail_config is not None:
            guardrails.check_guardrail_config(request.guardrail_config, stream)
            if spec.guardrail_rates is None:
                raise BadRequest(
                    "guardrails_not_priced",
                    "the model catalog has no guardrail prices: remove guardrailConfig",
                )
            # Bedrock reports the units a guardrail billed only in its trace: always ask for it.
            arguments["guardrailConfig"] = guardrails.traced(request.guardrail_config)
        # Before reserving: a refused session (bad user, STS down) must not touch the ledger. A shared
        # SageMaker endpoint (adapters/sagemaker.py) gets its own Converse-shaped client.
        client = sagemaker.client_for(self.bedrock_clients, tenant, user, profile_arn, call.route)
        return PreparedCall(
            tenant=tenant,
            user=user,
            principal=self.bedrock_clients.principal_for(tenant, user),
            request=request,
            spec=spec,
            profile_arn=profile_arn,
            arguments=arguments,
            worst=worst_case_for(spec, request, max_tokens, stream=stream, sent=arguments),
            client=client,
            guardrail_trace_asked=guardrails.caller_wants_trace(request.guardrail_config),
        )

    def _model_name(self, tenant: TenantConfig, requested: str | None) -> str:
        """Short name, alias, base model or system profile id, or one of the tenant's own profile ARNs."""
        if requested is not None and requested.startswith("arn:"):
            for name, arn in tenant.models.items():
                if arn == requested:
                    return name
            if ":application-inference-profile/" in requested:
                # Never another tenant's profile: only the key's own tenant's profiles are usable.
                raise Forbidden(
                    "profile_not_allowed", "the inference profile is not one of this API key's tenant's"
                )
        return resolve_model_name(tenant, requested, self.catalog)

    def _reserve(self, prepared: PreparedCall, trace: _Trace) -> Reservation:
        trace.reserved_nanos = prepared.worst.cost_nanos
        try:
            reservation = self.ledger.reserve(
                prepared.tenant,
                trace.call.request_id,
                prepared.worst,
                user=prepared.user,
                reload_tenant=self.config_store.reload_tenant,
                # What the sweep records (at the worst case) if this request never settles.
                record=self._call_record(prepared, trace, estimated=True),
            )
        except LimitExceeded:
            trace.denied = True
            raise
        trace.approved = True
        if reservation.would_deny is not None:
            trace.would_deny = reservation.would_deny
            self.request_logger.warn(
                "would_deny",
                requestId=trace.call.request_id,
                tenant=prepared.tenant.tenant_id,
                user=prepared.user,
                reason=reservation.would_deny,
                reservedUsd=nanos_to_usd(reservation.nanos),
            )
        return reservation

    def _end_failed_call(
        self,
        prepared: PreparedCall,
        reservation: Reservation,
        trace: _Trace,
        end: CallEnd,
        exc: BaseException,
    ) -> None:
        """Apply the outcome table: release only what Bedrock certainly did not bill."""
        trace.call_end = end.value
        # Bedrock's own words (which can name the calling role) go to the log line, not the caller.
        cause = exc.__cause__ or exc
        trace.warnings.append(f"bedrock_error: {type(cause).__name__}: {str(cause)[:500]}")
        if settlement_for(end) is Settlement.RELEASE:
            self._release(reservation, trace)
        else:
            self._settle_estimated(prepared, reservation, trace)

    def _release(self, reservation: Reservation, trace: _Trace) -> None:
        try:
            self.ledger.release(reservation)
        except Exception as exc:
            # The hold stays and the ledger's sweep charges it at expiry: never a refund on a guess.
            trace.warnings.append(f"release_failed: {exc}")

    def _call_record(self, prepared: PreparedCall, trace: _Trace, estimated: bool = False) -> CallRecord:
        return CallRecord(
            request_id=trace.call.request_id,
            timestamp=self._timestamp(),
            principal=prepared.principal or "",
            api_key_id=trace.call.api_key_id or "",
            user=prepared.user,
            model=prepared.spec.short_name,
            model_id=prepared.profile_arn,
            application_id=prepared.tenant.application_id,
            cost_center=prepared.tenant.cost_center,
            environment=prepared.tenant.environment,
            input_tokens=trace.input_tokens,
            output_tokens=trace.output_tokens,
            cost_nanos=trace.cost_nanos,
            estimated=estimated,
        )

    def _settle(
        self,
        prepared: PreparedCall,
        reservation: Reservation,
        trace: _Trace,
        input_tokens: int,
        output_tokens: int,
        usage: Usage | None = None,
    ) -> CostReport:
        """Settle the actual usage (every priced field of it); returns what the ledger now holds for it."""
        usage = usage or Usage(input_tokens, output_tokens)
        trace.usage = usage
        # Cache reads and writes are input the model processed: the ledger's token counts include them.
        trace.input_tokens, trace.output_tokens = usage.total_input_tokens, usage.output_tokens
        request = prepared.request
        # A guardrail ran but Bedrock did not say what it evaluated: its worst case, marked estimated.
        guardrail_unknown = request.guardrail_config is not None and (
            usage.guardrail is None or not usage.guardrail.complete
        )
        trace.cost_nanos = prepared.spec.usage_cost_nanos(
            replace(usage, guardrail=None) if guardrail_unknown else usage,
            requested_tier=request.service_tier,
            undetailed_write_ttl="1h" if "1h" in request.cache_ttls else "5m",
        )
        if guardrail_unknown:
            trace.cost_nanos += prepared.worst.guardrail_nanos
            trace.warnings.append("guardrail_usage_missing")
        worst = prepared.worst
        if trace.cost_nanos > reservation.nanos or usage.total_tokens > worst.tokens:
            trace.underestimated = True
            trace.warnings.append("reservation_underestimated")
        written = self._write_settlement(
            prepared, reservation, trace, estimated=False, record_estimated=guardrail_unknown
        )
        if written is _Written.SETTLED:
            basis = CostBasis.ESTIMATED if guardrail_unknown else CostBasis.SETTLED
            return _settled_report(reservation, trace.cost_nanos, basis)
        if written is _Written.SWEPT:
            # The sweep had charged the hold its worst case (marked estimated): that is the ledger's record.
            return _settled_report(reservation, reservation.nanos, CostBasis.ESTIMATED)
        return _held_report(reservation)  # the settle failed: the sweep charges the hold at expiry

    def _settle_estimated(self, prepared: PreparedCall, reservation: Reservation, trace: _Trace) -> None:
        trace.input_tokens, trace.output_tokens = prepared.worst.input_tokens, prepared.worst.output_tokens
        trace.cost_nanos = reservation.nanos
        self._write_settlement(prepared, reservation, trace, estimated=True)

    def _write_settlement(
        self,
        prepared: PreparedCall,
        reservation: Reservation,
        trace: _Trace,
        *,
        estimated: bool,
        record_estimated: bool = False,
    ) -> _Written:
        """``estimated``: charge the whole reservation; ``record_estimated``: settle trace.cost_nanos
        (part of which is a worst case, e.g. a guardrail whose usage is unknown), marked estimated."""
        record = self._call_record(prepared, trace, estimated or record_estimated)
        try:
            if estimated:
                result = self.ledger.charge_worst_case(reservation, record)
            else:
                result = self.ledger.settle(reservation, record)
        except Exception as exc:
            # Bedrock answered and charged: the caller gets the answer, the hold stays (charged at
            # expiry), and the log line carries the full call record so reconciliation can find it.
            trace.settle_failed = True
            trace.warnings.append(f"settle_failed: {type(exc).__name__}")
            self.request_logger.warn(
                "settle_failed",
                requestId=record.request_id,
                error=f"{type(exc).__name__}: {exc}",
                record=record.__dict__,
            )
            return _Written.FAILED
        if result.hold_was_reclaimed:
            trace.warnings.append("hold_reclaimed_before_settle")
            return _Written.SWEPT
        return _Written.SETTLED

    def _timestamp(self) -> str:
        return utc_timestamp(self._clock())

    def _success_body(
        self, prepared: PreparedCall, trace: _Trace, report: CostReport, limit_nanos: int
    ) -> dict[str, Any]:
        tenant = prepared.tenant
        trace.status = 200
        usage: dict[str, Any] = {
            "inputTokens": trace.input_tokens,
            "outputTokens": trace.output_tokens,
            "totalTokens": trace.input_tokens + trace.output_tokens,
        }
        # The seed's shape exactly; cache fields only ever appear for the surfaces that can cache.
        if trace.usage is not None and (trace.usage.cache_read_tokens or trace.usage.cache_write_tokens):
            usage["cacheReadInputTokens"] = trace.usage.cache_read_tokens
            usage["cacheWriteInputTokens"] = trace.usage.cache_write_tokens
        budget = {
            "period": period_label(tenant.budget_period, self._clock()),
            "periodType": tenant.budget_period,
            "limitUsd": nanos_to_usd(limit_nanos),
            "remainingUsd": nanos_to_usd(report.remaining_nanos),
        }
        if report.user_remaining_nanos is not None:
            budget["userRemainingUsd"] = nanos_to_usd(report.user_remaining_nanos)
        if report.would_deny is not None:
            budget["wouldDeny"] = report.would_deny
        return {
            "requestId": trace.call.request_id,
            "model": prepared.spec.short_name,
            "modelId": prepared.profile_arn,
            "usage": usage,
            # The cost as the ledger holds it (core/cost_report.py), the same figure as the cost headers.
            "cost": {"usd": nanos_to_usd(report.cost_nanos), "basis": report.basis.value},
            "budget": budget,
            "tags": {
                "applicationId": tenant.application_id,
                "costCenter": tenant.cost_center,
                "environment": tenant.environment,
                "requestId": trace.call.request_id,
                "timestamp": self._timestamp(),
                "modelMetric": model_metric(prepared.profile_arn),
                "user": prepared.user,
            },
        }

    # -- results and telemetry -------------------------------------------------------------------

    def _error_result(self, call: ApiCall, error: GatewayError, trace: _Trace) -> ApiResult:
        trace.status, trace.code = error.status, error.code
        if not (trace.approved or trace.denied):
            trace.rejected = True
        return ApiResult(error.status, error_body(error, call.request_id), dict(error.headers))

    def _internal_error(self, call: ApiCall, exc: Exception, trace: _Trace) -> ApiResult:
        trace.warnings.append(f"internal_error: {type(exc).__name__}: {exc}")
        # Not "nothing was charged": a hold left by a failure after reserving is charged when it expires.
        error = GatewayError("internal_error", "the gateway failed unexpectedly; its log has this requestId")
        if trace.approved:
            trace.failed = True
        return self._error_result(call, error, trace)

    def _finish(self, trace: _Trace, result: ApiResult) -> ApiResult:
        trace.status = result.status
        self._emit(trace)
        return result

    def _emit(self, trace: _Trace) -> None:
        # One EMF document and one log line per request, whatever the route or outcome.
        self._emit_metrics(trace)
        self._log(trace)

    def _emit_metrics(self, trace: _Trace) -> None:
        tenant = trace.tenant
        profile = trace.profile_arn
        self.metrics.emit(
            RequestMetrics(
                model=trace.model or "unknown",
                model_id=model_metric(profile) if profile else "unknown",
                cost_center=tenant.cost_center if tenant else "unknown",
                application=tenant.application_id if tenant else "unknown",
                environment=tenant.environment if tenant else "unknown",
                approved=trace.approved,
                denied=trace.denied,
                failed=trace.failed,
                rejected=trace.rejected,
                underestimated=trace.underestimated,
                settle_failed=trace.settle_failed,
                would_deny=trace.would_deny,
                input_tokens=trace.input_tokens,
                output_tokens=trace.output_tokens,
                cost_nanos=trace.cost_nanos,
            ),
            timestamp_ms=int(self._clock() * 1000),
            properties={
                "requestId": trace.call.request_id,
                "tenant": tenant.tenant_id if tenant else None,
                "route": trace.call.route,
                "outcome": trace.outcome,
                "status": trace.status,
                "callEnd": trace.call_end,
            },
        )

    def _log(self, trace: _Trace) -> None:
        tenant = trace.tenant
        profile = trace.profile_arn
        request = trace.request
        self.request_logger.write(
            RequestLog(
                request_id=trace.call.request_id,
                route=trace.call.route,
                tenant=tenant.tenant_id if tenant else None,
                user=trace.user,
                outcome=trace.outcome,
                status=trace.status,
                code=trace.code,
                model=trace.model,
                model_id=profile,
                input_tokens=trace.input_tokens,
                output_tokens=trace.output_tokens,
                cost_usd=nanos_to_usd(trace.cost_nanos),
                reserved_usd=None if trace.reserved_nanos is None else nanos_to_usd(trace.reserved_nanos),
                latency_ms=int((self._timer() - trace.started) * 1000),
                warnings=trace.warnings,
                prompt=None if request is None else _prompt_log(request),
                completion=trace.completion,
            )
        )


class _Written(Enum):
    """What a settle left in the ledger."""

    SETTLED = "settled"  # the call record holds trace.cost_nanos
    SWEPT = "swept"  # the sweep had claimed the hold first: its worst-case record stands
    FAILED = "failed"  # nothing written: the hold stays and the sweep charges its worst case


def _held_report(reservation: Reservation) -> CostReport:
    """The worst case held and what is left with it taken out."""
    return CostReport(
        cost_nanos=reservation.nanos,
        basis=CostBasis.HELD,
        remaining_nanos=reservation.available_after,
        user_remaining_nanos=reservation.user_available_after if reservation.user is not None else None,
        period=reservation.period_key.removeprefix("PERIOD#"),
        would_deny=reservation.would_deny,
    )


def _settled_report(reservation: Reservation, cost_nanos: int, basis: CostBasis) -> CostReport:
    """After a settle the hold's ``nanos - cost`` came back (to the shard, and to the user's item)."""
    held = _held_report(reservation)
    returned = reservation.nanos - cost_nanos
    return replace(
        held,
        cost_nanos=cost_nanos,
        basis=basis,
        remaining_nanos=held.remaining_nanos + returned,
        user_remaining_nanos=None
        if held.user_remaining_nanos is None
        else held.user_remaining_nanos + returned,
    )


def _pace_report(
    pace: Pace, limit: int, spent_or_held: int, tenant: TenantConfig, now: float
) -> dict[str, Any]:
    """A paced budget's figures now: what the pace allows (elapsed share plus burst), what is spent or
    held against it, what is left of it, and when the allowance reaches the whole limit."""
    paced = pace_at(pace, limit, tenant.budget_period, now)
    return {
        "allowanceUsd": nanos_to_usd(paced.allowance),
        "burstUsd": nanos_to_usd(paced.burst),
        "spentOrHeldUsd": nanos_to_usd(spent_or_held),
        "remainingUsd": nanos_to_usd(max(paced.allowance - spent_or_held, 0)),
        "fullAt": iso_time(paced.fits_at_ms(limit) / 1000),
    }


def _user_budget(status: Any) -> dict[str, Any]:
    """The calling user's own figures (adapters/user_budget.py); null amounts without a per-user budget."""
    if status.limit_nanos is None:
        return {"id": status.user, "limitUsd": None, "spentUsd": None, "heldUsd": None, "remainingUsd": None}
    return {
        "id": status.user,
        "limitUsd": nanos_to_usd(status.limit_nanos),
        "spentUsd": nanos_to_usd(status.spent_nanos),
        "heldUsd": nanos_to_usd(status.held_nanos),
        "remainingUsd": nanos_to_usd(max(status.available_nanos, 0)),
        "requests": status.requests,
    }


def _answer_trace(prepared: PreparedCall, trace: dict[str, Any] | None) -> dict[str, Any] | None:
    """Bedrock's trace as the caller gets it: the guardrail part only when the caller asked for it."""
    if prepared.guardrail_trace_asked:
        return trace
    return guardrails.without_guardrail_trace(trace)


def _text_event(delta: TextDelta, raw: bool) -> dict[str, Any]:
    if raw:
        return {
            "type": "event",
            "event": {"contentBlockDelta": {"contentBlockIndex": delta.index, "delta": {"text": delta.text}}},
        }
    return {"type": "delta", "text": delta.text}


def _block_log(block: dict[str, Any]) -> str:
    """A content block as the prompt log shows it: text as is, anything else by its kind only."""
    if "text" in block:
        return str(block["text"])
    return f"[{next(iter(block), 'block')}]"


def _prompt_log(request: ConverseRequest) -> list[dict[str, str]]:
    system = [{"role": "system", "content": b["text"]} for b in request.system if "text" in b]
    return system + [
        {"role": m["role"], "content": "".join(_block_log(block) for block in m["content"])}
        for m in request.messages
    ]


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
