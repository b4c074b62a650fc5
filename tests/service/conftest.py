"""Gateway test equipment: DynamoDB tables on the moto server (unique per test), tenants, a clock."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from cost_sentry.adapters.tables import create_tables
from cost_sentry.core.tenants import TenantConfig, tenant_from_document

PROFILE_ARN = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/{}"


@dataclass
class Tables:
    client: Any
    ledger: str
    config: str

    def period_item(self, tenant_id: str) -> dict[str, Any]:
        """The tenant's period as one item, as the tests read it: the head and every shard summed
        (``available_nanos`` = pool + shards, ``tokens_available`` likewise, counters added up) and each
        hold item listed as ``hold_<request id>``. Empty before anything was written. Tests run within one
        period unless they move the clock."""
        return period_view(self.ledger_items(tenant_id))

    def ledger_items(self, tenant_id: str, prefix: str = "") -> list[dict[str, Any]]:
        """Every ledger item of the tenant, in all its partitions (the head's, each shard's, each
        user's)."""
        from cost_sentry.adapters.ledger import read_tenant_items

        return read_tenant_items(self.client, self.ledger, tenant_id, prefix)

    def call_records(self, tenant_id: str) -> list[dict[str, Any]]:
        """The tenant's call records (its request items that are no longer holds)."""
        from cost_sentry.adapters.ledger import read_tenant_calls

        return read_tenant_calls(self.client, self.ledger, tenant_id)

    def put_tenant(self, document: dict[str, Any]) -> None:
        self.client.put_item(
            TableName=self.config,
            Item={"pk": {"S": f"tenant#{document['tenantId']}"}, "config": {"S": json.dumps(document)}},
        )


@pytest.fixture
def tables(aws_endpoint_env: str) -> Tables:
    client = boto3.client("dynamodb", region_name="us-east-1")
    suffix = uuid.uuid4().hex[:12]
    names = Tables(client=client, ledger=f"ledger-{suffix}", config=f"config-{suffix}")
    create_tables(client, names.ledger, names.config)
    return names


_SUMMED = ("spent_nanos", "requests", "input_tokens", "output_tokens", "in_flight")


def period_view(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Head + shards + holds of one period (DynamoDB's low-level format) as one summed item."""
    from cost_sentry.adapters.ledger import is_hold
    from cost_sentry.core.periods import shard_index

    heads = [
        item for item in items if item["sk"]["S"].startswith("PERIOD#") and item["sk"]["S"].count("#") == 1
    ]
    periods = {item["sk"]["S"].split("#S")[0] for item in items if item["sk"]["S"].startswith("PERIOD#")}
    periods |= {item["period"]["S"] for item in items if is_hold(item) and "period" in item}
    assert len(periods) <= 1, f"a test must not straddle two budget periods: {sorted(periods)}"
    if not periods:
        return {}
    [key] = periods
    head = heads[0] if heads else {}
    shards = [item for item in items if shard_index(key, item["sk"]["S"]) is not None]
    view: dict[str, Any] = {"pk": (head or shards[0])["pk"], "sk": {"S": key}}
    numbers: dict[str, int] = {}
    if "limit_nanos" in head:
        numbers["limit_nanos"] = int(head["limit_nanos"]["N"])
        numbers["available_nanos"] = int(head["pool_nanos"]["N"])
    if "token_limit" in head:
        numbers["token_limit"] = int(head["token_limit"]["N"])
        numbers["tokens_available"] = int(head["tokens_pool"]["N"])
    if "blocked" in head:
        view["blocked"] = head["blocked"]
    for shard in shards:
        for name, value in shard.items():
            if (
                name in _SUMMED
                or name.startswith("rpm_")
                or (name in ("available_nanos", "tokens_available") and name in numbers)
            ):
                numbers[name] = numbers.get(name, 0) + int(value["N"])
    view.update({name: {"N": str(value)} for name, value in numbers.items()})
    for item in items:
        sort_key = item["sk"]["S"]
        if is_hold(item):
            fields = {name: item[name] for name in ("nanos", "tokens", "expires")}
            view["hold_" + sort_key.split("#", 2)[2]] = {"M": fields}
    return view


def tenant_document(tenant_id: str = "sales", **overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "tenantId": tenant_id,
        "applicationId": f"{tenant_id}-app",
        "costCenter": tenant_id,
        "environment": "prod",
        "apiKeyIds": [f"key-{tenant_id}"],
        "budget": {"limitUsd": "0.50", "period": "MONTHLY", "blockAtActualPercent": None},
        "limits": {"requestsPerMinute": None, "tokensPerPeriod": None},
        "models": {
            "claude-3-haiku": PROFILE_ARN.format(f"{tenant_id}haiku"),
            "nova-micro": PROFILE_ARN.format(f"{tenant_id}micro"),
            "llama3-1-8b": PROFILE_ARN.format(f"{tenant_id}llama"),
        },
        "defaultModel": "claude-3-haiku",
        "modelAliases": {"fast": "nova-micro"},
        "invokerRoleArn": None,
    }
    document.update(overrides)
    return document


def make_tenant(tenant_id: str = "sales", **overrides: Any) -> TenantConfig:
    return tenant_from_document(tenant_document(tenant_id, **overrides))


class Clock:
    """A settable wall clock, so expiry and period boundaries are tested without sleeping."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    # 2026-11-22T12:00:30Z: mid-month, mid-day, mid-minute.
    return Clock(1_795_348_830.0)


TenantFactory = Callable[..., TenantConfig]


FIXTURES = __import__("pathlib").Path(__file__).parents[1] / "fixtures" / "gateway"


def load_event(name: str, **changes: Any) -> dict[str, Any]:
    """An API Gateway REST v1 event from tests/fixtures/gateway, with the body/key/headers changed."""
    event = json.loads((FIXTURES / f"{name}.json").read_text())
    if "body" in changes:
        body = changes.pop("body")
        event["body"] = body if isinstance(body, str) or body is None else json.dumps(body)
    if "api_key_id" in changes:
        event["requestContext"]["identity"]["apiKeyId"] = changes.pop("api_key_id")
    if "user" in changes:
        user = changes.pop("user")
        for headers in (event["headers"], event["multiValueHeaders"]):
            headers.pop("X-Cost-Sentry-User", None)
        if user is not None:
            event["headers"]["X-Cost-Sentry-User"] = user
    event["requestContext"]["requestId"] = changes.pop("request_id", str(uuid.uuid4()))
    event.update(changes)
    return event


def converse_body(tenant_id: str = "sales", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "claude-3-haiku",
        "prompt": {
            "messages": [{"role": "user", "content": "What is a cost allocation tag?"}],
            "parameters": {"max_tokens": 100},
        },
        "tags": {"applicationId": f"{tenant_id}-app"},
    }
    body.update(overrides)
    return body


@dataclass
class Gateway:
    """A GatewayService wired to moto DynamoDB, a fake Bedrock and captured telemetry."""

    service: Any
    tables: Tables
    bedrock: Any
    clients: Any
    metrics: list[str]
    logs: list[str]
    clock: Clock

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        from cost_sentry.handlers.gateway import handle_event

        return handle_event(self.service, event)

    def emf(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.metrics]


@pytest.fixture
def gateway_factory(tables: Tables, clock: Clock) -> Callable[..., Gateway]:
    from cost_sentry.core.settings import Settings
    from cost_sentry.handlers.gateway import build_service
    from tests.service.fakes import FakeBedrock, FakeClients

    def build(*documents: dict[str, Any], bedrock: Any = None, **settings: Any) -> Gateway:
        for document in documents or (tenant_document(),):
            tables.put_tenant(document)
        fake = bedrock or FakeBedrock()
        clients = FakeClients(fake)
        metrics: list[str] = []
        logs: list[str] = []
        service = build_service(
            Settings(ledger_table=tables.ledger, config_table=tables.config, **settings),
            dynamodb_client=tables.client,
            bedrock_clients=clients,
            metrics_sink=metrics.append,
            log_sink=logs.append,
            clock=clock,
        )
        return Gateway(service, tables, fake, clients, metrics, logs, clock)

    return build
