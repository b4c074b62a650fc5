"""Issue 14's ledger findings, one focused test each, written against the ``Ledger`` facade. Each checks
both sides where both apply: nothing is admitted past the limit, and what fits is admitted.

They fail on the ledger as issue 14 found it; each docstring quotes the finding."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest

from cost_sentry.adapters.ledger import Ledger
from cost_sentry.core.errors import LimitExceeded
from cost_sentry.core.log import JsonLogger
from tests.adapters.ledger_model_support import IdempotentTokens, PausingClient, is_shard_credit
from tests.adapters.ledger_support import HOLD_SECONDS, record, worst
from tests.service.conftest import make_tenant

NOV_30_LAST_MINUTE = 1_796_083_170.0  # 2026-11-30T23:59:30Z
DEC_1 = 1_796_083_200.0  # 2026-12-01T00:00:00Z


class FirstShard(random.Random):
    """Each random shard choice takes the next scripted shard when it is a candidate, else the first
    candidate: the tests decide where requests land."""

    def __init__(self, *scripted: int) -> None:
        super().__init__(0)
        self.scripted = list(scripted)

    def choice(self, seq: Any) -> Any:
        if self.scripted and self.scripted[0] in seq:
            return self.scripted.pop(0)
        return seq[0]


def quiet_ledger(client: Any, tables, clock, **options: Any) -> Ledger:
    return Ledger(
        client,
        tables.ledger,
        hold_lifetime_seconds=HOLD_SECONDS,
        call_record_retention_days=30,
        clock=clock,
        sleep=lambda seconds: None,
        logger=JsonLogger(sink=lambda line: None),
        **options,
    )


def test_an_overrun_on_one_shard_is_charged_to_the_whole_tenant(tables, clock):
    """Issue 14: "An overrun on one shard is never charged to the tenant. Admission sums
    max(available, 0) over the shards and steals treat a negative donor as 0." Item 2: admission uses
    the signed sum."""
    ledger = quiet_ledger(tables.client, tables, clock, rng=FirstShard(3))
    tenant = make_tenant(budget={"limitUsd": "0.00001"}, ledger={"shards": 4})  # 10,000 nanos
    overrun = ledger.reserve(tenant, "overrun", worst(1_000))  # shard 3, prefunded 1,250; pool 5,000
    ledger.settle(overrun, record("overrun", 5_000))  # billed 4,000 beyond its reservation
    # 5,000 of 10,000 billed: 5,000 left, whatever the shards' own bookkeeping says (shard 3 is at -3,750,
    # the others at 1,250). The next requests land on shard 0.
    with pytest.raises(LimitExceeded) as caught:
        ledger.reserve(tenant, "too-much", worst(5_001))
    assert caught.value.code == "budget_exhausted"
    ledger.reserve(tenant, "fits", worst(5_000))  # and exactly what is left is admitted
    assert ledger.period_status(tenant).available_nanos == 0


def test_a_new_period_opens_at_the_proven_limit_not_a_cached_one(tables, clock):
    """Issue 14: "A new period starts from an unproven limit. The head is created from the container's
    cached config with no fresh read; a container that has not yet seen a lowered limit opens the next
    month at the old, higher one, and a one-shard tenant, fully prefunded, never runs a refill round to
    notice." Item 3: a period opens at a proven limit."""
    clock.now = NOV_30_LAST_MINUTE
    ledger = quiet_ledger(tables.client, tables, clock)
    cached = make_tenant(budget={"limitUsd": "0.50"})  # what this container read at its cold start
    fresh = replace(cached, budget_limit_nanos=10_000_000)  # the config now says USD 0.01
    ledger.release(ledger.reserve(cached, "november", worst(1_000)))
    assert ledger.move_limit(cached, "PERIOD#2026-11", 10_000_000) == -490_000_000  # the budget sync
    clock.now = DEC_1 + 30
    with pytest.raises(LimitExceeded) as caught:
        ledger.reserve(cached, "over", worst(20_000_000), reload_tenant=lambda tenant_id: fresh)
    assert caught.value.code == "budget_exhausted"
    assert ledger.period_status(fresh).limit_nanos == 10_000_000
    ledger.reserve(cached, "fits", worst(10_000_000), reload_tenant=lambda tenant_id: fresh)


