"""Helpers shared by the attribution tests: a tenant, a settable clock, call counters on boto3 clients."""

from __future__ import annotations

import json
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
    invoker_role_arn: str | None = "arn:aws:iam::123456789012:role/cost-sentry-sales-invoker"


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


PROFILE_ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/"
# 2026-11-22T12:00:30Z: the period items are PERIOD#2026-11 (monthly) and PERIOD#2026-11-22 (daily).
NOW = 1_795_348_830.0


@dataclass
class Tables:
    """A config table and a ledger table of one test on the moto server."""

    client: Any
    config: str
    ledger: str

    def put_tenant(self, document: dict[str, Any]) -> None:
        self.client.put_item(
            TableName=self.config,
            Item={"pk": {"S": f"tenant#{document['tenantId']}"}, "config": {"S": json.dumps(document)}},
        )

    def config_item(self, pk: str) -> dict[str, Any] | None:
        return self.client.get_item(TableName=self.config, Key={"pk": {"S": pk}}, ConsistentRead=True).get(
            "Item"
        )

    def period_item(self, tenant_id: str, period: str) -> dict[str, Any] | None:
        """The period's head and shards summed into one item (tests.service.conftest.period_view)."""
        from cost_sentry.adapters.ledger import read_tenant_items
        from tests.service.conftest import period_view

        return period_view(read_tenant_items(self.client, self.ledger, tenant_id, f"PERIOD#{period}")) or None

    def call_records(self, tenant_id: str) -> list[dict[str, Any]]:
        from cost_sentry.adapters.ledger import read_tenant_calls

        return read_tenant_calls(self.client, self.ledger, tenant_id)

    def put_period(
        self, tenant_id: str, period: str, *, limit_nanos: int, available_nanos: int, spent_nanos: int = 0
    ) -> None:
        """A period as a gateway leaves it: the head with its pool, and one shard with what was spent."""
        head = {
            "pk": {"S": tenant_id},
            "sk": {"S": f"PERIOD#{period}"},
            "limit_nanos": {"N": str(limit_nanos)},
            "pool_nanos": {"N": str(available_nanos)},
            "shards": {"N": "1"},
        }
        self.client.put_item(TableName=self.ledger, Item=head)
        if spent_nanos:
            shard = {
                "pk": {"S": f"{tenant_id}#S0"},  # each shard in its own partition
                "sk": {"S": f"PERIOD#{period}#S0"},
                "allocated_nanos": {"N": str(spent_nanos)},
                "available_nanos": {"N": "0"},
                "spent_nanos": {"N": str(spent_nanos)},
            }
            self.client.put_item(TableName=self.ledger, Item=shard)


def tenant_document(
    tenant_id: str, limit_usd: str, *, period: str = "MONTHLY", block_at: str | None = None
) -> dict[str, Any]:
    """A runtime tenant document (docs/design.md section 3)."""
    return {
        "tenantId": tenant_id,
        "applicationId": f"{tenant_id}-app",
        "costCenter": tenant_id,
        "environment": "prod",
        "apiKeyIds": [f"key-{tenant_id}"],
        "budget": {"limitUsd": limit_usd, "period": period, "blockAtActualPercent": block_at},
        "limits": {"requestsPerMinute": None, "tokensPerPeriod": None},
        "models": {"claude-3-haiku": PROFILE_ARN + tenant_id},
        "defaultModel": "claude-3-haiku",
        "modelAliases": {},
        "invokerRoleArn": None,
    }
