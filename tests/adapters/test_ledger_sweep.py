"""The scheduled ledger sweep through its Lambda entry point (moto server): a killed request is charged
its worst case at expiry, and the period is brought to a freshly read config."""

from __future__ import annotations

import json
import time

from cost_sentry.adapters.ledger import Ledger
from cost_sentry.core.periods import period_key
from cost_sentry.handlers import ledger_sweep
from tests.adapters.ledger_support import HOLD_SECONDS, ledger_for, n, record, worst
from tests.service.conftest import make_tenant, tenant_document


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
