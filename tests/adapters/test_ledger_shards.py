"""The sharded ledger on DynamoDB (moto server): constant-size items, refills and steals, the count limits
split across shards, per-user budgets, limit changes (issue 7 items 4 and 5), the sweep, the status."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cost_sentry.adapters.config_store import ConfigStore
from cost_sentry.adapters.ledger import is_hold
from cost_sentry.adapters.tables import item_size_bytes, write_units
from cost_sentry.core.errors import LimitExceeded
from tests.adapters.ledger_support import (
    HOLD_SECONDS,
    FailingClient,
    items_by_key,
    ledger_for,
    n,
    record,
    shards_of,
    worst,
)
from tests.service.conftest import make_tenant

PERIOD = "PERIOD#2026-11"


def test_every_item_deciding_admission_stays_the_same_size_with_1000_holds_in_flight(tables, clock):
    ledger = ledger_for(tables, clock)
    tenant = make_tenant(
        budget={"limitUsd": "100"}, limits={"requestsPerMinute": 100_000, "tokensPerPeriod": 10**9}
    )
    sizes: dict[int, tuple[int, int]] = {}
    for number in range(1, 1001):
        ledger.reserve(tenant, f"r{number:04d}", worst(123_457 + number))
        if number in (1, 10, 100, 1000):
            items = items_by_key(tables)
            sizes[number] = (item_size_bytes(items[PERIOD]), item_size_bytes(items[PERIOD + "#S0"]))
    heads = {head for head, _ in sizes.values()}
    shard_sizes = [shard for _, shard in sizes.values()]
    assert len(heads) == 1  # the head is not written on the hot path at all
    # The shard only changes by the digits of its counters (in_flight 1 -> 1000), never by the holds.
    assert max(shard_sizes) - min(shard_sizes) <= 8, sizes
    assert write_units(max(shard_sizes)) == 1
    holds = [item for item in items_by_key(tables).values() if is_hold(item)]
    assert len(holds) == 1000  # one small item each, touching nothing shared
    print(f"head and shard bytes at 1/10/100/1000 in flight: {sizes}")


def test_sequential_requests_use_the_whole_budget_across_shards_without_a_false_denial(tables, clock):
    ledger = ledger_for(tables, clock)
    tenant = make_tenant(budget={"limitUsd": "0.00001"}, ledger={"shards": 4})  # 10,000 nanos
    admitted = []
    with pytest.raises(LimitExceeded) as caught:
        for number in range(20):
            admitted.append(ledger.reserve(tenant, f"r{number}", worst(1_000)))
    assert caught.value.code == "budget_exhausted"
    assert len(admitted) == 10  # pool slices, then steals from the other shards: every nano usable
    shards = shards_of(tables)
    head = items_by_key(tables)[PERIOD]
    assert n(head, "pool_nanos") + sum(n(shard, "allocated_nanos") for shard in shards) == 10_000
    assert sum(n(shard, "available_nanos") for shard in shards) == 0
    assert {reservation.shard for reservation in admitted} <= {0, 1, 2, 3}


def test_a_new_period_spreads_half_its_budget_over_the_shards_so_first_requests_skip_the_refill(
    tables, clock
):
    counting = FailingClient(tables.client, "none", "", count=0)
    ledger = ledger_for(tables, clock, counting)
    tenant = make_tenant(budget={"limitUsd": "100"}, ledger={"shards": 16})  # 10^11 nanos
    ledger.reserve(tenant, "first", worst(1_000))
    head = items_by_key(tables)[PERIOD]
    shards = shards_of(tables)
    assert counting.calls["transact_write_items"] == 1  # the head and 16 shards, atomically
    assert len(shards) == 16
    assert {n(shard, "allocated_nanos") for shard in shards} == {10**11 // 32}
    assert n(head, "pool_nanos") == 10**11 - 16 * (10**11 // 32)  # the other half, for refills
    counting.calls.clear()
    for number in range(64):  # random shards, each already funded: one shard write and the hold's put
        ledger.reserve(tenant, f"r{number}", worst(1_000))
    assert counting.calls == {"update_item": 64, "put_item": 64}
    assert n(items_by_key(tables)[PERIOD], "pool_nanos") == n(head, "pool_nanos")


def test_a_one_shard_tenant_gets_its_whole_budget_in_the_shard(tables, clock):
    ledger = ledger_for(tables, clock)
    tenant = make_tenant(budget={"limitUsd": "1"}, ledger={"shards": 1})
    reservation = ledger.reserve(tenant, "first", worst(1_000))
    assert n(items_by_key(tables)[PERIOD], "pool_nanos") == 0
    assert reservation.available_after == 10**9 - 1_000  # the tenant's remaining budget, exactly


def test_requests_per_minute_and_in_flight_are_split_exactly_across_shards(tables, clock):
    ledger = ledger_for(tables, clock)
    tenant = make_tenant(ledger={"shards": 4}, limits={"requestsPerMinute": 10, "maxInFlight": 6})
    held = [ledger.reserve(tenant, f"a{number}", worst(1)) for number in range(6)]
    with pytest.raises(LimitExceeded) as caught:
        ledger.reserve(tenant, "a6", worst(1))
    assert caught.value.code == "too_many_in_flight"
    assert caught.value.status == 429
    for reservation in held:
        ledger.settle(reservation, record(reservation.request_id, 1))
    for number in range(4):
        ledger.release(ledger.reserve(tenant, f"b{number}", worst(1)))
    with pytest.raises(LimitExceeded) as caught:
        ledger.reserve(tenant, "b4", worst(1))
    assert caught.value.code == "rate_limited"  # exactly 10 in the minute, whichever shards took them
    assert sum(n(shard, "rpm_202611221200") for shard in shards_of(tables)) == 10


def test_a_killed_request_is_charged_at_expiry_and_frees_its_in_flight_slot(tables, clock):
    ledger = ledger_for(tables, clock)
    tenant = make_tenant(limits={"maxInFlight": 1})
    ledger.reserve(tenant, "killed", worst(5_000))  # the function died: no settle, no release
    with pytest.raises(LimitExceeded):
        ledger.reserve(tenant, "next", worst(1))
    clock.advance(HOLD_SECONDS + 1)
    assert ledger.sweep_expired("sales", clock.now) == 1
    [shard] = shards_of(tables)
    assert (n(shard, "spent_nanos"), n(shard, "in_flight")) == (5_000, 0)
    assert n(shard, "available_nanos") == 500_000_000 - 5_000  # never credited back
    ledger.reserve(tenant, "next", worst(1))


def test_per_user_budgets_are_enforced_with_the_tenants(tables, clock):
    ledger = ledger_for(tables, clock)
    tenant = make_tenant(users={"defaultLimitUsd": "0.000003", "limitsUsd": {"vip": "0.00001"}})
    first = ledger.reserve(tenant, "a1", worst(2_000), user="alice")
    with pytest.raises(LimitExceeded) as caught:
        ledger.reserve(tenant, "a2", worst(2_000), user="alice")
    assert caught.value.code == "user_budget_exhausted"
    ledger.settle(first, record("a1", 500, user="alice"))
    ledger.reserve(tenant, "a3", worst(2_000), user="alice")  # 3000 - 500 left: fits
    for number in range(5):
        ledger.reserve(tenant, f"v{number}", worst(2_000), user="vip")  # the override: 10,000
    with pytest.raises(LimitExceeded) as caught:
        ledger.reserve(tenant, "v5", worst(2_000), user="vip")
    assert caught.value.code == "user_budget_exhausted"
    ledger.reserve(tenant, "anonymous", worst(2_000))  # no user: only the tenant's budget
    items = items_by_key(tables)
    assert n(items["USER#2026-11#alice"], "available_nanos") == 3_000 - 500 - 2_000
    assert n(items["USER#2026-11#alice"], "spent_nanos") == 500
    assert n(items["USER#2026-11#vip"], "available_nanos") == 0


def test_a_user_denied_by_the_tenant_gets_the_user_amount_back(tables, clock):
    ledger = ledger_for(tables, clock)
    tenant = make_tenant(budget={"limitUsd": "0.000001"}, users={"defaultLimitUsd": "1"})
    with pytest.raises(LimitExceeded) as caught:
        ledger.reserve(tenant, "r1", worst(2_000), user="alice")  # bigger than the tenant's budget
    assert caught.value.code == "budget_exhausted"
    ledger.reserve(tenant, "r2", worst(1_000), user="alice")
    with pytest.raises(LimitExceeded) as caught:
        ledger.reserve(tenant, "r3", worst(1), user="alice")
    assert caught.value.code == "budget_exhausted"
    assert n(items_by_key(tables)["USER#2026-11#alice"], "available_nanos") == 1_000_000_000 - 1_000


def test_item_4_a_failed_config_reload_never_rebases_the_ledger_to_a_stale_limit(tables, clock):
    ledger = ledger_for(tables, clock)
    cached = make_tenant(budget={"limitUsd": "0.50"})
    ledger.settle(ledger.reserve(cached, "r1", worst(2_000_000)), record("r1", 2_000_000))
    # The budget sync lowered the budget to $0.01 (head moved, shards clawed back).
    assert ledger.move_limit(cached, PERIOD, 10_000_000) == -490_000_000
    # This container still caches $0.50, and its forced reload fails (or is skipped): no proof.
    with pytest.raises(LimitExceeded) as caught:
        ledger.reserve(cached, "r2", worst(9_000_000), reload_tenant=lambda tenant_id: None)
    assert caught.value.code == "budget_exhausted"
    view = tables.period_item("sales")
    assert (n(view, "limit_nanos"), n(view, "available_nanos")) == (10_000_000, 8_000_000)
    ledger.reserve(cached, "r3", worst(8_000_000), reload_tenant=lambda tenant_id: None)


def test_item_4_the_config_store_gives_no_tenant_when_its_reload_fails(tables):
    failing = FailingClient(tables.client, "get_paginator", "InternalServerError", count=0)
    tables.put_tenant(__import__("tests.service.conftest", fromlist=["x"]).tenant_document())
    now = [1_000.0]
    store = ConfigStore(failing, tables.config, refresh_seconds=300, clock=lambda: now[0])
    assert store.tenant_for_api_key("key-sales") is not None  # cached at cold start
    now[0] += 2  # the cache is older than a forced read may be (a read within the window is proof)
    failing.count = 1
    assert store.reload_tenant("sales") is None  # the old store answered with its stale cache
    assert store.reload_tenant("sales") is None  # skipped (within a second of the failure): still none


def test_item_5_a_token_limit_added_mid_period_counts_the_tokens_already_used(tables, clock):
    ledger = ledger_for(tables, clock)
    unlimited = make_tenant()
    for number in range(3):
        reservation = ledger.reserve(unlimited, f"r{number}", worst(10))
        ledger.settle(reservation, record(reservation.request_id, 10, input_tokens=90, output_tokens=10))
    limited = replace(unlimited, tokens_per_period=500)  # 300 of them are used already
    with pytest.raises(LimitExceeded) as caught:
        ledger.reserve(limited, "big", worst(10, tokens=250))
    assert caught.value.code == "token_limit"
    ledger.reserve(limited, "small", worst(10, tokens=200))
    assert ledger.period_status(limited).tokens_available == 0


def test_a_lowered_limit_claws_back_the_shards_unspent_budget(tables, clock):
    ledger = ledger_for(tables, clock)
    tenant = make_tenant(budget={"limitUsd": "0.00001"}, ledger={"shards": 4})
    for number in range(4):  # fund every shard
        ledger.settle(ledger.reserve(tenant, f"r{number}", worst(1_000)), record(f"r{number}", 1_000))
    assert ledger.move_limit(tenant, PERIOD, 6_000) == -4_000
    status = ledger.period_status(replace(tenant, budget_limit_nanos=6_000))
    assert (status.spent_nanos, status.available_nanos) == (4_000, 2_000)
    assert sum(max(n(shard, "available_nanos"), 0) for shard in shards_of(tables)) <= 2_000
    for number in range(2):
        ledger.reserve(tenant, f"after{number}", worst(1_000))
    with pytest.raises(LimitExceeded):
        ledger.reserve(tenant, "over", worst(1_000))


def test_the_sweep_maintenance_rebases_on_its_fresh_config_and_drains_removed_shards(tables, clock):
    ledger = ledger_for(tables, clock)
    wide = make_tenant(budget={"limitUsd": "0.00001"}, ledger={"shards": 4})
    for number in range(8):
        ledger.release(ledger.reserve(wide, f"r{number}", worst(2_000)))
    narrow = replace(wide, ledger_shards=1, budget_limit_nanos=20_000)
    moved = ledger.maintain(narrow)
    assert moved["rebased"] == 10_000
    status = ledger.period_status(narrow)
    assert (status.limit_nanos, status.available_nanos) == (20_000, 20_000)
    assert all(n(shard, "available_nanos") == 0 for shard in shards_of(tables)[1:])
    ledger.reserve(narrow, "all", worst(20_000))


def test_status_sums_the_head_and_every_shard(tables, clock):
    ledger = ledger_for(tables, clock)
    tenant = make_tenant(ledger={"shards": 8})
    for number in range(20):
        reservation = ledger.reserve(tenant, f"r{number}", worst(10_000))
        if number % 2:
            ledger.settle(reservation, record(reservation.request_id, 4_000))
    status = ledger.period_status(tenant)
    assert (status.spent_nanos, status.held_nanos, status.requests, status.in_flight) == (
        40_000,
        100_000,
        10,
        10,
    )
    assert status.available_nanos == 500_000_000 - 40_000 - 100_000
    assert status.shards >= 1


def test_each_shard_is_its_own_partition_and_readers_find_shards_added_and_removed_mid_period(tables, clock):
    """Shard k, its holds and its call records live under pk = sales#S<k>; the head records the most shards
    the period used, so a refill, GET /v1/budget and the sweep still read a shard after the count drops."""
    ledger = ledger_for(tables, clock)
    two = make_tenant(budget={"limitUsd": "1.00"}, ledger={"shards": 2})
    four = replace(two, ledger_shards=4)
    one = replace(two, ledger_shards=1)
    settled = ledger.reserve(two, "first", worst(1_000))
    ledger.settle(settled, record("first", 600))
    # Raised to four: requests land on the new shards too (the head is raised before they are funded).
    held = [ledger.reserve(four, f"r{number}", worst(1_000)) for number in range(40)]
    assert max(reservation.shard for reservation in held) >= 2
    late = next(reservation for reservation in held if reservation.shard >= 2)
    items = tables.ledger_items("sales")
    by_sort_key = {item["sk"]["S"]: item["pk"]["S"] for item in items}
    assert by_sort_key[PERIOD] == "sales" and n(items_by_key(tables)[PERIOD], "shards") == 4
    for reservation in [settled, *held]:
        assert by_sort_key[f"{PERIOD}#S{reservation.shard}"] == f"sales#S{reservation.shard}"
    for reservation in held:
        hold = next(
            sk for sk in by_sort_key if sk.startswith("CALL#") and sk.endswith(f"#{reservation.request_id}")
        )
        assert by_sort_key[hold] == f"sales#S{reservation.shard}"
    [call] = tables.call_records("sales")
    assert (call["pk"]["S"], call["tenant"]["S"]) == (f"sales#S{settled.shard}", "sales")

    # Lowered to one: the status and the sweep still see every shard the period used.
    status = ledger.period_status(one)
    assert status.shards == len({reservation.shard for reservation in [settled, *held]})
    assert (status.spent_nanos, status.held_nanos, status.in_flight) == (600, 40_000, 40)
    for reservation in held:
        if reservation is not late:
            ledger.release(reservation)
    clock.advance(HOLD_SECONDS + 1)
    assert ledger.sweep_expired(one, clock()) == 1  # the hold on shard >= 2, which config no longer has
    status = ledger.period_status(one)
    assert (status.spent_nanos, status.held_nanos, status.in_flight) == (1_600, 0, 0)
