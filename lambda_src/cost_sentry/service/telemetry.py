"""One EMF document and one log line per request, whatever the route or how it ended.

The service runs each request inside ``with telemetry.track(call) as trace:``. The steps fill the
``Trace`` in as they go (the tenant, the model, what was held, the usage); how the request ended is
decided once, on the way out, by ``outcome_of``:

- ``denied``: a limit refused it (``LimitExceeded``, only the ledger raises it);
- ``failed``: it was admitted (a hold was taken) and then failed, or its caller went away;
- ``rejected``: it was refused before any limit was asked (bad input, unknown key, contention);
- ``succeeded``: anything else.

An unexpected exception leaves as a ``GatewayError("internal_error")`` (its cause in the log line, never
in the answer), so every surface renders it in its own shape.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Any

from cost_sentry.core.converse import ConverseRequest
from cost_sentry.core.errors import GatewayError, LimitExceeded
from cost_sentry.core.log import RequestLog, RequestLogger
from cost_sentry.core.metrics import MetricsEmitter, RequestMetrics
from cost_sentry.core.money import nanos_to_usd
from cost_sentry.core.outcomes import CallEnd
from cost_sentry.core.tenants import TenantConfig
from cost_sentry.service.results import ApiCall


def model_metric(profile_arn: str) -> str:
    """The profile id (last ARN segment) for inference profiles, else the model id itself."""
    return profile_arn.rsplit("/", 1)[-1] if profile_arn.startswith("arn:") else profile_arn


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    REJECTED = "rejected"
    DENIED = "denied"
    FAILED = "failed"


@dataclass
class Trace:
    """What the request did, filled in by the steps as it goes."""

    call: ApiCall
    started: float
    tenant: TenantConfig | None = None
    user: str | None = None
    model: str | None = None
    profile_arn: str | None = None
    request: ConverseRequest | None = None
    # A hold was taken: from here on a failure is the call's, and the outcome table applies.
    admitted: bool = False
    reserved_nanos: int | None = None
    # How a failed call ended (core/outcomes.py), for the outcome table and the metrics document.
    call_end: CallEnd | None = None
    # Shadow mode: the code of the limit that would have denied this (admitted) request.
    would_deny: str | None = None
    # Usage above the worst case held (an alarm metric), and a settle that could not be written (another).
    underestimated: bool = False
    settle_failed: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    cost_nanos: int = 0
    completion: str | None = None
    warnings: list[str] = field(default_factory=list)
    # Set once, on the way out (Tracking.__exit__).
    status: int = 200
    code: str | None = None
    outcome: Outcome = Outcome.SUCCEEDED


def outcome_of(trace: Trace, error: BaseException | None) -> Outcome:
    """The one place a request's outcome is decided."""
    if isinstance(error, LimitExceeded):
        return Outcome.DENIED
    if trace.admitted:
        return Outcome.FAILED if error is not None or trace.call_end is not None else Outcome.SUCCEEDED
    return Outcome.REJECTED if error is not None else Outcome.SUCCEEDED


def internal_error() -> GatewayError:
    # Not "nothing was charged": a hold left by a failure after reserving is charged when it expires.
    return GatewayError("internal_error", "the gateway failed unexpectedly; its log has this requestId")


@dataclass
class Telemetry:
    metrics: MetricsEmitter
    request_logger: RequestLogger
    clock: Callable[[], float] = time.time
    timer: Callable[[], float] = time.perf_counter

    def track(self, call: ApiCall) -> Tracking:
        return Tracking(self, Trace(call=call, started=self.timer()))

    def emit(self, trace: Trace) -> None:
        self._emit_metrics(trace)
        self._log(trace)

    def _emit_metrics(self, trace: Trace) -> None:
        tenant = trace.tenant
        outcome = trace.outcome
        self.metrics.emit(
            RequestMetrics(
                model=trace.model or "unknown",
                model_id=model_metric(trace.profile_arn) if trace.profile_arn else "unknown",
                cost_center=tenant.cost_center if tenant else "unknown",
                application=tenant.application_id if tenant else "unknown",
                environment=tenant.environment if tenant else "unknown",
                approved=trace.admitted,
                denied=outcome is Outcome.DENIED,
                failed=outcome is Outcome.FAILED,
                rejected=outcome is Outcome.REJECTED,
                underestimated=trace.underestimated,
                settle_failed=trace.settle_failed,
                would_deny=trace.would_deny,
                input_tokens=trace.input_tokens,
                output_tokens=trace.output_tokens,
                cost_nanos=trace.cost_nanos,
            ),
            timestamp_ms=int(self.clock() * 1000),
            properties={
                "requestId": trace.call.request_id,
                "tenant": tenant.tenant_id if tenant else None,
                "route": trace.call.route,
                "outcome": outcome.value,
                "status": trace.status,
                "callEnd": None if trace.call_end is None else trace.call_end.value,
            },
        )

    def _log(self, trace: Trace) -> None:
        request = trace.request
        self.request_logger.write(
            RequestLog(
                request_id=trace.call.request_id,
                route=trace.call.route,
                tenant=trace.tenant.tenant_id if trace.tenant else None,
                user=trace.user,
                outcome=trace.outcome.value,
                status=trace.status,
                code=trace.code,
                model=trace.model,
                model_id=trace.profile_arn,
                input_tokens=trace.input_tokens,
                output_tokens=trace.output_tokens,
                cost_usd=nanos_to_usd(trace.cost_nanos),
                reserved_usd=None if trace.reserved_nanos is None else nanos_to_usd(trace.reserved_nanos),
                latency_ms=int((self.timer() - trace.started) * 1000),
                warnings=trace.warnings,
                prompt=None if request is None else prompt_log(request),
                completion=trace.completion,
            )
        )


class Tracking:
    """``with telemetry.track(call) as trace:``: the outcome and status on the way out, then the
    metrics document and the log line; an unexpected exception leaves as ``internal_error``."""

    def __init__(self, telemetry: Telemetry, trace: Trace) -> None:
        self._telemetry = telemetry
        self.trace = trace

    def __enter__(self) -> Trace:
        return self.trace

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        trace = self.trace
        error: GatewayError | None = None
        if isinstance(exc, GatewayError):
            error = exc
        elif isinstance(exc, Exception):
            trace.warnings.append(f"internal_error: {type(exc).__name__}: {exc}")
            error = internal_error()
        if error is not None:
            trace.status, trace.code = error.status, error.code
        # A caller that went away (GeneratorExit) is not an error answer: the call's end says it.
        trace.outcome = outcome_of(trace, error)
        self._telemetry.emit(trace)
        if error is not None and error is not exc:
            raise error from exc


def _block_log(block: dict[str, Any]) -> str:
    """A content block as the prompt log shows it: text as is, anything else by its kind only."""
    if "text" in block:
        return str(block["text"])
    return f"[{next(iter(block), 'block')}]"


def prompt_log(request: ConverseRequest) -> list[dict[str, str]]:
    system = [{"role": "system", "content": b["text"]} for b in request.system if "text" in b]
    return system + [
        {"role": m["role"], "content": "".join(_block_log(block) for block in m["content"])}
        for m in request.messages
    ]
