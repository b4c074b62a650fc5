"""Ledger writes under DynamoDB faults, injected with a client wrapper: refusals DynamoDB guarantees it
did not apply (throttling, transaction conflicts) are retried and the spend is kept; an ambiguous failure
of a counter write is never resent, and the hold it leaves is charged at expiry."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cost_sentry.adapters.ledger import MAX_WRITE_ATTEMPTS, LedgerWriteFailed, read_tenant_holds
from tests.adapters.ledger_model_support import CrashSwitch, is_hold_claim
from tests.adapters.ledger_support import HOLD_SECONDS, FailingClient, ledger_for, n, record, shards_of, worst
from tests.service.conftest import make_tenant


@pytest.mark.parametrize(
    "code", ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"]
)
def test_a_settle_meeting_throttling_keeps_the_spend(tables, clock, code):
    tenant = make_tenant()
    reservation = ledger_for(tables, clock).reserve(tenant, "r1", worst(10_000))
    failing = FailingClient(tables.client, "update_item", code, count=MAX_WRITE_ATTEMPTS - 1)
    result = ledger_for(tables, clock, failing).settle(reservation, record("r1", 4_000))
    assert not result.hold_was_reclaimed
    # Three refusals of the shard write, then it went through, then the claim: two single writes.
    assert failing.calls["update_item"] == MAX_WRITE_ATTEMPTS + 1
    assert failing.calls["transact_write_items"] == 0
    view = tables.period_item("sales")
    assert (n(view, "spent_nanos"), n(view, "in_flight")) == (4_000, 0)
    assert n(view, "available_nanos") == 500_000_000 - 4_000
    assert [n(call, "cost_nanos") for call in tables.call_records("sales")] == [4_000]
    assert [name for name in view if name.startswith("hold_")] == []


@dataclass
class ClaimFaults:
    """A client whose claims (the UpdateItem turning a hold into its call record) fail ``count`` times
    with a 500: ``applied`` says whether DynamoDB applied each one before the answer was lost."""

    client: Any
    count: int
    applied: bool
    claims: int = 0

    def __getattr__(self, name: str) -> Any:
        real = getattr(self.client, name)
        if name != "update_item":
            return real

        def update(**request: Any) -> Any:
            if not is_hold_claim(name, request):
                return real(**request)
            self.claims += 1
            if self.count > 0:
                self.count -= 1
                if self.applied:
                    real(**request)
                raise ClientError(
                    {"Error": {"Code": "InternalServerError"}, "ResponseMetadata": {"HTTPStatusCode": 500}},
                    name,
                )
            return real(**request)

        return update


@pytest.mark.parametrize("applied", [False, True])
def test_an_ambiguous_claim_is_resent_and_counts_once(tables, clock, applied):
    """The claim is idempotent (it recognises its own earlier write), so a timeout on it is resent; the
    settle counts once, whether or not the lost attempt had been applied."""
    tenant = make_tenant()
    reservation = ledger_for(tables, clock).reserve(tenant, "r1", worst(10_000))
    faults = ClaimFaults(tables.client, count=2, applied=applied)
    result = ledger_for(tables, clock, faults).settle(reservation, record("r1", 4_000))
    assert not result.hold_was_reclaimed and faults.claims == 3
    view = tables.period_item("sales")
    assert (n(view, "spent_nanos"), n(view, "requests"), n(view, "in_flight")) == (4_000, 1, 0)
    assert n(view, "available_nanos") == 500_000_000 - 4_000
    [call] = tables.call_records("sales")
    assert (n(call, "cost_nanos"), "state" in call, "estimated" in call) == (4_000, False, False)
    clock.advance(HOLD_SECONDS + 1)
    assert ledger_for(tables, clock).sweep_expired(tenant, clock.now) == 0


def test_a_settle_killed_between_its_two_writes_is_charged_once_by_the_sweep(tables, clock):
    """The process dies after the shard write, before the claim: what docs/design.md section 4 says it
    leaves. The hold is still a hold; the sweep charges it at its worst case and turns it into an
    estimated record. The shard's money is right (the settle gave back reserved - actual and the sweep
    takes nothing more from available); its spent and requests count the request twice and its in_flight
    is one low, the over-count on the safe side that reconciliation sees as an estimated record."""
    tenant = make_tenant()
    ledger = ledger_for(tables, clock)
    reservation = ledger.reserve(tenant, "r1", worst(10_000))
    switch = CrashSwitch(tables.client)
    switch.arm(is_hold_claim)
    with pytest.raises(LedgerWriteFailed):
        ledger_for(tables, clock, switch).settle(reservation, record("r1", 4_000))
    assert switch.disarm()
    [hold] = read_tenant_holds(tables.client, tables.ledger, "sales")
    assert tables.call_records("sales") == []
    clock.advance(HOLD_SECONDS + 1)
    assert ledger.sweep_expired(tenant, clock.now) == 1
    assert ledger.sweep_expired(tenant, clock.now) == 0  # once
    view = tables.period_item("sales")
    assert n(view, "available_nanos") == 500_000_000 - 4_000
    assert (n(view, "spent_nanos"), n(view, "requests"), n(view, "in_flight")) == (14_000, 2, -1)
    [call] = tables.call_records("sales")
    assert call["sk"] == hold["sk"] and (n(call, "cost_nanos"), call["estimated"]) == (10_000, {"BOOL": True})


def test_a_settle_still_throttled_after_every_attempt_leaves_the_hold_for_the_sweep(tables, clock):
    tenant = make_tenant()
    ledger = ledger_for(tables, clock)
    reservation = ledger.reserve(tenant, "r1", worst(10_000))
    failing = FailingClient(tables.client, "update_item", "ProvisionedThroughputExceededException", count=99)
    with pytest.raises(LedgerWriteFailed) as caught:
        ledger_for(tables, clock, failing).settle(reservation, record("r1", 4_000))
    assert caught.value.status == 503 and not caught.value.ambiguous
    assert failing.calls["update_item"] == MAX_WRITE_ATTEMPTS  # bounded
    clock.advance(HOLD_SECONDS + 1)
    assert ledger.sweep_expired(tenant, clock.now) == 1
    [shard] = shards_of(tables)
    assert n(shard, "spent_nanos") == 10_000  # the spend is kept, at the worst case
    [call] = tables.call_records("sales")
    assert (n(call, "cost_nanos"), call["estimated"]) == (10_000, {"BOOL": True})


def test_an_ambiguous_counter_write_is_never_resent(tables, clock):
    tenant = make_tenant()
    ledger = ledger_for(tables, clock)
    reservation = ledger.reserve(tenant, "r1", worst(10_000))
    failing = FailingClient(tables.client, "update_item", "InternalServerError", count=1, status=500)
    with pytest.raises(LedgerWriteFailed) as caught:
        ledger_for(tables, clock, failing).settle(reservation, record("r1", 4_000))
    assert caught.value.ambiguous
    assert failing.calls["update_item"] == 1  # a counter applied twice could pass the limit
    # The hold stays; at expiry it is spent at the worst case: the safe direction.
    clock.advance(HOLD_SECONDS + 1)
    assert ledger.sweep_expired(tenant, clock.now) == 1
    assert n(shards_of(tables)[0], "spent_nanos") == 10_000


def test_ledger_faults_are_logged_on_the_one_json_path_with_the_invocations_ids(tables, clock, capsys):
    from cost_sentry.core.log import default_logger

    tenant = make_tenant()
    ledger = ledger_for(tables, clock)
    reservation = ledger.reserve(tenant, "r1", worst(10_000))
    failing = FailingClient(tables.client, "update_item", "InternalServerError", count=1, status=500)
    context = type("Context", (), {"aws_request_id": "lambda-7", "function_name": "cs-gateway"})()
    default_logger().start_invocation(context, correlation_id="r1")
    capsys.readouterr()
    with pytest.raises(LedgerWriteFailed):
        ledger_for(tables, clock, failing).settle(reservation, record("r1", 4_000))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    [line] = [line for line in lines if line["message"] == "ledger_write_failed"]
    assert (line["level"], line["function_request_id"], line["correlation_id"]) == (
        "WARNING",
        "lambda-7",
        "r1",
    )
    assert (line["operation"], line["kind"], line["attempts"]) == ("update_item", "ambiguous", 1)


def test_a_reservation_whose_hold_cannot_be_written_is_undone(tables, clock):
    tenant = make_tenant()
    ledger = ledger_for(tables, clock)
    ledger.release(ledger.reserve(tenant, "warm", worst(1)))  # the shard exists and is funded
    failing = FailingClient(tables.client, "put_item", "ProvisionedThroughputExceededException", count=99)
    with pytest.raises(LedgerWriteFailed):
        ledger_for(tables, clock, failing).reserve(tenant, "r1", worst(10_000))
    view = tables.period_item("sales")
    assert (n(view, "available_nanos"), n(view, "in_flight")) == (500_000_000, 0)


def test_a_throttled_reservation_is_retried_and_admitted_once(tables, clock):
    tenant = make_tenant()
    ledger_for(tables, clock).release(ledger_for(tables, clock).reserve(tenant, "warm", worst(1)))
    failing = FailingClient(tables.client, "update_item", "ThrottlingException", count=2)
    reservation = ledger_for(tables, clock, failing).reserve(tenant, "r1", worst(10_000))
    assert failing.calls["update_item"] == 3
    view = tables.period_item("sales")
    assert n(view, "available_nanos") == 500_000_000 - 10_000 == reservation.available_after
    assert n(view, "in_flight") == 1
