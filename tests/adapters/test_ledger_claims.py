"""A request's one item: put as its hold at reserve, turned into its call record in place by the claim
(moto server). The record is exactly what the call record writer writes, readers never take a hold for
a record, and nothing deletes or rewrites a record once it is one."""

from __future__ import annotations

from dataclasses import replace

from cost_sentry.adapters.ledger import read_tenant_holds
from cost_sentry.adapters.ledger.items import StoredCall, call_item, read_call_item, utc_timestamp
from scripts.cli.reports.ledger import read_call_records
from tests.adapters.ledger_support import ledger_for, n, record, worst
from tests.service.conftest import make_tenant


def test_the_claim_leaves_exactly_the_call_record_under_the_holds_key(tables, clock):
    tenant = make_tenant()
    ledger = ledger_for(tables, clock)
    reservation = ledger.reserve(tenant, "r1", worst(10_000), user="alice", record=record("r1", 0))
    ledger.reserve(tenant, "r2", worst(10_000))  # still in flight
    [hold, _] = sorted(read_tenant_holds(tables.client, tables.ledger, "sales"), key=lambda i: i["sk"]["S"])
    clock.advance(30)
    settled = replace(record("r1", 4_000), user="alice", timestamp=utc_timestamp(clock.now))
    ledger.settle(reservation, settled)

    [call] = tables.call_records("sales")
    assert call["sk"] == hold["sk"] and call["pk"] == hold["pk"]
    # The record's time is the reservation's (its key's), its end in ended_at.
    stored = read_call_item(call)
    assert stored.record == replace(settled, timestamp=utc_timestamp(reservation.reserved_at_ms / 1000))
    expected = call_item(
        StoredCall(
            stored.record,
            "sales",
            reservation.period_key,
            reservation.shard,
            stored.expires_at,
            reservation.reserved_at_ms,
            int(clock.now * 1000),
        )
    )
    # Every attribute the writer writes, none of the hold's own left, and the claim's digest.
    assert {name: value for name, value in call.items() if name != "claim"} == expected
    assert set(call) - set(expected) == {"claim"}

    # The reports' reader sees the record and not the hold still in flight.
    [reported] = list(read_call_records(tables.ledger, tables.client, period="2026-11"))
    assert (reported["requestId"], reported["cost_nanos"], reported["tenant"]) == ("r1", 4_000, "sales")


def test_a_claimed_hold_is_never_claimed_again_nor_deleted(tables, clock):
    tenant = make_tenant()
    ledger = ledger_for(tables, clock)
    reservation = ledger.reserve(tenant, "r1", worst(10_000))
    ledger.settle(reservation, record("r1", 4_000))
    assert ledger.release(reservation) is False  # a release after the settle finds no hold
    assert ledger.settle(reservation, record("r1", 9_000)).hold_was_reclaimed  # counted once
    [call] = tables.call_records("sales")
    assert n(call, "cost_nanos") == 4_000
    view = tables.period_item("sales")
    assert (n(view, "spent_nanos"), n(view, "requests"), n(view, "in_flight")) == (4_000, 1, 0)
    assert n(view, "available_nanos") == 500_000_000 - 4_000


def test_a_release_deletes_the_hold_and_writes_no_record(tables, clock):
    tenant = make_tenant()
    ledger = ledger_for(tables, clock)
    assert ledger.release(ledger.reserve(tenant, "r1", worst(10_000)))
    assert read_tenant_holds(tables.client, tables.ledger, "sales") == []
    assert tables.call_records("sales") == []