def test_max_in_flight_holds_across_a_period_boundary(tables, clock):
    """Issue 14: "max_in_flight doubles at a period boundary (the counter lives on each period's
    shards)"."""
    clock.now = NOV_30_LAST_MINUTE
    ledger = quiet_ledger(tables.client, tables, clock)
    tenant = make_tenant(limits={"maxInFlight": 2})
    old = [ledger.reserve(tenant, f"november-{number}", worst(1_000)) for number in range(2)]
    clock.now = DEC_1 + 10  # both still running (their holds expire 150 s after they started)
    with pytest.raises(LimitExceeded) as caught:
        ledger.reserve(tenant, "december-0", worst(1_000))
    assert caught.value.code == "too_many_in_flight"
    ledger.settle(old[0], record("november-0", 500))
    ledger.reserve(tenant, "december-1", worst(1_000))  # one ended: one more fits


def test_a_token_limit_added_mid_period_counts_the_requests_in_flight(tables, clock):
    """Issue 14: "a token limit added mid-period never counts the requests in flight"."""
    ledger = quiet_ledger(tables.client, tables, clock)
    unlimited = make_tenant()
    running = ledger.reserve(unlimited, "running", worst(1_000, tokens=300))  # may use 300 tokens
    limited = replace(unlimited, tokens_per_period=500)
    with pytest.raises(LimitExceeded) as caught:
        ledger.reserve(limited, "too-many", worst(1_000, tokens=300))  # 300 + 300 > 500
    assert caught.value.code == "token_limit"
    ledger.reserve(limited, "fits", worst(1_000, tokens=200))  # 300 + 200 = 500
    ledger.settle(running, record("running", 1_000, input_tokens=290, output_tokens=10))
    with pytest.raises(LimitExceeded) as caught:
        ledger.reserve(limited, "none-left", worst(1, tokens=1))
    assert caught.value.code == "token_limit"


def test_a_settle_after_the_sweep_claimed_its_hold_is_told_so_not_failed(tables, clock):
    """Issue 14: "settle and sweep claim a hold with the same ClientRequestToken seed but different
    parameters (DynamoDB's IdempotentParameterMismatch is then treated as ambiguous and raises a false
    SettleFailed)". moto ignores ClientRequestToken; ``IdempotentTokens`` answers as DynamoDB does."""
    client = IdempotentTokens(tables.client, clock)
    ledger = quiet_ledger(client, tables, clock)
    tenant = make_tenant()
    reservation = ledger.reserve(tenant, "slow", worst(10_000))
    clock.advance(HOLD_SECONDS + 1)
    assert ledger.sweep_expired(tenant, clock.now) == 1  # charged at its worst case
    result = ledger.settle(reservation, record("slow", 4_000))  # the call ends just after
    assert result.hold_was_reclaimed
    status = ledger.period_status(tenant)
    assert (status.spent_nanos, status.in_flight, status.requests) == (10_000, 0, 1)  # counted once


def test_budget_in_transit_between_two_writes_is_not_a_false_budget_exhausted(tables, clock):
    """Issue 14: "False denials at the start of every period ... The likely cause: a refill debits the
    pool and credits the shard in two writes, and a reader between them sees nothing anywhere." Item 4:
    a request is refused for budget only when the tenant as a whole cannot hold it, counting budget in
    transit as available."""
    tenant = make_tenant(budget={"limitUsd": "0.000016"}, ledger={"shards": 4})  # 16,000 nanos
    other = quiet_ledger(tables.client, tables, clock, rng=FirstShard())  # a concurrent container
    outcome: dict[str, Any] = {}

    def concurrent_request() -> None:
        # 16,000 - 2,000 - 100 = 13,900 is free; 2,000 of it is between the pool and shard 0 right now.
        try:
            outcome["admitted"] = other.reserve(tenant, "concurrent", worst(13_000))
        except LimitExceeded as denied:
            outcome["denied"] = denied

    paused = PausingClient(tables.client, at=is_shard_credit, meanwhile=concurrent_request)
    ledger = quiet_ledger(paused, tables, clock, rng=FirstShard())
    ledger.reserve(tenant, "first", worst(2_000))  # the period's head; shard 0 prefunded 2,000, all taken
    ledger.reserve(tenant, "small", worst(100))  # shard 0 is short: a refill, paused between its writes
    assert paused.fired
    assert "denied" not in outcome, f"false denial: {outcome.get('denied')}"
    # And nothing past the limit: 2,000 + 100 + 13,000 are held, 900 are left.
    with pytest.raises(LimitExceeded):
        other.reserve(tenant, "over", worst(901))
    other.reserve(tenant, "last", worst(900))
