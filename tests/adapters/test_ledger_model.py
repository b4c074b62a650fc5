"""A model-based test of the ledger (issue 14 item 7): Hypothesis drives the real ``Ledger`` on moto's
DynamoDB through random interleavings of reserve, settle (below and above the reservation), charge the
worst case, release, sweep, crashes between two writes (the settle's shard write and its claim, which
turns the hold into its call record in place), a claim whose answer is lost (resent, counted once), limits
raised and lowered, a token limit added, the shard count changed (1..16) and period rollovers, and after
every step checks it against a plain Python model of what was billed:

- spend within the limit: every admitted reservation fits the limit less what is already billed
  (settles above their reservation included: the tenant total absorbs them) and held, so spend passes the
  limit only by what settles billed beyond their own reservation;
- conservation: ``limit = pool + sum(allocated) + in transit`` and per shard
  ``allocated = available + spent + held``; the signed available total is exactly the limit less what
  was billed and held; a crash between two writes may lose budget (safe side) and nothing else may;
- liveness (no false no): a reservation whose worst case fits what is neither billed, held nor lost to
  a crash (tenant, user, tokens, in-flight) is admitted.

CI runs a bounded, derandomized example count (profile ``ledger-ci``); ``make model-check`` runs many more
(profile ``ledger-long``)."""

from __future__ import annotations

import os
import random
import uuid
from dataclasses import dataclass, field, replace

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from cost_sentry.adapters.ledger import CallRecord, Ledger, LedgerWriteFailed, Reservation, utc_timestamp
from cost_sentry.adapters.tables import create_tables
from cost_sentry.core.errors import LimitExceeded
from cost_sentry.core.estimate import WorstCase
from cost_sentry.core.log import JsonLogger
from cost_sentry.core.pacing import Pace, pace_at
from cost_sentry.core.periods import period_end, period_key, previous_period_key
from tests.adapters.ledger_model_support import (
    CrashSwitch,
    IdempotentTokens,
    LostAnswers,
    PeriodItems,
    is_hold_claim,
    is_shard_credit,
    read_period,
)
from tests.service.conftest import Clock, Tables, make_tenant

HOLD_SECONDS = 150
START = 1_795_348_830.0  # 2026-11-22T12:00:30Z
USERS = ("alice", "bob")
MAX_SHARDS = 16

