"""Shared pieces of the ledger adapter tests: a ledger on the test tables, worst cases, call records,
item reads by DynamoDB's sizing rules, and a client wrapper that injects DynamoDB errors."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from cost_sentry.adapters.ledger import CallRecord, Ledger, utc_timestamp
from cost_sentry.core.estimate import WorstCase
from tests.service.conftest import Clock, Tables

HOLD_SECONDS = 150


def ledger_for(tables: Tables, clock: Clock, client: Any = None) -> Ledger:
    return Ledger(
        client or tables.client,
        tables.ledger,
        hold_lifetime_seconds=HOLD_SECONDS,
        call_record_retention_days=30,
        clock=clock,
        sleep=lambda seconds: None,  # the retries' jitter, without waiting in tests
    )


def worst(cost: int, tokens: int = 100) -> WorstCase:
    return WorstCase(input_tokens=tokens - 10, output_tokens=10, cost_nanos=cost)


def record(
    request_id: str, cost: int, input_tokens: int = 50, output_tokens: int = 5, user: str | None = None
) -> CallRecord:
    return CallRecord(
        request_id=request_id,
        timestamp=utc_timestamp(1_795_348_830.0),
        principal="",
        api_key_id="key-sales",
        user=user,
        model="claude-3-haiku",
        model_id="arn:profile",
        application_id="sales-app",
        cost_center="sales",
        environment="prod",
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_nanos=cost,
    )


def n(item: dict[str, Any], name: str) -> int:
    return int(item[name]["N"])


def items_by_key(tables: Tables, tenant_id: str = "sales") -> dict[str, dict[str, Any]]:
    return {item["sk"]["S"]: item for item in tables.ledger_items(tenant_id)}


def shards_of(
    tables: Tables, period: str = "PERIOD#2026-11", tenant_id: str = "sales"
) -> list[dict[str, Any]]:
    return [
        item for sk, item in sorted(items_by_key(tables, tenant_id).items()) if sk.startswith(period + "#S")
    ]


@dataclass
class FailingClient:
    """A DynamoDB client that answers the first ``count`` calls of ``operation`` with the error ``code``
    (as DynamoDB would), then passes everything through to the real client. Counts every call."""

    client: Any
    operation: str
    code: str
    count: int
    reasons: list[str] | None = None  # CancellationReasons of a TransactionCanceledException
    status: int = 400
    calls: Counter[str] = field(default_factory=Counter)

    def __getattr__(self, name: str) -> Any:
        real = getattr(self.client, name)
        if not callable(real):
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            if name == self.operation and self.count > 0:
                self.count -= 1
                response: dict[str, Any] = {
                    "Error": {"Code": self.code, "Message": "injected"},
                    "ResponseMetadata": {"HTTPStatusCode": self.status},
                }
                if self.reasons is not None:
                    response["CancellationReasons"] = [{"Code": reason} for reason in self.reasons]
                raise ClientError(response, name)
            return real(*args, **kwargs)

        return call
