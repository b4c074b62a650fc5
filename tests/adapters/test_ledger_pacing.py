"""Pacing and shadow mode in the ledger on DynamoDB (moto server): a paced budget's pool releases no more
than the pace allows, so day 1 cannot spend the month on one shard or on many; a paced per-user budget
is one more condition on its own item; a tenant in shadow mode is refused nothing for budget, pace or
rate, and records what would have denied it while the ledger stays exact."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from cost_sentry.core.errors import LimitExceeded
from cost_sentry.core.pacing import Pace, pace_at
from tests.adapters.ledger_support import items_by_key, ledger_for, n, record, shards_of, worst
from tests.service.conftest import make_tenant

USD = 1_000_000_000
HALF = USD // 2
NOVEMBER_1_NOON = datetime(2026, 11, 1, 12, tzinfo=UTC).timestamp()
NOVEMBER_2 = datetime(2026, 11, 2, tzinfo=UTC).timestamp()
PERIOD = "PERIOD#2026-11"


def paced_tenant(shards: int = 1, **overrides: object) -> object:
    # USD 30 in a 30-day month: USD 1 a day, plus a burst of 10 % (USD 3).
    return make_tenant(
        budget={"limitUsd": "30", "period": "MONTHLY", "pace": {"burstPercent": "10"}},
        ledger={"shards": shards},
        **overrides,
    )


def held_and_spent(tables, period: str = PERIOD) -> int:
    return sum(
        n(shard, "allocated_nanos") - n(shard, "available_nanos") for shard in shards_of(tables, period)
    )


@pytest.mark.parametrize("shards", [1, 4])
def test_day_one_cannot_spend_the_month(tables, clock, shards):
    clock.now = NOVEMBER_1_NOON  # allowance: USD 3 burst + half a day's USD 1 = USD 3.50
    ledger = ledger_for(tables, clock)
    tenant = paced_tenant(shards)

    admitted = [ledger.reserve(tenant, f"r{number}", worst(HALF)) for number in range(7)]
    with pytest.raises(LimitExceeded) as caught:
        ledger.reserve(tenant, "r7", worst(HALF))

    assert len(admitted) == 7  # exactly USD 3.50 of the USD 30: what fits the pace is admitted
    assert caught.value.code == "pace_exceeded"
    # USD 4.00 fits once one more half day has passed: the moment is real and said.
    assert caught.value.final and caught.value.details["resetsAt"] == "2026-11-02T00:00:00Z"
    assert "paced" in caught.value.message and "USD 3.50 may be spent or held by now" in caught.value.message
    head = items_by_key(tables)[PERIOD]
    assert n(head, "pool_nanos") == 30 * USD - 7 * HALF  # the pool kept the rest back
    assert held_and_spent(tables) == 7 * HALF
    # A request that fits what is left of the pace (nothing) but not the budget's: refused too.
    with pytest.raises(LimitExceeded):
        ledger.reserve(tenant, "tiny", worst(1))


def test_the_pace_admits_at_its_moment_and_not_a_millisecond_before(tables, clock):
    clock.now = NOVEMBER_1_NOON
    ledger = ledger_for(tables, clock)
    tenant = paced_tenant()
    for number in range(7):
        ledger.reserve(tenant, f"r{number}", worst(HALF))

    clock.now = NOVEMBER_2 - 0.001
    with pytest.raises(LimitExceeded) as caught:
        ledger.reserve(tenant, "early", worst(HALF))
    assert caught.value.code == "pace_exceeded"
    assert not caught.value.final and caught.value.headers == {"Retry-After": "1"}  # retryable: 1 s off

    clock.now = NOVEMBER_2
    admitted = ledger.reserve(tenant, "on-time", worst(HALF))

    assert admitted.nanos == HALF
    assert held_and_spent(tables) == 8 * HALF


def test_settled_requests_free_nothing_the_pace_has_not_released(tables, clock):
    clock.now = NOVEMBER_1_NOON
    ledger = ledger_for(tables, clock)
    tenant = paced_tenant()
    for number in range(7):
        reservation = ledger.reserve(tenant, f"r{number}", worst(HALF))
        ledger.settle(reservation, record(f"r{number}", HALF // 5))  # each cost a fifth of its worst case

    # USD 0.70 spent: USD 2.80 of the pace is left, all of it on the shard, none more in the pool.
    admitted = [ledger.reserve(tenant, f"s{number}", worst(HALF)) for number in range(5)]
    with pytest.raises(LimitExceeded) as caught:
        ledger.reserve(tenant, "s5", worst(HALF))

    assert len(admitted) == 5 and caught.value.code == "pace_exceeded"
    assert n(items_by_key(tables)[PERIOD], "pool_nanos") == 30 * USD - 7 * HALF


def test_a_daily_pace_with_an_hours_burst(tables, clock):
    clock.now = datetime(2026, 11, 22, 6, tzinfo=UTC).timestamp()
    ledger = ledger_for(tables, clock)
    # USD 24 a day: USD 1 an hour; 6 hours elapsed plus one hour's burst = USD 7.
    tenant = make_tenant(budget={"limitUsd": "24", "period": "DAILY", "pace": {"burstHours": "1"}})

    admitted = [ledger.reserve(tenant, f"r{number}", worst(USD)) for number in range(7)]
    with pytest.raises(LimitExceeded) as caught:
        ledger.reserve(tenant, "r7", worst(USD))

    assert len(admitted) == 7
    assert caught.value.code == "pace_exceeded"
    assert caught.value.details["resetsAt"] == "2026-11-22T07:00:00Z"


def test_a_paced_user_budget_is_a_condition_on_the_users_own_item(tables, clock):
    clock.now = NOVEMBER_1_NOON
    ledger = ledger_for(tables, clock)
    # alice: USD 3 a month, 10 % burst: USD 0.30 + half a day's USD 0.10 = USD 0.35 by now.
    tenant = make_tenant(
        budget={"limitUsd": "30"},
        users={"limitsUsd": {"alice": "3"}, "pace": {"burstPercent": "10"}},
    )
    step = USD // 20  # USD 0.05

    admitted = [ledger.reserve(tenant, f"a{number}", worst(step), user="alice") for number in range(7)]
    with pytest.raises(LimitExceeded) as caught:
        ledger.reserve(tenant, "a7", worst(step), user="alice")
    with pytest.raises(LimitExceeded) as too_big:
        ledger.reserve(tenant, "bob-big", worst(USD // 2), user="alice")

    assert len(admitted) == 7
    assert caught.value.code == "pace_exceeded" and "user alice's" in caught.value.message
    assert caught.value.details["resetsAt"] == "2026-11-02T00:00:00Z"
    assert too_big.value.code == "pace_exceeded"
    assert n(items_by_key(tables)["USER#2026-11#alice"], "available_nanos") == 3 * USD - 7 * step


def test_paced_holds_never_pass_the_allowance_across_shards(tables, clock):
    clock.now = NOVEMBER_1_NOON
    ledger = ledger_for(tables, clock)
    tenant = paced_tenant(8)
    allowance = pace_at(Pace(burst_ppm=100_000), 30 * USD, "MONTHLY", clock.now).allowance
    costs = [USD // 7 + number * 1_000_003 for number in range(40)]

    admitted = 0
    for number, cost in enumerate(costs):
        try:
            ledger.reserve(tenant, f"r{number}", worst(cost))
            admitted += cost
        except LimitExceeded as denial:
            assert denial.code == "pace_exceeded"
            # Refused only when it truly did not fit the pace.
            assert admitted + cost > allowance

    assert admitted <= allowance
    assert held_and_spent(tables) == admitted
    assert admitted > allowance - max(costs)  # no false "no" while the pace had room


# -- shadow mode --------------------------------------------------------------------------------------


def test_shadow_mode_admits_past_the_budget_and_records_why_it_would_have_denied(tables, clock):
    ledger = ledger_for(tables, clock)
    tenant = make_tenant(budget={"limitUsd": "0.00001"}, enforce=False)  # 10,000 nanos

    first = ledger.reserve(tenant, "r1", worst(6_000))
    second = ledger.reserve(tenant, "r2", worst(6_000))
    huge = ledger.reserve(tenant, "r3", worst(50_000))  # more than the whole budget
    for reservation, cost in ((first, 6_000), (second, 5_000), (huge, 40_000)):
        ledger.settle(reservation, record(reservation.request_id, cost))

    assert first.would_deny is None
    assert second.would_deny == "budget_exhausted" and huge.would_deny == "budget_exhausted"
    status = ledger.period_status(tenant)
    # Reports stay exact: everything spent is recorded, and the overdraft is the negative remainder.
    assert status.spent_nanos == 51_000
    assert status.available_nanos == 10_000 - 51_000
    assert status.held_nanos == 0
    calls = [sk for sk in items_by_key(tables, "sales#S0") if sk.startswith("CALL#")]
    assert len(calls) == 3


def test_shadow_mode_is_refused_nothing_for_pace_or_rate_and_says_which(tables, clock):
    clock.now = NOVEMBER_1_NOON
    ledger = ledger_for(tables, clock)
    paced = paced_tenant(enforce=False)
    limited = make_tenant("support", limits={"requestsPerMinute": 1}, enforce=False)

    codes = [ledger.reserve(paced, f"p{number}", worst(HALF)).would_deny for number in range(9)]
    rates = [ledger.reserve(limited, f"q{number}", worst(1_000)).would_deny for number in range(3)]

    assert codes == [None] * 7 + ["pace_exceeded"] * 2
    assert rates == [None, "rate_limited", "rate_limited"]
    assert held_and_spent(tables) == 9 * HALF


def test_enforced_tenants_are_still_refused(tables, clock):
    ledger = ledger_for(tables, clock)
    tenant = make_tenant(budget={"limitUsd": "0.00001"})

    ledger.reserve(tenant, "r1", worst(6_000))
    with pytest.raises(LimitExceeded) as caught:
        ledger.reserve(tenant, "r2", worst(6_000))

    assert caught.value.code == "budget_exhausted"


def test_a_shadow_overdraft_is_the_tenants_so_no_shard_admits_unrecorded(tables, clock):
    ledger = ledger_for(tables, clock)
    tenant = make_tenant(budget={"limitUsd": "0.00001"}, ledger={"shards": 4}, enforce=False)

    first = ledger.reserve(tenant, "r1", worst(6_000))
    forced = ledger.reserve(tenant, "r2", worst(6_000))
    status = ledger.period_status(tenant)

    assert first.would_deny is None and forced.would_deny == "budget_exhausted"
    assert status.available_nanos == 10_000 - 12_000
    # The debt went to the pool and the other shards' unspent budget was clawed back to cover it: while
    # the tenant is over, every request is decided on its total, so every later one is recorded.
    assert all(n(shard, "available_nanos") <= 0 for shard in shards_of(tables))
    assert n(items_by_key(tables)[PERIOD], "pool_nanos") < 0
    later = [ledger.reserve(tenant, f"r{number}", worst(1)).would_deny for number in range(3, 8)]
    assert later == ["budget_exhausted"] * 5


def test_a_concurrent_burst_holds_exactly_what_the_pace_allows(tables, clock):
    from concurrent.futures import ThreadPoolExecutor

    from cost_sentry.core.errors import GatewayError

    clock.now = NOVEMBER_1_NOON  # USD 3.50 allowed: exactly 35 requests of USD 0.10 held at once
    ledger = ledger_for(tables, clock)
    tenant = paced_tenant(8)

    def reserve(number: int) -> str:
        try:
            ledger.reserve(tenant, f"r{number}", worst(USD // 10))
            return "admitted"
        except GatewayError as error:
            return error.code

    with ThreadPoolExecutor(max_workers=48) as pool:
        outcomes = list(pool.map(reserve, range(48)))

    admitted = outcomes.count("admitted")
    print(f"outcomes of 48 concurrent paced requests: {sorted(Counter(outcomes).items())}")
    assert held_and_spent(tables) == admitted * (USD // 10) <= 35 * (USD // 10)  # never past the pace
    assert set(outcomes) - {"admitted"} <= {"pace_exceeded", "ledger_contended"}
    # No false no: every request refused for the pace came when the pace was truly used up.
    assert admitted == 35 or "ledger_contended" in outcomes, outcomes


def test_shadow_mode_takes_from_a_shard_no_request_funded_yet(tables, clock):
    ledger = ledger_for(tables, clock)
    # 8 shards and a budget of 10 nanos: the prefund's slices (10 // 16) are 0, so no shard item exists
    # when the forced take comes (it failed on the missing attribute before start=0).
    tenant = make_tenant(budget={"limitUsd": "0.000000010"}, ledger={"shards": 8}, enforce=False)

    reservation = ledger.reserve(tenant, "r1", worst(1_000))
    ledger.settle(reservation, record("r1", 400))

    assert reservation.would_deny == "budget_exhausted"
    status = ledger.period_status(tenant)
    assert (status.spent_nanos, status.available_nanos, status.held_nanos) == (400, 10 - 400, 0)


def test_a_lowered_limit_takes_the_pace_down_with_it_on_every_shard(tables, clock):
    # The budget sync lowers USD 30 to USD 6 on day one: the allowance falls from USD 3.50 to USD 0.70
    # (a 10 % burst of USD 0.60, plus half a day's USD 0.20 at USD 6 a month). The shards were funded
    # under the old pace; they are clawed back to the new one, so no shard admits past it, and what
    # still fits the new pace is admitted.
    clock.now = NOVEMBER_1_NOON
    ledger = ledger_for(tables, clock)
    tenant = paced_tenant(4)
    ledger.reserve(tenant, "before", worst(HALF))  # opens the period: its shards are prefunded
    assert sum(n(shard, "available_nanos") for shard in shards_of(tables)) > 0

    lowered = replace(tenant, budget_limit_nanos=6 * USD)
    assert ledger.move_limit(lowered, PERIOD, 6 * USD) == -24 * USD

    # USD 0.50 held, USD 0.20 left of the USD 0.70 allowance: USD 0.21 is past it on any shard ...
    for number in range(4):
        with pytest.raises(LimitExceeded) as caught:
            ledger.reserve(lowered, f"past{number}", worst(210_000_000))
        assert caught.value.code == "pace_exceeded"
    # ... and USD 0.20 fits exactly.
    ledger.reserve(lowered, "fits", worst(200_000_000))
    assert held_and_spent(tables) == 700_000_000