# CI: a fixed seed (derandomize) and a bounded count; no shrinking, which on moto takes minutes per
# failure: CI shows the first falsifying sequence as found, `make model-check` shrinks it.
settings.register_profile(
    "ledger-ci",
    max_examples=40,
    stateful_step_count=25,
    derandomize=True,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "ledger-long",
    max_examples=1_000,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass
class Held:
    reservation: Reservation
    worst: WorstCase
    user: str | None
    # Tokens the request may use: Bedrock bills them whether or not the ledger counted them.
    tokens: int


@dataclass
class PeriodModel:
    """What was billed and held in one budget period, and the slack a crash or a lowered limit grants."""

    key: str
    # Limits the head may legitimately hold: the config's, and the older one until a proven move.
    allowed: set[int]
    billed: int = 0  # what the ledger must count as spent: actuals, above the reservation included
    excess: int = 0  # what settles billed beyond their own reservation
    tokens_billed: int = 0
    held: dict[str, Held] = field(default_factory=dict)
    # Holds whose settle crashed: the caller is done, the hold item stays until the sweep charges it.
    orphans: dict[str, Held] = field(default_factory=dict)
    user_billed: dict[str, int] = field(default_factory=dict)
    # Budget a crash took out of reach (debited, never credited; or a hold left behind): safe side only.
    transit: int = 0
    leak: int = 0
    user_leak: dict[str, int] = field(default_factory=dict)
    shard_skew: dict[int, int] = field(default_factory=dict)
    in_flight_skew: int = 0
    crashed: bool = False
    # A lowered limit lets the unused part of the holds outstanding at the change through until the next
    # claw-back (docs/design.md section 4, "Limits change only on proof"): their ids and the commitment.
    lowered_with: set[str] = field(default_factory=set)
    unused_returned: int = 0
    # The most the period's spend may reach (excess aside): the highest limit it held, plus that slack.
    spend_cap: int = 0
    # What the request that opened this period carried from the last one's in_flight (periods.py
    # _carry_in_flight, with max_in_flight): counted on both periods' shards from then on, since the last
    # period's in_flight is frozen at the rollover (its requests' ends count in the current one).
    carried: int = 0

    def committed(self) -> int:
        return self.billed + sum(held.worst.cost_nanos for held in self.held.values())

    def tokens_committed(self) -> int:
        return self.tokens_billed + sum(held.tokens for held in self.held.values())

    def user_committed(self, user: str) -> int:
        return self.user_billed.get(user, 0) + sum(
            held.worst.cost_nanos for held in self.held.values() if held.user == user
        )


def _record(
    request_id: str, cost: int, input_tokens: int, output_tokens: int, user: str | None
) -> CallRecord:
    return CallRecord(
        request_id=request_id,
        timestamp=utc_timestamp(START),
        principal="",
        api_key_id="key-model",
        user=user,
        model="claude-3-haiku",
        model_id="arn:profile",
        application_id="model-app",
        cost_center="model",
        environment="prod",
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_nanos=cost,
    )


class LedgerMachine(RuleBasedStateMachine):
    tables: Tables  # set by the test: the moto server's tables of this test

    def __init__(self) -> None:
        super().__init__()
        self.tenant_id = "m" + uuid.uuid4().hex[:12]
        # Tables of its own per example, deleted at its end: moto copies every table on each transaction,
        # so one table shared by hundreds of examples makes each step slower and the process ever larger.
        suffix = uuid.uuid4().hex[:8]
        self.table, self.config_table = f"{self.tables.ledger}-{suffix}", f"{self.tables.config}-{suffix}"
        create_tables(self.tables.client, self.table, self.config_table)
        self.clock = Clock(START)
        self.answers = LostAnswers(IdempotentTokens(self.tables.client, self.clock))
        self.switch = CrashSwitch(self.answers)
        self.ledger = Ledger(
            self.switch,
            self.table,
            hold_lifetime_seconds=HOLD_SECONDS,
            call_record_retention_days=30,
            clock=self.clock,
            sleep=lambda seconds: None,
            rng=random.Random(0),  # shard choices replay exactly: Hypothesis reruns and shrinks sequences
            logger=JsonLogger(sink=lambda line: None),  # crashes log on purpose; keep the report readable
        )
        self.periods: dict[str, PeriodModel] = {}
        self.swept: list[Held] = []  # charged at expiry while the call was still running
        self.numbers = 0

    # -- the tenant: ``config`` is the config table (the truth), ``cached`` what the gateway holds --------

    @initialize(
        limit=st.integers(20_000, 200_000),
        shards=st.integers(1, MAX_SHARDS),
        daily=st.booleans(),
        max_in_flight=st.none() | st.integers(2, 8),
        user_limit=st.none() | st.integers(5_000, 100_000),
        # A paced budget: its burst in parts per million of the limit (it binds after a rollover).
        pace_ppm=st.none() | st.integers(1, 300_000),
    )
    def start(self, limit, shards, daily, max_in_flight, user_limit, pace_ppm):
        tenant = make_tenant(
            self.tenant_id, budget={"limitUsd": "1", "period": "DAILY" if daily else "MONTHLY"}
        )
        self.config = replace(
            tenant,
            budget_limit_nanos=limit,
            ledger_shards=shards,
            max_in_flight=max_in_flight,
            user_default_limit_nanos=user_limit,
            pace=None if pace_ppm is None else Pace(burst_ppm=pace_ppm),
        )
        self.cached = self.config
        self._period()

    def _key(self) -> str:
        return period_key(self.config.budget_period, self.clock())

    def _period(self) -> PeriodModel:
        key = self._key()
        if key not in self.periods:
            # A period opens at a proven limit (issue 14 item 3): the config's, never a cached one.
            self.periods[key] = PeriodModel(key, allowed={self.config.budget_limit_nanos})
        return self.periods[key]

    def _read(self, key: str) -> PeriodItems:
        return read_period(self.tables.client, self.table, self.tenant_id, key, MAX_SHARDS, USERS)

    def teardown(self) -> None:
        for name in (self.table, self.config_table):
            self.tables.client.delete_table(TableName=name)

    def _in_flight(self) -> int:
        return sum(len(period.held) for period in self.periods.values())

    def _in_flight_skew(self) -> int:
        """What crashes left in the ledger's in_flight beyond the holds, over every period."""
        return sum(period.in_flight_skew for period in self.periods.values())

    def _ledger_in_flight(self) -> int:
        """in_flight summed over every shard item of every period the table holds: requests in flight
        follow the current period, which may be one no request of the model reserved in."""
        from cost_sentry.adapters.ledger import read_tenant_items

        items = read_tenant_items(self.tables.client, self.table, self.tenant_id, "PERIOD#")
        total = sum(int(item.get("in_flight", {"N": "0"})["N"]) for item in items if "#S" in item["sk"]["S"])
        return total - sum(period.carried for period in self.periods.values())

    def _note_carry(self, period: PeriodModel, head_before: bool) -> None:
        """A reserve that opened ``period`` with max_in_flight carried the last period's positive
        in_flight into it, once (best effort: a crash or a conflict may lose it, which the check sees)."""
        if head_before or self.config.max_in_flight is None or self._read(period.key).head is None:
            return
        frozen = self._read(previous_period_key(self.config.budget_period, self.clock()))
        period.carried = sum(max(0, frozen.number(shard, "in_flight")) for shard in frozen.shards.values())

    # -- reserve -------------------------------------------------------------------------------------

    @rule(
        cost=st.integers(1, 80_000),
        tokens=st.integers(20, 400),
        user=st.sampled_from((None, *USERS)),
        crash=st.booleans(),
    )
    def reserve(self, cost, tokens, user, crash):
        """Reserve; with ``crash`` the process dies at the credit of a budget move, should it make one."""
        period = self._period()
        before = self._read(period.key)
        self.numbers += 1
        request_id = f"r{self.numbers}"
        worst = WorstCase(input_tokens=tokens - tokens // 4, output_tokens=tokens // 4, cost_nanos=cost)
        fits, reasons = self._fits(period, before, cost, tokens, user)
        head_before = before.head is not None
        if crash:
            self.switch.arm(is_shard_credit)
        try:
            reservation = self.ledger.reserve(
                self.cached,
                request_id,
                worst,
                user=user,
                reload_tenant=lambda tenant_id: self.config,
                record=_record(request_id, cost, worst.input_tokens, worst.output_tokens, user),
            )
        except LimitExceeded as denied:
            self.switch.disarm()
            self._note_carry(period, head_before)  # a denied request may have opened the period
            # Liveness: contention cannot happen here, so a denial of what fits is a false no.
            assert not fits, (
                f"false no: {denied.code} ({denied}) for a worst case of {cost} nanos / {tokens} tokens "
                f"that fits: {reasons}"
            )
            return
        except LedgerWriteFailed:
            assert self.switch.disarm(), "a ledger write failed with no crash injected"
            self._note_carry(period, head_before)
            self._crashed(period)
            return
        self._note_carry(period, head_before)
        if self.switch.disarm():
            self._crashed(period)  # died after the hold was written: the reservation stands
        # Safety: what was admitted fits the limit less what is billed and held.
        self._check_admission_fits(period, before, cost, tokens, user)
        period.held[request_id] = Held(reservation, worst, reservation.user, tokens)

    def _limit_low(self, period: PeriodModel) -> int:
        return min(period.allowed)

    def _fits(
        self, period: PeriodModel, items: PeriodItems, cost: int, tokens: int, user: str | None
    ) -> tuple[bool, dict[str, object]]:
        """Whether the request must be admitted, and the figures that say so."""
        headroom = self._limit_low(period) - period.committed() - period.leak - period.transit
        reasons: dict[str, object] = {"budget headroom": headroom}
        fits = cost <= headroom
        if self.config.tokens_per_period is not None:
            token_room = self.config.tokens_per_period - period.tokens_committed()
            reasons["token headroom"] = token_room
            fits = fits and not period.crashed and tokens <= token_room
            fits = fits and self.cached.tokens_per_period == self.config.tokens_per_period
        user_limit = self.config.user_limit_for(user)
        if user_limit is not None:
            user_room = user_limit - period.user_committed(user) - period.user_leak.get(user, 0)
            reasons["user headroom"] = user_room
            fits = fits and cost <= user_room
        if self.config.max_in_flight is not None:
            # Requests in flight follow the current period, so a crash's skew counts wherever it was
            # recorded (the invariant sums it over every period the same way).
            in_flight = self._in_flight() + max(0, self._in_flight_skew())
            reasons["in flight"] = f"{in_flight} of {self.config.max_in_flight}"
            fits = fits and in_flight < self.config.max_in_flight
        if self.config.pace is not None:
            # The ledger denies for the pace when limit - (pool + available), all that left the pool
            # (billed, held, lost to a crash), plus the request passes the allowance of its limit.
            allowance = self._allowance(self._limit_low(period))
            released = period.committed() + period.leak + period.transit
            reasons["pace headroom"] = allowance - released
            fits = fits and released + cost <= allowance
        # A container whose cached config is behind may use the older limit until a refill proves it.
        fits = fits and self.cached == self.config
        return fits, reasons

    def _allowance(self, limit: int) -> int:
        assert self.config.pace is not None
        return pace_at(self.config.pace, limit, self.config.budget_period, self.clock()).allowance

    def _check_admission_fits(
        self, period: PeriodModel, items: PeriodItems, cost: int, tokens: int, user: str | None
    ) -> None:
        committed = period.committed()
        lowered_slack = period.unused_returned
        limit_high = max(period.allowed)
        assert committed + cost <= limit_high + lowered_slack, (
            f"over the limit: admitted {cost} nanos with {committed} already billed or held "
            f"(of which {period.excess} billed above reservations) against a limit of {limit_high}"
            + (f" (+{lowered_slack} returned from holds outstanding at a lowering)" if lowered_slack else "")
        )
        if self.config.tokens_per_period is not None and self.cached.tokens_per_period is not None:
            used = period.tokens_committed()
            assert used + tokens <= self.config.tokens_per_period, (
                f"over the token limit: admitted {tokens} tokens with {used} already used or held "
                f"against a limit of {self.config.tokens_per_period}"
            )
        if self.config.pace is not None:
            # Within the pace: only settles billed above their reservations (their debt is taken from
            # the pool whatever the pace) and a lowered limit's slack can take it past the allowance.
            allowance = self._allowance(limit_high)
            assert committed + cost <= allowance + lowered_slack + period.excess, (
                f"past the pace: admitted {cost} nanos with {committed} already billed or held against "
                f"an allowance of {allowance} (limit {limit_high}, burst {self.config.pace.burst_ppm} ppm)"
            )
        user_limit = self.config.user_limit_for(user)
        if user_limit is not None:
            used = period.user_committed(user)
            assert used + cost <= user_limit, f"over user {user}'s limit: {used} + {cost} > {user_limit}"
        if self.config.max_in_flight is not None:
            # A crashed settle leaves its shard's in_flight one low until the sweep (design, "Retries").
            slack = max(0, -self._in_flight_skew())
            assert self._in_flight() < self.config.max_in_flight + slack, (
                f"over max_in_flight: admitted with {self._in_flight()} in flight across periods "
                f"{sorted(key for key, p in self.periods.items() if p.held)}, limit {self.config.max_in_flight}"
            )

    # -- end of a call ---------------------------------------------------------------------------------

    def _pick(self, index: int) -> tuple[PeriodModel, Held]:
        candidates = [(p, h) for p in self.periods.values() for _, h in sorted(p.held.items())]
        return candidates[index % len(candidates)]

    def _has_held(self) -> bool:
        return any(period.held for period in self.periods.values())

    @precondition(_has_held)
    @rule(index=st.integers(0, 1_000), quarters=st.integers(0, 6), crash=st.booleans())
    def settle(self, index, quarters, crash):
        """Settle at 0..150% of the reservation; with ``crash`` the process dies at the hold's claim."""
        period, held = self._pick(index)
        worst = held.worst
        actual = worst.cost_nanos * quarters // 4
        actual_tokens = min(held.tokens, held.tokens * quarters // 4)
        record = _record(
            held.reservation.request_id,
            actual,
            actual_tokens - actual_tokens // 4,
            actual_tokens // 4,
            held.user,
        )
        if crash:
            self.switch.arm(is_hold_claim)
        try:
            result = self.ledger.settle(held.reservation, record)
        except LedgerWriteFailed:
            assert self.switch.disarm(), "a settle failed with no crash injected"
            self._billed(period, held, actual, actual_tokens)
            period.orphans[held.reservation.request_id] = period.held.pop(held.reservation.request_id)
            # The sweep will charge the worst case: what Bedrock billed above it is lost with the settle.
            self._crashed(period, unrecorded=max(0, actual - worst.cost_nanos), user=held.user)
            return
        self.switch.disarm()
        assert not result.hold_was_reclaimed, "a settle of a hold nobody claimed found it claimed"
        del period.held[held.reservation.request_id]
        self._billed(period, held, actual, actual_tokens)

    @precondition(_has_held)
    @rule(index=st.integers(0, 1_000), quarters=st.integers(0, 6))
    def settle_losing_the_claims_answer(self, index, quarters):
        """DynamoDB turns the hold into its call record but the answer is lost (a 500): the claim is
        resent, finds its own claim, and the settle counts once, as if nothing had been lost."""
        period, held = self._pick(index)
        actual = held.worst.cost_nanos * quarters // 4
        actual_tokens = min(held.tokens, held.tokens * quarters // 4)
        record = _record(
            held.reservation.request_id,
            actual,
            actual_tokens - actual_tokens // 4,
            actual_tokens // 4,
            held.user,
        )
        lost = self.answers.lost
        self.answers.armed = is_hold_claim
        result = self.ledger.settle(held.reservation, record)
        self.answers.armed = None
        assert self.answers.lost == lost + 1, "the claim was not sent"
        assert not result.hold_was_reclaimed, "a claim resent after a lost answer found the hold claimed"
        del period.held[held.reservation.request_id]
        self._billed(period, held, actual, actual_tokens)

    def _billed(self, period: PeriodModel, held: Held, actual: int, tokens: int) -> None:
        period.billed += actual
        period.excess += max(0, actual - held.worst.cost_nanos)
        period.tokens_billed += tokens
        if held.user is not None:
            period.user_billed[held.user] = period.user_billed.get(held.user, 0) + actual
        if held.reservation.request_id in period.lowered_with:
            period.unused_returned += max(0, held.worst.cost_nanos - actual)

    @precondition(_has_held)
    @rule(index=st.integers(0, 1_000))
    def charge_worst_case(self, index):
        period, held = self._pick(index)
        worst = held.worst
        record = _record(held.reservation.request_id, 0, worst.input_tokens, worst.output_tokens, held.user)
        assert not self.ledger.charge_worst_case(held.reservation, record).hold_was_reclaimed
        del period.held[held.reservation.request_id]
        self._billed(period, held, worst.cost_nanos, held.tokens)

    @precondition(_has_held)
    @rule(index=st.integers(0, 1_000))
    def release(self, index):
        period, held = self._pick(index)
        assert self.ledger.release(held.reservation)
        del period.held[held.reservation.request_id]
        self._billed(period, held, 0, 0)

    @rule()
    def sweep(self):
        """The clock passes every hold's expiry; the sweep charges each at its worst case."""
        self.clock.advance(HOLD_SECONDS + 1)
        now = self.clock()
        expected = 0
        recount: list[PeriodModel] = []
        for period in self.periods.values():
            for request_id, held in list(period.held.items()):
                if held.reservation.expires < int(now):
                    expected += 1
                    del period.held[request_id]
                    self._billed(period, held, held.worst.cost_nanos, held.tokens)
                    self.swept.append(held)
            for request_id, held in list(period.orphans.items()):
                if held.reservation.expires < int(now):
                    expected += 1
                    # The ledger counts it again (spent over by its worst case): a known safe over-count.
                    del period.orphans[request_id]
                    recount.append(period)
        assert self.ledger.sweep_expired(self.config, now) == expected
        for period in recount:
            self._baseline(period, self._read(period.key))
        self._period()

    @precondition(lambda self: bool(self.swept))
    @rule(index=st.integers(0, 1_000))
    def settle_after_the_sweep(self, index):
        """A call that outlived its hold settles after the sweep charged it: nothing is counted twice and
        the settle is told so (it must not fail)."""
        held = self.swept.pop(index % len(self.swept))
        record = _record(held.reservation.request_id, held.worst.cost_nanos // 2, 1, 1, held.user)
        result = self.ledger.settle(held.reservation, record)
        assert result.hold_was_reclaimed

    # -- limits, shards, periods ------------------------------------------------------------------

    @rule(
        limit=st.integers(10_000, 250_000),
        how=st.sampled_from(("budget sync", "sweep maintenance", "gateway refresh", "config only")),
    )
    def change_limit(self, limit, how):
        """The config's limit changes; the budget sync (move_limit), the sweep's maintenance (its fresh
        read) or a gateway's refreshed config proves it to the ledger, or nothing has yet."""
        period = self._period()
        items = self._read(period.key)
        current = items.head_number("limit_nanos") if items.head else self.config.budget_limit_nanos
        self.config = replace(self.config, budget_limit_nanos=limit)
        # Before its head exists, the period has not opened: it must open at the new limit.
        period.allowed = {current, limit} if items.head else {limit}
        if how == "budget sync" and items.head:
            self.ledger.move_limit(self.config, period.key, limit)
        elif how == "sweep maintenance":
            self.ledger.maintain(self.config, self.clock())
            period.unused_returned = 0  # what holds gave back is clawed back now
        elif how == "gateway refresh":
            self.cached = self.config

    @rule()
    def refresh_config(self):
        self.cached = self.config

    @precondition(lambda self: self.config.tokens_per_period is None)
    @rule(tokens=st.integers(300, 3_000))
    def add_token_limit(self, tokens):
        """A token limit added mid-period (the gateway has refreshed its config)."""
        self.config = replace(self.config, tokens_per_period=tokens)
        self.cached = replace(self.cached, tokens_per_period=tokens)

    @rule(shards=st.integers(1, MAX_SHARDS), maintain=st.booleans())
    def change_shards(self, shards, maintain):
        self.config = replace(self.config, ledger_shards=shards)
        self.cached = replace(self.cached, ledger_shards=shards)
        if maintain:
            self.ledger.maintain(self.config, self.clock())
            self._period().unused_returned = 0  # what holds gave back is clawed back now

    def _only_this_periods_holds(self) -> bool:
        """The sweep runs every minute: no hold lives through two period boundaries. A jump of the clock
        to a period's end, or into the next period, is taken only when the periods before the current one
        hold nothing (else the sweep after it would look for them two periods back, where it never must)."""
        return all(not (p.held or p.orphans) for k, p in self.periods.items() if k != self._key())

    @precondition(_only_this_periods_holds)
    @rule()
    def near_the_period_end(self):
        """Thirty seconds before the period ends (holds reserved now outlive it)."""
        end = period_end(self.config.budget_period, self.clock()).timestamp()
        self.clock.now = max(self.clock(), end - 30)

    @precondition(_only_this_periods_holds)
    @rule()
    def rollover(self):
        """The next period starts; the gateway's config is whatever it had cached. (The sweep runs every
        minute: no hold lives through two period boundaries, hence the precondition.)"""
        self.clock.now = period_end(self.config.budget_period, self.clock()).timestamp() + 1
        self._period()

    # -- crashes ---------------------------------------------------------------------------------

    def _crashed(self, period: PeriodModel, unrecorded: int = 0, user: str | None = None) -> None:
        """A crash may have taken budget out of reach (never added any): measure what, from now on
        constant. Lost budget only grows, except by ``unrecorded``: what a crashed settle billed above its
        reservation, which the sweep (charging the worst case) cannot know."""
        period.crashed = True
        items = self._read(period.key)
        if items.head is None:
            return
        transit = (
            items.head_number("limit_nanos")
            - items.head_number("pool_nanos")
            - items.total("allocated_nanos")
        )
        assert transit >= period.transit, f"a crash created budget: in transit {transit} < {period.transit}"
        period.transit = transit
        leak = self._leak(period, items)
        assert leak >= period.leak - unrecorded, f"a crash created budget: {leak} lost < {period.leak} before"
        period.leak = leak
        for name, item in items.users.items():
            user_leak = self._user_leak(period, name, item, items)
            slack = unrecorded if name == user else 0
            assert user_leak >= period.user_leak.get(name, 0) - slack, f"a crash created user {name}'s budget"
            period.user_leak[name] = user_leak
        self._baseline(period, items)

    def _held_by_shard(self, period: PeriodModel) -> dict[int, int]:
        held_by_shard: dict[int, int] = {}
        for held in period.held.values():
            shard = held.reservation.shard
            held_by_shard[shard] = held_by_shard.get(shard, 0) + held.worst.cost_nanos
        return held_by_shard

    def _shard_gap(self, period: PeriodModel, items: PeriodItems, index: int) -> int:
        shard = items.shards[index]
        return (
            items.number(shard, "allocated_nanos")
            - items.number(shard, "available_nanos")
            - items.number(shard, "spent_nanos")
            - self._held_by_shard(period).get(index, 0)
        )

    def _baseline(self, period: PeriodModel, items: PeriodItems) -> None:
        """After a crash (or the sweep of a hold a crash left): each shard's allocated - available -
        spent - held and the in-flight count may be off by what the crash left, from now on constant."""
        period.shard_skew = {index: self._shard_gap(period, items, index) for index in items.shards}
        # In flight is conserved across periods (it follows the current one): the crash's skew is what
        # the whole ledger shows beyond the holds, less what earlier crashes left elsewhere.
        others = sum(p.in_flight_skew for p in self.periods.values() if p is not period)
        period.in_flight_skew = self._ledger_in_flight() - self._in_flight() - others

    def _leak(self, period: PeriodModel, items: PeriodItems) -> int:
        """Budget the ledger shows as neither available nor in transit beyond what was billed and held."""
        available = items.head_number("pool_nanos") + items.total("available_nanos")
        limit = items.head_number("limit_nanos")
        return limit - period.transit - period.committed() - available

    def _user_leak(self, period: PeriodModel, user: str, item: dict, items: PeriodItems) -> int:
        limit = items.number(item, "limit_nanos")
        return limit - period.user_committed(user) - items.number(item, "available_nanos")

    # -- invariants after every step --------------------------------------------------------------

    @invariant()
    def books_balance(self):
        if not hasattr(self, "config"):
            return
        # Requests in flight are counted in the current period (a request of the last one that ends after
        # the rollover takes its count off the current period's shard, and the period's opening carried
        # it there): conserved across periods, not within each.
        skew = 0
        for period in self.periods.values():
            items = self._read(period.key)
            skew += period.in_flight_skew
            if items.head is None or "limit_nanos" not in items.head:
                continue
            limit = items.head_number("limit_nanos")
            if limit == self.config.budget_limit_nanos and period.key == self._key():
                if min(period.allowed) > limit:  # a lowered limit just proven
                    period.lowered_with = set(period.held)
                period.allowed = {limit}
            # The head's limit is one the config had, proven; a new period opens at the config's.
            assert limit in period.allowed, (
                f"{period.key} holds the limit {limit}; the config says {sorted(period.allowed)}"
            )
            # limit = pool + sum(allocated) + what a crash left in transit.
            transit = limit - items.head_number("pool_nanos") - items.total("allocated_nanos")
            assert transit == period.transit, (
                f"{period.key}: limit {limit} = pool + allocated + {transit} in transit, "
                f"expected {period.transit} (crashes only)"
            )
            # Per shard: allocated = available + spent + held.
            for index in items.shards:
                gap = self._shard_gap(period, items, index)
                assert gap == period.shard_skew.get(index, 0), (
                    f"{period.key} shard {index}: allocated - available - spent - held = {gap}"
                )
            # The signed total: exactly the limit less what was billed and held (and lost to a crash).
            leak = self._leak(period, items)
            assert leak == period.leak, (
                f"{period.key}: pool + available = {limit - period.transit - period.committed() - leak}, "
                f"the model says {limit - period.transit - period.committed() - period.leak} "
                f"(limit {limit}, billed {period.billed}, held {period.committed() - period.billed})"
            )
            for user, item in items.users.items():
                user_leak = self._user_leak(period, user, item, items)
                assert user_leak == period.user_leak.get(user, 0), (
                    f"{period.key} user {user}: available off by {user_leak}"
                )
            # Spend within the limit: only settles above their reservation (and the documented slack of a
            # lowered limit) can take what was billed past the limit.
            period.spend_cap = max(period.spend_cap, max(period.allowed) + period.unused_returned)
            assert period.billed - period.excess <= period.spend_cap, (
                f"{period.key}: billed {period.billed} ({period.excess} above reservations) "
                f"past {period.spend_cap}"
            )
        in_flight = self._ledger_in_flight() - self._in_flight()
        assert in_flight == skew, f"in_flight off by {in_flight - skew} across periods"


@pytest.mark.slow
def test_the_ledger_keeps_its_model(tables):
    profile = os.environ.get("LEDGER_MODEL_PROFILE", "ledger-ci")
    machine = type("Machine", (LedgerMachine,), {"tables": tables})
    run_state_machine_as_test(machine, settings=settings.get_profile(profile))
