"""The ledger bench: its DynamoDB stand-in writes exactly what moto writes, the WCU per request is flat
with the number in flight, and the simulated 2,400 req/s load never overspends."""

from __future__ import annotations

import contextlib
import random

import pytest

from cost_sentry.adapters.ledger import Ledger
from cost_sentry.core.errors import LimitExceeded
from scripts.devtools import bench_ledger
from scripts.devtools.throttled_dynamodb import ThrottledDynamoDB
from tests.service.conftest import make_tenant


def _exercise(client, table, now) -> None:
    ledger = Ledger(
        client, table, hold_lifetime_seconds=150, clock=now, rng=random.Random(3), sleep=lambda s: None
    )
    tenant = make_tenant(
        budget={"limitUsd": "0.00001"},
        ledger={"shards": 3},
        limits={"requestsPerMinute": 50, "tokensPerPeriod": 5_000, "maxInFlight": 9},
        users={"defaultLimitUsd": "0.000004"},
    )
    held = []
    for number in range(12):
        with contextlib.suppress(LimitExceeded):
            held.append(
                ledger.reserve(tenant, f"r{number}", bench_ledger.WORST.__class__(90, 10, 900), user="u")
            )
    ledger.settle(held[0], bench_ledger.call_record("r0", 500, now()))
    ledger.release(held[1])
    ledger.move_limit(tenant, held[0].period_key, 8_000)
    ledger.block(tenant, held[0].period_key, {"source": {"S": "test"}})


def test_the_stand_in_leaves_exactly_the_items_moto_leaves(tables, clock):
    _exercise(tables.client, tables.ledger, clock)
    stand_in = ThrottledDynamoDB(clock, item_wcu_per_second=float("inf"))
    _exercise(stand_in, "ledger", clock)
    on_moto = sorted(tables.ledger_items("sales"), key=lambda item: (item["pk"]["S"], item["sk"]["S"]))
    assert on_moto == stand_in.items()
    # Each shard, with its holds and call records, in its own partition; each user in the user's.
    partitions = {(item["pk"]["S"], item["sk"]["S"].split("#", 1)[0]) for item in on_moto}
    assert {pk for pk, kind in partitions if kind in ("HOLD", "CALL")} <= {f"sales#S{k}" for k in range(3)}
    assert {pk for pk, kind in partitions if kind == "USER"} == {"sales#U#u"}
    assert {kind for pk, kind in partitions if pk == "sales"} == {"PERIOD"}  # the head only


def test_the_stand_in_refuses_writes_past_the_per_item_rate_and_applies_nothing():
    now = [0.0]
    table = ThrottledDynamoDB(lambda: now[0], item_wcu_per_second=1_000)
    key = {"pk": {"S": "t"}, "sk": {"S": "PERIOD#x#S0"}}
    accepted = 0
    for _ in range(500):
        try:
            table.update_item(
                TableName="l",
                Key=key,
                UpdateExpression="ADD n :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
            accepted += 1
        except Exception as exc:
            assert exc.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert accepted == 100  # a tenth of a second of 1,000 WCU/s, at one instant
    assert table.items("t")[0]["n"] == {"N": "100"}
    now[0] = 1.0
    table.update_item(
        TableName="l", Key=key, UpdateExpression="ADD n :one", ExpressionAttributeValues={":one": {"N": "1"}}
    )


def test_wcu_per_request_is_flat_with_the_number_in_flight():
    costs = [bench_ledger.measure_request(level) for level in (1, 100, 1_000)]
    # Reserve: the shard and the hold's put; settle: the shard and the hold turned into its call record.
    assert {cost.total_wcu for cost in costs} == {4}
    assert {cost.hottest_item_wcu for cost in costs} == {2}
    # Every write of a request is in its shard's partition; the tenant's own partition key takes none.
    assert {cost.hottest_partition_wcu for cost in costs} == {4}
    assert {cost.tenant_partition_wcu for cost in costs} == {0}
    assert max(cost.shard_bytes for cost in costs) - min(cost.shard_bytes for cost in costs) <= 4
    # Each item stays under the 1 KB of one write unit.
    assert max(max(cost.hold_bytes, cost.call_record_bytes, cost.shard_bytes) for cost in costs) < 1_024
    assert bench_ledger.ceiling_new(4, bench_ledger.CHOSEN_SHARDS) >= 2_000


@pytest.mark.slow
@pytest.mark.parametrize("shards", [bench_ledger.CHOSEN_SHARDS, 1])
def test_the_simulated_2400_per_second_load_never_overspends_and_pays_every_call(shards):
    run = bench_ledger.simulate(rate=2_400, seconds=2.0, shards=shards, limit_usd="3.0")
    assert run.overspend_nanos == 0
    assert run.spent_nanos == run.call_record_nanos  # every admitted call (or its swept hold) is paid
    assert run.admitted > 0
    if shards == bench_ledger.CHOSEN_SHARDS:
        # Spread over enough shards the load fits: nothing throttled out, and the budget ran out.
        assert run.unavailable == 0 and run.peak_item_wcu <= 1_100 and run.peak_partition_wcu <= 1_100
        assert run.denied["budget_exhausted"] > 0
