"""The scheduled ledger sweep through its Lambda entry point (moto server): a killed request is charged
its worst case at expiry, and the period is brought to a freshly read config."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from cost_sentry.adapters.ledger import Ledger, read_tenant_holds
from cost_sentry.adapters.ledger.sweep import HOLD_LANDS_WITHIN_SECONDS
from cost_sentry.core.periods import hold_key, period_key
from cost_sentry.handlers import ledger_sweep
from tests.adapters.ledger_support import HOLD_SECONDS, ledger_for, n, record, shards_of, worst
from tests.service.conftest import Clock, make_tenant, tenant_document


def test_the_sweep_function_charges_a_killed_request_and_rebases_on_its_fresh_config_read(
    tables, monkeypatch, capsys
):
    monkeypatch.setenv("LEDGER_TABLE", tables.ledger)
    monkeypatch.setenv("CONFIG_TABLE", tables.config)
    tables.put_tenant(tenant_document(budget={"limitUsd": "0.75"}))
    started = time.time() - 1_000  # the request started long enough ago for its hold to have expired
    killed = Ledger(tables.client, tables.ledger, hold_lifetime_seconds=150, clock=lambda: started)
    cached = make_tenant(budget={"limitUsd": "0.50"})  # the limit the period was created with
    killed.reserve(cached, "killed", worst(70_000), user=None)  # reserved; the function then died

    report = ledger_sweep.handler({}, None)

    assert report["charged"] == {"sales": 1}
    view = tables.period_item("sales")
    assert (n(view, "spent_nanos"), n(view, "in_flight")) == (70_000, 0)
    [call] = tables.call_records("sales")
    assert (call["requestId"]["S"], n(call, "cost_nanos"), call["estimated"]) == (
        "killed",
        70_000,
        {"BOOL": True},
    )
    if period_key("MONTHLY", started) == period_key("MONTHLY", time.time()):
        # The config says 0.75: the sweep's own fresh read is the proof that moves the head.
        assert report["maintained"]["sales"]["rebased"] == 250_000_000
        assert n(view, "limit_nanos") == 750_000_000
        assert n(view, "available_nanos") == 750_000_000 - 70_000
    log = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert log["event"] == "ledger_sweep" and log["HoldsChargedAtExpiry"] == 1

    assert ledger_sweep.handler({}, None)["charged"] == {}  # each hold is charged once


def test_call_records_carry_the_window_the_call_may_have_been_billed_in(tables, clock):
    """The credit matches an estimated charge against CUR over every hour from the reservation to the
    settle (or to the hold's expiry, for a swept call): the records say when those were."""
    ledger = ledger_for(tables, clock)
    tenant = make_tenant()
    reserved_at = clock.now
    settled = ledger.reserve(tenant, "settled", worst(1_000))
    swept = ledger.reserve(tenant, "swept", worst(1_000))
    clock.advance(40)
    ledger.settle(settled, record("settled", 800))
    clock.advance(HOLD_SECONDS)
    assert ledger.sweep_expired(tenant, clock.now) == 1
    calls = {call["requestId"]["S"]: call for call in tables.call_records("sales")}
    assert int(calls["settled"]["reserved_at"]["N"]) == int(reserved_at * 1000)
    assert int(calls["settled"]["ended_at"]["N"]) == int((reserved_at + 40) * 1000)
    assert int(calls["swept"]["reserved_at"]["N"]) == int(reserved_at * 1000)
    assert int(calls["swept"]["ended_at"]["N"]) == swept.expires * 1000


@dataclass
class CountingQueries:
    """Counts the items each Query read (DynamoDB charges a Query for every item it reads, filtered out
    or not)."""

    client: Any
    read: list[int] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        real = getattr(self.client, name)
        if name != "query":
            return real

        def query(**request: Any) -> Any:
            response = real(**request)
            self.read.append(int(response.get("ScannedCount", 0)))
            return response

        return query


def test_the_sweep_reads_only_the_minutes_since_its_mark_not_the_partitions_history(tables, clock):
    tenant = make_tenant()
    ledger = ledger_for(tables, clock)
    for number in range(30):
        ledger.settle(ledger.reserve(tenant, f"old{number}", worst(1_000)), record(f"old{number}", 500))
    clock.advance(HOLD_LANDS_WITHIN_SECONDS + 1)
    counting = CountingQueries(tables.client)
    assert ledger_for(tables, clock, counting).sweep_expired(tenant, clock.now) == 0
    assert sum(counting.read) == 30  # never swept: the partition from its start, once
    clock.advance(60)
    open_hold = ledger.reserve(tenant, "open", worst(1_000))
    counting.read.clear()
    assert ledger_for(tables, clock, counting).sweep_expired(tenant, clock.now) == 0
    assert sum(counting.read) == 1  # the 30 records are behind the mark; only the open hold is read
    # A hold keyed just inside the margin behind a run (its put was slow) is still found by the next one.
    clock.advance(10)
    late = ledger_for(tables, Clock(clock.now - HOLD_LANDS_WITHIN_SECONDS + 5)).reserve(
        tenant, "late", worst(2_000)
    )
    assert late.reserved_at_ms < open_hold.reserved_at_ms
    clock.advance(HOLD_SECONDS + 1)
    assert ledger.sweep_expired(tenant, clock.now) == 2
    [shard] = shards_of(tables)
    assert (n(shard, "spent_nanos"), n(shard, "in_flight")) == (30 * 500 + 3_000, 0)
    assert {call["requestId"]["S"] for call in tables.call_records("sales") if "estimated" in call} == {
        "open",
        "late",
    }


def test_a_hold_of_the_layout_before_is_still_charged_once_at_expiry(tables, clock):
    """Holds a gateway of the previous version left (``HOLD#<p>#<id>``) when this one was deployed."""
    tenant = make_tenant()
    ledger = ledger_for(tables, clock)
    ledger.reserve(tenant, "old", worst(7_000))
    [hold] = read_tenant_holds(tables.client, tables.ledger, "sales")
    tables.client.delete_item(TableName=tables.ledger, Key={"pk": hold["pk"], "sk": hold["sk"]})
    legacy = {name: value for name, value in hold.items() if name != "period"}
    legacy["sk"] = {"S": hold_key("PERIOD#2026-11", "old")}
    tables.client.put_item(TableName=tables.ledger, Item=legacy)
    clock.advance(HOLD_SECONDS + 1)
    assert ledger.sweep_expired(tenant, clock.now) == 1
    assert ledger.sweep_expired(tenant, clock.now) == 0
    assert read_tenant_holds(tables.client, tables.ledger, "sales") == []
    [call] = tables.call_records("sales")
    assert call["sk"] == hold["sk"] and (n(call, "cost_nanos"), call["estimated"]) == (7_000, {"BOOL": True})
    assert n(shards_of(tables)[0], "spent_nanos") == 7_000
