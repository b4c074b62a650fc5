"""The budget property under concurrency, against DynamoDB over HTTP, for a tenant whose budget fits only
some of the requests: 64 simultaneous requests through the real handler (one shard and eight), and 64 or
512 reservations outstanding at once through the ledger (one shard and eight), and per-user budgets."""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.config import Config

from cost_sentry.adapters.ledger import is_hold
from cost_sentry.adapters.tables import create_tables
from cost_sentry.core.settings import Settings
from cost_sentry.handlers.gateway import build_service, handle_event
from tests.service.conftest import Tables, converse_body, load_event, tenant_document
from tests.service.fakes import FakeBedrock, FakeClients

# One group with tests/integration/test_http_concurrency.py: the load tests run one after another.
pytestmark = pytest.mark.xdist_group("concurrency")

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


@pytest.mark.slow
def test_64_concurrent_requests_through_the_handler_on_eight_shards(moto_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    client = boto3.client("dynamodb", region_name="us-east-1", config=Config(max_pool_connections=REQUESTS))
    suffix = uuid.uuid4().hex[:12]
    tables = Tables(client, f"ledger-{suffix}", f"config-{suffix}")
    create_tables(client, tables.ledger, tables.config)
    limit_nanos = 3_000_000
    tables.put_tenant(tenant_document(budget={"limitUsd": "0.003"}, ledger={"shards": 8}))
    service = build_service(
        Settings(ledger_table=tables.ledger, config_table=tables.config),
        dynamodb_client=client,
        bedrock_clients=FakeClients(FakeBedrock(output_tokens=90, latency_seconds=0.01)),
        metrics_sink=lambda line: None,
        log_sink=lambda line: None,
    )
    events = [load_event("converse", body=converse_body(), request_id=f"s{i:02d}") for i in range(REQUESTS)]
    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        responses = list(pool.map(lambda event: handle_event(service, event), events))
    approved = [json.loads(r["body"]) for r in responses if r["statusCode"] == 200]
    assert {r["statusCode"] for r in responses} == {200, 429}
    item = tables.period_item("sales")
    spent = int(item["spent_nanos"]["N"])
    records = tables.call_records("sales")
    assert spent <= limit_nanos
    assert {r["requestId"]["S"] for r in records} == {body["requestId"] for body in approved}
    assert sum(int(r["cost_nanos"]["N"]) for r in records) == spent
    assert int(item["available_nanos"]["N"]) == limit_nanos - spent
    assert [name for name in item if name.startswith("hold_")] == []


# -- the ledger's property at 64 and 512 reservations at once, on 1 and on 8 shards -----------------


def _ledger(tables: Tables) -> Any:
    from cost_sentry.adapters.ledger import Ledger

    return Ledger(tables.client, tables.ledger, hold_lifetime_seconds=150, sleep=lambda seconds: None)


def _record(request_id: str, cost: int, user: str | None = None) -> Any:
    from cost_sentry.adapters.ledger import CallRecord, utc_timestamp

    return CallRecord(
        request_id,
        utc_timestamp(1_795_348_830),
        "",
        "key-sales",
        user,
        "m",
        "arn:m",
        "sales-app",
        "sales",
        "prod",
        50,
        5,
        cost,
    )


def _concurrent_tables(moto_endpoint: str, connections: int) -> Tables:
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url=moto_endpoint,
        config=Config(max_pool_connections=connections),
    )
    suffix = uuid.uuid4().hex[:12]
    tables = Tables(client, f"ledger-{suffix}", f"config-{suffix}")
    create_tables(client, tables.ledger, tables.config)
    return tables


