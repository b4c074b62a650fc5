"""Embedded Metric Format: one JSON document per request on stdout; CloudWatch turns it into metrics.

No PutMetricData on the hot path. The sink is injectable (tests capture the documents).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

Sink = Callable[[str], None]

DIMENSION_SETS = (("Model", "ModelId", "CostCenter", "Application", "Environment"), ("CostCenter",))
UNITS = {
    "TotalRequests": "Count",
    "RateLimitApproved": "Count",
    "RateLimitDenied": "Count",
    "InvocationFailed": "Count",
    "RequestRejected": "Count",
    "ReservationUnderestimated": "Count",
    "SettleFailed": "Count",
    "InputTokens": "Count",
    "OutputTokens": "Count",
    "CostUSD": "None",
    "WouldDeny": "Count",
}
UNKNOWN = "unknown"
# Metrics an alarm watches (issue 9): a settle or worst-case charge that failed to write (the hold is
# then charged at expiry), and actual usage above the reservation (the worst case was not one).
ALARM_METRICS = ("SettleFailed", "ReservationUnderestimated")


def stdout_sink(line: str) -> None:
    print(line, flush=True)


def dumps_exact(value: Any) -> str:
    """JSON where Decimals are written as exact JSON numbers (json.dumps would need a float)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps_exact(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps_exact(item) for item in value) + "]"
    return json.dumps(value)


@dataclass(frozen=True)
class RequestMetrics:
    """What one request contributes. Outcomes: approved+succeeded (Approved=1, Failed=0), approved+failed
    (Approved=1, Failed=1), denied by a limit (Denied=1), rejected before any limit (Rejected=1)."""

    model: str = UNKNOWN
    model_id: str = UNKNOWN
    cost_center: str = UNKNOWN
    application: str = UNKNOWN
    environment: str = UNKNOWN
    approved: bool = False
    denied: bool = False
    failed: bool = False
    rejected: bool = False
    underestimated: bool = False
    # The settle (or worst-case charge) write failed: the hold stays and is charged at expiry.
    settle_failed: bool = False
    # Shadow mode: the code of the limit that would have denied the (admitted) request.
    would_deny: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_nanos: int = 0


def emf_metadata(
    namespace: str,
    dimension_sets: Iterable[Iterable[str]],
    units: Mapping[str, str],
    timestamp_ms: int,
) -> dict[str, Any]:
    """The `_aws` member of an Embedded Metric Format document: which members are metrics, and how."""
    return {
        "Timestamp": timestamp_ms,
        "CloudWatchMetrics": [
            {
                "Namespace": namespace,
                "Dimensions": [list(dimensions) for dimensions in dimension_sets],
                "Metrics": [{"Name": name, "Unit": unit} for name, unit in units.items()],
            }
        ],
    }


def emf_document(
    namespace: str, metrics: RequestMetrics, timestamp_ms: int, properties: Mapping[str, Any]
) -> dict[str, Any]:
    values: dict[str, int | Decimal] = {
        "TotalRequests": 1,
        "RateLimitApproved": int(metrics.approved),
        "RateLimitDenied": int(metrics.denied),
        "InvocationFailed": int(metrics.failed),
        "RequestRejected": int(metrics.rejected),
        "InputTokens": metrics.input_tokens,
        "OutputTokens": metrics.output_tokens,
        "CostUSD": Decimal(metrics.cost_nanos).scaleb(-9),
    }
    # Alarm metrics (only when they happen; an alarm on them treats missing data as not breaching).
    if metrics.underestimated:
        values["ReservationUnderestimated"] = 1
    if metrics.settle_failed:
        values["SettleFailed"] = 1
    metadata = emf_metadata(namespace, DIMENSION_SETS, {name: UNITS[name] for name in values}, timestamp_ms)
    alarms = [name for name in ALARM_METRICS if name in values]
    if alarms:
        # The same values once more without dimensions: one account-wide metric per alarm metric, which
        # a CloudWatch alarm can watch directly (an alarm cannot sum over dimension values).
        metadata["CloudWatchMetrics"].append(
            {
                "Namespace": namespace,
                "Dimensions": [[]],
                "Metrics": [{"Name": n, "Unit": UNITS[n]} for n in alarms],
            }
        )
    reason: dict[str, str] = {}
    if metrics.would_deny:
        # Shadow mode: WouldDeny by tenant (CostCenter) and reason, and by reason alone.
        reason = {"Reason": metrics.would_deny}
        metadata["CloudWatchMetrics"].append(
            {
                "Namespace": namespace,
                "Dimensions": [["CostCenter", "Reason"], ["Reason"]],
                "Metrics": [{"Name": "WouldDeny", "Unit": UNITS["WouldDeny"]}],
            }
        )
    return {
        "_aws": metadata,
        "Model": metrics.model,
        "ModelId": metrics.model_id,
        "CostCenter": metrics.cost_center,
        "Application": metrics.application,
        "Environment": metrics.environment,
        **values,
        **({"WouldDeny": 1, **reason} if reason else {}),
        **properties,
    }


class MetricsEmitter:
    def __init__(self, namespace: str, sink: Sink = stdout_sink) -> None:
        self.namespace = namespace
        self._sink = sink

    def emit(self, metrics: RequestMetrics, timestamp_ms: int, properties: Mapping[str, Any]) -> None:
        self._sink(dumps_exact(emf_document(self.namespace, metrics, timestamp_ms, properties)))
