"""Helpers shared by the attribution tests: a tenant, a settable clock, call counters on boto3 clients."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Tenant:
    """The TenantConfig fields the attribution code reads."""

    tenant_id: str = "sales"
    application_id: str = "sales-assistant"
    cost_center: str = "sales"
    environment: str = "prod"
    invoker_role_arn: str | None = "arn:aws:iam::123456789012:role/cost-sentry-invoker-sales"


class FakeClock:
    """A clock the test moves by hand (seconds)."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class CallLog:
    """Parameters of every call of one operation, recorded by a botocore event hook."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __len__(self) -> int:
        with self.lock:
            return len(self.calls)


def record_calls(client: Any, operation: str, *, delay: Callable[[], None] | None = None) -> CallLog:
    """Count the calls `client` makes to `operation` (e.g. "AssumeRole"), optionally slowing each one."""
    log = CallLog()
    service = client.meta.service_model.service_name

    def on_call(params: dict[str, Any], **_: Any) -> None:
        with log.lock:
            log.calls.append(params)
        if delay is not None:
            delay()

    client.meta.events.register(f"provide-client-params.{service}.{operation}", on_call)
    return log
