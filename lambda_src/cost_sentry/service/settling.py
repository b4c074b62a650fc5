"""After the call: what the hold becomes (docs/design.md sections 4 and 8).

A call that answered is settled at its usage, priced exactly (every priced field: cache reads and writes,
tier, guardrail units). A call that failed goes by the outcome table (core/outcomes.py): released only
when Bedrock certainly did not bill, else charged its worst case, marked estimated. A settle that cannot
be written leaves the hold, which the sweep charges at expiry: never a refund on a guess.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from cost_sentry.adapters.ledger import CallRecord, Ledger, Reservation, utc_timestamp
from cost_sentry.core.catalog import ModelSpec
from cost_sentry.core.converse import ConverseRequest
from cost_sentry.core.cost_report import CostBasis, CostReport
from cost_sentry.core.estimate import WorstCase
from cost_sentry.core.log import RequestLogger
from cost_sentry.core.outcomes import CallEnd, Settlement, settlement_for
from cost_sentry.core.pricing import Usage
from cost_sentry.core.tenants import TenantConfig
from cost_sentry.service.telemetry import Trace


@dataclass(frozen=True)
class PreparedCall:
    """Everything checked and resolved before the ledger is asked: what will be sent, and its worst case."""

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


class _Written(Enum):
    """What a settle left in the ledger."""

    SETTLED = "settled"  # the call record holds trace.cost_nanos
    SWEPT = "swept"  # the sweep had claimed the hold first: its worst-case record stands
    FAILED = "failed"  # nothing written: the hold stays and the sweep charges its worst case


class Settler:
    def __init__(
        self, ledger: Ledger, request_logger: RequestLogger, clock: Callable[[], float] = time.time
    ) -> None:
        self.ledger = ledger
        self.request_logger = request_logger
        self._clock = clock

    def settle(
        self, prepared: PreparedCall, reservation: Reservation, trace: Trace, usage: Usage
    ) -> CostReport:
        """Settle the actual usage (every priced field of it); returns what the ledger now holds for it."""
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
        if trace.cost_nanos > reservation.nanos or usage.total_tokens > prepared.worst.tokens:
            trace.underestimated = True
            trace.warnings.append("reservation_underestimated")
        written = self._write(
            prepared, reservation, trace, estimated=False, record_estimated=guardrail_unknown
        )
        if written is _Written.SETTLED:
            basis = CostBasis.ESTIMATED if guardrail_unknown else CostBasis.SETTLED
            return settled_report(reservation, trace.cost_nanos, basis)
        if written is _Written.SWEPT:
            # The sweep had charged the hold its worst case (marked estimated): that is the ledger's record.
            return settled_report(reservation, reservation.nanos, CostBasis.ESTIMATED)
        return held_report(reservation)  # the settle failed: the sweep charges the hold at expiry

    def end_failed_call(
        self, prepared: PreparedCall, reservation: Reservation, trace: Trace, end: CallEnd, exc: BaseException
    ) -> None:
        """Apply the outcome table: release only what Bedrock certainly did not bill."""
        trace.call_end = end
        # Bedrock's own words (which can name the calling role) go to the log line, not the caller.
        cause = exc.__cause__ or exc
        trace.warnings.append(f"bedrock_error: {type(cause).__name__}: {str(cause)[:500]}")
        if settlement_for(end) is Settlement.RELEASE:
            self._release(reservation, trace)
            return
        trace.input_tokens, trace.output_tokens = prepared.worst.input_tokens, prepared.worst.output_tokens
        trace.cost_nanos = reservation.nanos
        self._write(prepared, reservation, trace, estimated=True)

    def call_record(self, prepared: PreparedCall, trace: Trace, estimated: bool = False) -> CallRecord:
        return CallRecord(
            request_id=trace.call.request_id,
            timestamp=self.timestamp(),
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

    def timestamp(self) -> str:
        return utc_timestamp(self._clock())

    def _release(self, reservation: Reservation, trace: Trace) -> None:
        try:
            self.ledger.release(reservation)
        except Exception as exc:
            # The hold stays and the ledger's sweep charges it at expiry: never a refund on a guess.
            trace.warnings.append(f"release_failed: {exc}")

    def _write(
        self,
        prepared: PreparedCall,
        reservation: Reservation,
        trace: Trace,
        *,
        estimated: bool,
        record_estimated: bool = False,
    ) -> _Written:
        """``estimated``: charge the whole reservation; ``record_estimated``: settle trace.cost_nanos
        (part of which is a worst case, e.g. a guardrail whose usage is unknown), marked estimated."""
        record = self.call_record(prepared, trace, estimated or record_estimated)
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


def held_report(reservation: Reservation) -> CostReport:
    """The worst case held and what is left with it taken out."""
    return CostReport(
        cost_nanos=reservation.nanos,
        basis=CostBasis.HELD,
        remaining_nanos=reservation.available_after,
        user_remaining_nanos=reservation.user_available_after if reservation.user is not None else None,
        period=reservation.period_key.removeprefix("PERIOD#"),
        would_deny=reservation.would_deny,
    )


def settled_report(reservation: Reservation, cost_nanos: int, basis: CostBasis) -> CostReport:
    """After a settle the hold's ``nanos - cost`` came back (to the shard, and to the user's item)."""
    held = held_report(reservation)
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