@pytest.mark.slow
@pytest.mark.parametrize("shards", [1, 8])
@pytest.mark.parametrize("concurrent", [64, 512])
def test_concurrent_reservations_never_overspend_and_every_approval_is_paid(
    moto_endpoint, concurrent, shards
):
    from cost_sentry.core.errors import GatewayError
    from cost_sentry.core.estimate import WorstCase
    from tests.service.conftest import make_tenant

    # A pool slot per thread, so no thread waits on the client's pool. The emulator answers each request
    # on a new connection; its deep listen backlog (emulators/moto_server.py) keeps 512 at once from
    # being dropped, which would be an ambiguous write (never resent) and say nothing of the ledger.
    tables = _concurrent_tables(moto_endpoint, concurrent)
    ledger = _ledger(tables)
    worst_nanos = 10_000
    limit_nanos = worst_nanos * concurrent // 4  # a quarter fits while all are held at once
    tenant = make_tenant(budget={"limitUsd": str(Decimal(limit_nanos) / 10**9)}, ledger={"shards": shards})
    start, held = threading.Barrier(concurrent), threading.Barrier(concurrent)
    outcomes: dict[int, str] = {}

    def one(number: int) -> None:
        start.wait()
        reservation = None
        try:
            reservation = ledger.reserve(tenant, f"r{number:03d}", WorstCase(90, 10, worst_nanos))
        except GatewayError as denied:  # any refusal is recorded (a 503 too), never a dead thread
            outcomes[number] = denied.code
        finally:
            held.wait()  # every reservation is outstanding at once before any settles
        if reservation is not None:
            actual = worst_nanos - 37 * (number % 50)
            ledger.settle(reservation, _record(reservation.request_id, actual))
            outcomes[number] = f"paid {actual}"

    threads = [threading.Thread(target=one, args=(number,)) for number in range(concurrent)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    paid = {f"r{k:03d}": int(v.split()[1]) for k, v in outcomes.items() if v.startswith("paid")}
    denied = [v for v in outcomes.values() if not v.startswith("paid")]
    assert len(outcomes) == concurrent
    assert set(denied) <= {"budget_exhausted"}
    assert 0 < len(paid) <= concurrent // 4
    items = tables.ledger_items("sales")
    head = next(
        item for item in items if item["sk"]["S"] == "PERIOD#2026-11" or item["sk"]["S"].count("#") == 1
    )
    shard_items = [item for item in items if "#S" in item["sk"]["S"]]
    spent = sum(int(item.get("spent_nanos", {"N": "0"})["N"]) for item in shard_items)
    allocated = sum(int(item["allocated_nanos"]["N"]) for item in shard_items)
    available = [int(item["available_nanos"]["N"]) for item in shard_items]
    records = tables.call_records("sales")
    assert spent <= limit_nanos
    assert spent == sum(paid.values()) == sum(int(r["cost_nanos"]["N"]) for r in records)
    assert {r["requestId"]["S"] for r in records} == set(paid)
    assert sum(available) >= 0 and min(available) >= 0
    assert int(head["pool_nanos"]["N"]) + allocated == limit_nanos
    assert int(head["pool_nanos"]["N"]) + sum(available) == limit_nanos - spent
    assert sum(int(item.get("in_flight", {"N": "0"})["N"]) for item in shard_items) == 0
    assert not [item for item in items if is_hold(item)]
    print(f"{concurrent} at once on {shards} shard(s): {len(paid)} admitted of {concurrent // 4} possible")


@pytest.mark.slow
def test_64_concurrent_first_requests_of_a_new_user_overspend_neither_budget(moto_endpoint):
    from cost_sentry.core.errors import LimitExceeded
    from cost_sentry.core.estimate import WorstCase
    from tests.service.conftest import make_tenant

    tables = _concurrent_tables(moto_endpoint, 64)
    ledger = _ledger(tables)
    # The user's budget fits 10 worst cases, the tenant's 20 (its other users compete for it).
    tenant = make_tenant(
        budget={"limitUsd": "0.0002"}, ledger={"shards": 4}, users={"defaultLimitUsd": "0.0001"}
    )
    start = threading.Barrier(REQUESTS)
    outcomes: list[str] = []

    def one(number: int) -> None:
        user = "newcomer" if number % 2 else f"other{number % 3}"
        start.wait()
        try:
            reservation = ledger.reserve(tenant, f"u{number:02d}", WorstCase(90, 10, 10_000), user=user)
        except LimitExceeded as denied:
            outcomes.append(denied.code)
            return
        ledger.settle(reservation, _record(reservation.request_id, 10_000, user))
        outcomes.append(f"paid {user}")

    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        list(pool.map(one, range(REQUESTS)))

    items = {item["sk"]["S"]: item for item in tables.ledger_items("sales")}
    [newcomer] = [item for sk, item in items.items() if sk.startswith("USER#") and sk.endswith("#newcomer")]
    assert int(newcomer["spent_nanos"]["N"]) <= 100_000
    assert int(newcomer["available_nanos"]["N"]) == 100_000 - int(newcomer["spent_nanos"]["N"]) >= 0
    assert outcomes.count("paid newcomer") == int(newcomer["spent_nanos"]["N"]) // 10_000
    view = tables.period_item("sales")
    assert int(view["spent_nanos"]["N"]) <= 200_000
    assert int(view["spent_nanos"]["N"]) == 10_000 * sum(1 for o in outcomes if o.startswith("paid"))
    assert set(o for o in outcomes if not o.startswith("paid")) <= {
        "budget_exhausted",
        "user_budget_exhausted",
    }
    assert "user_budget_exhausted" in outcomes
