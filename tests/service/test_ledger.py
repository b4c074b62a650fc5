"""The ledger against DynamoDB over HTTP (moto server): reserve, settle, release, sweep, denials."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from cost_sentry.adapters.ledger import CallRecord, Ledger, utc_timestamp
from cost_sentry.core.errors import LimitExceeded, ServiceUnavailable
from cost_sentry.core.estimate import WorstCase
from tests.service.conftest import Clock, Tables, make_tenant, period_view

HOLD_SECONDS = 150


def ledger_for(tables: Tables, clock: Clock) -> Ledger:
    return Ledger(
        tables.client,
        tables.ledger,
        hold_lifetime_seconds=HOLD_SECONDS,
        call_record_retention_days=30,
        clock=clock,
    )


def worst(cost: int, tokens: int = 100) -> WorstCase:
    return WorstCase(input_tokens=tokens - 10, output_tokens=10, cost_nanos=cost)


def record(request_id: str, cost: int, input_tokens: int = 50, output_tokens: int = 5) -> CallRecord:
    return CallRecord(
        request_id=request_id,
        timestamp=utc_timestamp(1_795_348_830.0),
        principal="",
        api_key_id="key-sales",
        user="alice",
        model="claude-3-haiku",
        model_id="arn:profile",
        application_id="sales-app",
        cost_center="sales",
        environment="prod",
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_nanos=cost,
    )


def n(item: dict, name: str) -> int:
    return int(item[name]["N"])


def holds(item: dict) -> list[str]:
    return [name for name in item if name.startswith("hold_")]


def test_reserve_then_settle_gives_back_the_unused_part(tables, clock):
    ledger = ledger_for(tables, clock)
    tenant = make_tenant(budget={"limitUsd": "1"})
    reservation = ledger.reserve(tenant, "r1", worst(1_000_000))
    item = tables.period_item("sales")
    assert n(item, "available_nanos") == 1_000_000_000 - 1_000_000 == reservation.available_after
    assert holds(item) == ["hold_r1"]
    assert item["sk"]["S"] == "PERIOD#2026-11"

    result = ledger.settle(reservation, record("r1", 300_000))
    assert not result.hold_was_reclaimed
    item = tables.period_item("sales")
    assert n(item, "available_nanos") == 1_000_000_000 - 300_000
    assert n(item, "spent_nanos") == 300_000
    assert (n(item, "requests"), n(item, "input_tokens"), n(item, "output_tokens")) == (1, 50, 5)
    assert holds(item) == []
    [call] = tables.call_records("sales")
    assert call["sk"]["S"] == "CALL#2026-11-22T12:00:30.000Z#r1"
    assert n(call, "cost_nanos") == 300_000
    assert call["user"]["S"] == "alice"
    assert n(call, "expires_at") == int(clock.now) + 30 * 86_400


def test_settle_happens_once(tables, clock):
    ledger = ledger_for(tables, clock)
    tenant = make_tenant()
    reservation = ledger.reserve(tenant, "r1", worst(1_000))
    ledger.settle(reservation, record("r1", 600))
    assert not ledger.release(reservation)  # the hold is gone: nothing is given back twice
    assert n(tables.period_item("sales"), "available_nanos") == 500_000_000 - 600


def test_release_restores_everything(tables, clock):
    ledger = ledger_for(tables, clock)
    tenant = make_tenant()
    reservation = ledger.reserve(tenant, "r1", worst(12_345))
    assert ledger.release(reservation)
    item = tables.period_item("sales")
    assert n(item, "available_nanos") == 500_000_000
    assert holds(item) == []
    assert "spent_nanos" not in item
    assert not ledger.release(reservation)


def test_actual_above_the_reservation_is_settled_as_it_is(tables, clock):
    ledger = ledger_for(tables, clock)
    reservation = ledger.reserve(make_tenant(), "r1", worst(1_000))
    ledger.settle(reservation, record("r1", 1_500))
    item = tables.period_item("sales")
    assert n(item, "spent_nanos") == 1_500
    assert n(item, "available_nanos") == 500_000_000 - 1_500


def test_budget_exhausted_denial_changes_nothing(tables, clock):
    ledger = ledger_for(tables, clock)
    tenant = make_tenant(budget={"limitUsd": "0.000001"})  # 1000 nanos
    first = ledger.reserve(tenant, "r1", worst(700))
    before = tables.period_item("sales")
    with pytest.raises(LimitExceeded) as caught:
        ledger.reserve(tenant, "r2", worst(400))
    assert caught.value.code == "budget_exhausted"
    # The only hold expires in HOLD_SECONDS; releasing it would make room.
    assert caught.value.retry_after_seconds == HOLD_SECONDS
    assert tables.period_item("sales") == before
    ledger.settle(first, record("r1", 700))
    with pytest.raises(LimitExceeded) as caught:
        ledger.reserve(tenant, "r3", worst(400))
    # Nothing outstanding: only the next period helps (2026-12-01T00:00:00Z is 8 days 12 h away).
    assert caught.value.retry_after_seconds == 8 * 86_400 + 12 * 3600 - 30


def test_a_request_bigger_than_the_whole_budget_is_denied_without_writing(tables, clock):
    ledger = ledger_for(tables, clock)
    with pytest.raises(LimitExceeded) as caught:
        ledger.reserve(make_tenant(budget={"limitUsd": "0.000001"}), "r1", worst(1_001))
    assert caught.value.code == "budget_exhausted"
    assert tables.period_item("sales") == {}


def test_rate_limit_per_minute(tables, clock):
    ledger = ledger_for(tables, clock)
    tenant = make_tenant(limits={"requestsPerMinute": 2})
    ledger.release(ledger.reserve(tenant, "r1", worst(1)))
    ledger.reserve(tenant, "r2", worst(1))
    with pytest.raises(LimitExceeded) as caught:
        ledger.reserve(tenant, "r3", worst(1))
    assert caught.value.code == "rate_limited"
    assert caught.value.retry_after_seconds == 30  # the clock is at hh:mm:30
    clock.advance(30)
    reservation = ledger.reserve(tenant, "r4", worst(1))
    # The previous minute's counter is dropped by the next settle/release write.
    assert reservation.stale_minute_attributes == ("rpm_202611221200",)
    ledger.release(reservation)
    assert [name for name in tables.period_item("sales") if name.startswith("rpm_")] == ["rpm_202611221201"]


def test_token_limit(tables, clock):
    ledger = ledger_for(tables, clock)
    tenant = make_tenant(limits={"tokensPerPeriod": 250})
    first = ledger.reserve(tenant, "r1", worst(1, tokens=200))
    with pytest.raises(LimitExceeded) as caught:
        ledger.reserve(tenant, "r2", worst(1, tokens=100))
    assert caught.value.code == "token_limit"
    ledger.settle(first, record("r1", 1, input_tokens=40, output_tokens=10))
    assert n(tables.period_item("sales"), "tokens_available") == 200
    ledger.reserve(tenant, "r2", worst(1, tokens=100))
    with pytest.raises(LimitExceeded) as caught:
        ledger.reserve(tenant, "r3", worst(1, tokens=251))
    assert caught.value.code == "token_limit"


def test_blocked_tenant(tables, clock):
    ledger = ledger_for(tables, clock)
    tenant = make_tenant(budget={"limitUsd": "1", "period": "DAILY"})
    ledger.release(ledger.reserve(tenant, "r1", worst(1)))
    # The budget alert's write (BudgetAlerts goes through the same method): the head and every shard.
    assert ledger.block(tenant, "PERIOD#2026-11-22", {"source": {"S": "test"}})
    with pytest.raises(LimitExceeded) as caught:
        ledger.reserve(tenant, "r2", worst(1))
    assert caught.value.code == "tenant_blocked"
    assert caught.value.retry_after_seconds == 12 * 3600 - 30


def test_an_expired_hold_of_a_crashed_request_is_spent_by_the_sweep_never_given_back(tables, clock):
    ledger = ledger_for(tables, clock)
    tenant = make_tenant(budget={"limitUsd": "0.000001"})
    ledger.reserve(tenant, "crashed", worst(800))  # never settled: the function died
    assert ledger.sweep_expired(tenant, clock.now) == 0  # not expired yet: nothing to charge
    clock.advance(HOLD_SECONDS + 1)
    assert ledger.sweep_expired(tenant, clock.now) == 1
    assert ledger.sweep_expired(tenant, clock.now) == 0  # claimed once
    item = tables.period_item("sales")
    assert holds(item) == []
    assert n(item, "spent_nanos") == 800  # Bedrock may have billed it: charged at the worst case
    assert n(item, "available_nanos") == 200
    assert n(item, "in_flight") == 0
    [call] = tables.call_records("sales")
    assert call["estimated"] == {"BOOL": True}
    assert n(call, "cost_nanos") == 800
    with pytest.raises(LimitExceeded):
        ledger.reserve(tenant, "later", worst(800))


def test_a_settle_after_its_hold_was_swept_records_nothing_twice(tables, clock):
    ledger = ledger_for(tables, clock)
    tenant = make_tenant(budget={"limitUsd": "0.000001"})
    slow = ledger.reserve(tenant, "slow", worst(800))
    clock.advance(HOLD_SECONDS + 1)
    assert ledger.sweep_expired(tenant, clock.now) == 1
    result = ledger.settle(slow, record("slow", 500))
    assert result.hold_was_reclaimed
    item = tables.period_item("sales")
    assert (n(item, "spent_nanos"), n(item, "available_nanos"), n(item, "requests")) == (800, 200, 1)
    assert len(tables.call_records("sales")) == 1


def test_a_changed_budget_moves_available_by_the_difference_on_a_fresh_read(tables, clock):
    ledger = ledger_for(tables, clock)
    tenant = make_tenant(budget={"limitUsd": "0.000001"})
    ledger.settle(ledger.reserve(tenant, "r1", worst(600)), record("r1", 600))
    raised = replace(tenant, budget_limit_nanos=5_000)
    ledger.reserve(raised, "r2", worst(1_000), reload_tenant=lambda tenant_id: raised)
    item = tables.period_item("sales")
    assert n(item, "limit_nanos") == 5_000
    assert n(item, "available_nanos") == 5_000 - 600 - 1_000


def test_period_status(tables, clock):
    ledger = ledger_for(tables, clock)
    tenant = make_tenant()
    ledger.settle(ledger.reserve(tenant, "r1", worst(1_000)), record("r1", 400))
    ledger.reserve(tenant, "r2", worst(2_000))
    status = ledger.period_status(tenant)
    assert (status.spent_nanos, status.held_nanos, status.requests) == (400, 2_000, 1)
    assert status.available_nanos == 500_000_000 - 400 - 2_000


def test_unreachable_dynamodb_is_503(clock):
    import boto3
    from botocore.config import Config

    from tests.conftest import free_port

    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=1),
    )
    ledger = Ledger(client, "ledger", hold_lifetime_seconds=60, call_record_retention_days=1, clock=clock)
    with pytest.raises(ServiceUnavailable) as caught:
        ledger.reserve(make_tenant(), "r1", worst(1))
    assert caught.value.status == 503


def test_a_ledger_limit_newer_than_the_cached_config_is_kept(tables, clock):
    ledger = ledger_for(tables, clock)
    stale = make_tenant(budget={"limitUsd": "0.000001"})  # 1000 nanos
    ledger.settle(ledger.reserve(stale, "r1", worst(600)), record("r1", 600))
    # The budget sync raised the budget to 5000 nanos: the head moved by the exact delta.
    assert ledger.move_limit(stale, "PERIOD#2026-11", 5_000) == 4_000
    fresh = replace(stale, budget_limit_nanos=5_000)
    reservation = ledger.reserve(stale, "r2", worst(1_000), reload_tenant=lambda tenant_id: fresh)
    assert reservation.limit_nanos == 5_000
    item = tables.period_item("sales")
    assert n(item, "limit_nanos") == 5_000
    assert n(item, "available_nanos") == 5_000 - 600 - 1_000


def test_a_request_across_midnight_settles_in_the_period_it_reserved_in(tables, clock):
    from datetime import UTC, datetime

    ledger = ledger_for(tables, clock)
    tenant = make_tenant(budget={"limitUsd": "0.000001", "period": "DAILY"})
    clock.now = datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC).timestamp()
    reservation = ledger.reserve(tenant, "late", worst(900))
    clock.advance(2)  # 2026-12-01T00:00:01Z
    ledger.settle(reservation, record("late", 900))
    fresh = ledger.reserve(tenant, "early", worst(900))  # a new day: the whole budget again
    assert (reservation.period_key, fresh.period_key) == ("PERIOD#2026-11-30", "PERIOD#2026-12-01")
    items = tables.ledger_items("sales", "PERIOD#")
    november = period_view([item for item in items if item["sk"]["S"].startswith("PERIOD#2026-11-30")])
    december = period_view([item for item in items if item["sk"]["S"].startswith("PERIOD#2026-12-01")])
    assert n(november, "spent_nanos") == 900
    assert n(december, "available_nanos") == 100
    assert "spent_nanos" not in december


# -- through the handler: the limits the sharded ledger adds -------------------------------------


def _handle(gateway, **changes):
    import json as _json

    from tests.service.conftest import converse_body, load_event

    response = gateway.handle(load_event("converse", body=converse_body(), **changes))
    return response["statusCode"], _json.loads(response["body"])


def test_max_in_flight_is_a_429_too_many_in_flight_through_the_handler(gateway_factory):
    import json as _json

    from cost_sentry.service.gateway import ApiCall
    from tests.service.conftest import converse_body, tenant_document

    gateway = gateway_factory(tenant_document(limits={"maxInFlight": 1}, ledger={"shards": 4}))
    stream = gateway.service.stream(
        ApiCall(request_id="open", api_key_id="key-sales", body=_json.dumps(converse_body()).encode())
    )
    next(stream)  # an open stream holds its reservation: one request in flight
    status, body = _handle(gateway)
    assert (status, body["error"]["code"]) == (429, "too_many_in_flight")
    list(stream)  # the stream ends and settles
    assert _handle(gateway)[0] == 200


def test_a_users_budget_is_enforced_through_the_handler_and_other_users_go_on(gateway_factory):
    from tests.service.conftest import tenant_document

    # Worst case per request 152,500 nanos, actual 13,750: the user's 200,000 fit four requests.
    gateway = gateway_factory(tenant_document(users={"defaultLimitUsd": "0.0002"}))
    assert [_handle(gateway, user="alice")[0] for _ in range(4)] == [200] * 4
    status, body = _handle(gateway, user="alice")
    assert (status, body["error"]["code"]) == (429, "user_budget_exhausted")
    assert _handle(gateway, user="bob")[0] == 200
    status, body = _handle(gateway, user=None)  # no user header would dodge every per-user cap: refused
    assert (status, body["error"]["code"]) == (403, "user_required")
    [alice] = [
        item for item in gateway.tables.ledger_items("sales", "USER#") if item["sk"]["S"].endswith("#alice")
    ]
    assert (n(alice, "spent_nanos"), n(alice, "requests")) == (4 * 13_750, 4)


def test_a_tenant_that_allows_anonymous_admits_requests_without_a_user(gateway_factory):
    from tests.service.conftest import tenant_document

    document = tenant_document(users={"defaultLimitUsd": "0.0002", "allowAnonymous": True})
    gateway = gateway_factory(document)
    assert _handle(gateway, user=None)[0] == 200  # only the tenant's budget applies
    assert gateway.tables.ledger_items("sales", "USER#") == []


def test_the_budget_route_sums_every_shard(gateway_factory):
    import json as _json

    from tests.service.conftest import load_event, tenant_document

    gateway = gateway_factory(tenant_document(ledger={"shards": 4}))
    costs = [_handle(gateway)[1]["cost"]["usd"] for _ in range(12)]
    shards = {
        item["sk"]["S"] for item in gateway.tables.ledger_items("sales", "PERIOD#") if "#S" in item["sk"]["S"]
    }
    assert len(shards) > 1  # the requests were spread over several shards
    body = _json.loads(gateway.handle(load_event("budget"))["body"])
    spent = sum(Decimal(cost) for cost in costs)
    assert Decimal(body["spentUsd"]) == spent > 0
    assert Decimal(body["remainingUsd"]) == Decimal("0.50") - spent  # pool + every shard
    assert (body["requests"], Decimal(body["heldUsd"])) == (12, 0)
