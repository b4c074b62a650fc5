"""The budget property under concurrency: 64 simultaneous requests through the real handler, against
DynamoDB over HTTP, for a tenant whose budget fits only some of them."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import boto3
import pytest
from botocore.config import Config

from cost_sentry.adapters.tables import create_tables
from cost_sentry.core.settings import Settings
from cost_sentry.handlers.gateway import build_service, handle_event
from tests.service.conftest import Tables, converse_body, load_event, tenant_document
from tests.service.fakes import FakeBedrock, FakeClients

REQUESTS = 64


@pytest.mark.slow
def test_concurrent_requests_never_overspend_and_account_for_every_nano(moto_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    client = boto3.client("dynamodb", region_name="us-east-1", config=Config(max_pool_connections=REQUESTS))
    suffix = uuid.uuid4().hex[:12]
    tables = Tables(client, f"ledger-{suffix}", f"config-{suffix}")
    create_tables(client, tables.ledger, tables.config)
    # Worst case per request: (30 + 16 + 64) x 250 + 100 x 1250 = 152500 nanos; actual: 20 x 250 +
    # 90 x 1250 = 117500. 0.003 USD fits 25 actuals and 19 outstanding worst cases: of 64 requests
    # some must be denied, and the order of holds and settles decides how many.
    limit_nanos = 3_000_000
    tables.put_tenant(tenant_document(budget={"limitUsd": "0.003"}))
    metrics: list[str] = []
    service = build_service(
        Settings(ledger_table=tables.ledger, config_table=tables.config),
        dynamodb_client=client,
        bedrock_clients=FakeClients(FakeBedrock(output_tokens=90, latency_seconds=0.01)),
        metrics_sink=metrics.append,
        log_sink=lambda line: None,
    )
    events = [load_event("converse", body=converse_body(), request_id=f"c{i:02d}") for i in range(REQUESTS)]

    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        responses = list(pool.map(lambda event: handle_event(service, event), events))

    statuses = [response["statusCode"] for response in responses]
    assert set(statuses) <= {200, 429}, statuses
    approved = [json.loads(r["body"]) for r in responses if r["statusCode"] == 200]
    denied = [json.loads(r["body"]) for r in responses if r["statusCode"] == 429]
    assert approved and denied
    assert {d["error"]["code"] for d in denied} == {"budget_exhausted"}

    item = tables.period_item("sales")
    spent = int(item["spent_nanos"]["N"])
    records = tables.call_records("sales")
    assert spent <= limit_nanos
    assert {r["requestId"]["S"] for r in records} == {body["requestId"] for body in approved}
    assert sum(int(r["cost_nanos"]["N"]) for r in records) == spent
    response_total = sum(Decimal(body["cost"]["usd"]) for body in approved)
    assert response_total * 1_000_000_000 == spent
    assert int(item["available_nanos"]["N"]) == limit_nanos - spent
    assert int(item["requests"]["N"]) == len(approved)
    assert [name for name in item if name.startswith("hold_")] == []
    assert len(metrics) == REQUESTS
    print(f"approved {len(approved)}, denied {len(denied)}, spent {spent} of {limit_nanos} nanos")
