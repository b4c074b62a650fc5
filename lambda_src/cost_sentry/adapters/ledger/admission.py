"""Admission: the hot path's decision to hold a request's worst case, or to deny it saying which limit
and when (docs/design.md section 4).

``Admission`` takes the worst case from the user's budget (when the tenant has per-user limits) and from
one random shard with a single conditional UpdateItem, then writes the hold. A short shard starts a
refill round (``Refill``): read the whole tenant once, have the period's head created or prepared
(periods.py), deny when the tenant as a whole is short, choose the shard to retry on and move budget
into it (from the pool, else from the other shards), at most ``MAX_REFILL_ROUNDS`` times.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from cost_sentry.adapters.ledger.budget import Budget, _Shard, _Snapshot
from cost_sentry.adapters.ledger.dynamo import Dynamo, Update, _ConditionFailed
from cost_sentry.adapters.ledger.items import (
    RPM_PREFIX,
    CallRecord,
    Hold,
    Reservation,
    _int,
    _key,
    hold_item,
)
from cost_sentry.adapters.ledger.maintenance import Maintenance
from cost_sentry.adapters.ledger.periods import PeriodHead, ReloadTenant, _paced, eligible_shards, share
from cost_sentry.adapters.ledger.settlement import Settlement, _Counts
from cost_sentry.core.errors import PACE_EXCEEDED, GatewayError, LimitExceeded, ServiceUnavailable
from cost_sentry.core.estimate import WorstCase
from cost_sentry.core.money import nanos_to_usd
from cost_sentry.core.pacing import PaceAt
from cost_sentry.core.periods import (
    minute_key,
    period_key,
    seconds_to_next_minute,
    seconds_to_period_end,
    shard_key,
    user_key,
)
from cost_sentry.core.tenants import TenantConfig

# A short shard re-reads the tenant (one TransactGetItems) and moves budget into itself at most this many
# times; after that the request is answered 503 ledger_contended (docs/design.md section 4).
MAX_REFILL_ROUNDS = 8
# A request that lost every refill round to concurrent requests (the tenant had the budget) is answered
# 503 ledger_contended with this Retry-After.
CONTENDED_RETRY_AFTER_SECONDS = 1

# A shard's take: the shard's index, its item after the take, and the limit enforced (the head's).
TakenShard = tuple[int, Mapping[str, Any], int]
_T = TypeVar("_T")


class _Admitting:
    """What both halves of admission are given: the table, the budget's reads and moves, and the hold
    lifetime (a hold's expiry, and the wait a denial suggests while holds are outstanding)."""

    def __init__(self, dynamo: Dynamo, budget: Budget, hold_lifetime_seconds: int) -> None:
        self._dynamo = dynamo
        self._budget = budget
        self._hold_lifetime = hold_lifetime_seconds


class Admission(_Admitting):
    """The request's reservation: the whole-period checks, the user's budget, the shard (with refill
    rounds when it is short) and the hold; a failure after a take gives it back."""

    def __init__(
        self,
        dynamo: Dynamo,
        budget: Budget,
        limits: Maintenance,
        settlement: Settlement,
        *,
        hold_lifetime_seconds: int,
    ) -> None:
        super().__init__(dynamo, budget, hold_lifetime_seconds)
        self._refill = Refill(dynamo, budget, PeriodHead(dynamo, budget, limits), hold_lifetime_seconds)
        self._limits = limits
        self._settlement = settlement

    def reserve(
        self,
        tenant: TenantConfig,
        request_id: str,
        worst: WorstCase,
        *,
        user: str | None = None,
        reload_tenant: ReloadTenant | None = None,
        record: CallRecord | None = None,
    ) -> Reservation:
        """Hold the request's worst case, or raise LimitExceeded (429) saying which limit and when.

        ``reload_tenant`` is asked for a fresh read of the tenant's config when the head's limit differs
        from the cached one; only what it returns (a read that just succeeded) may rebase the head.
        ``record`` is the call record as far as it is known before the call: the sweep writes it, at the
        worst case, if this request never settles.
        """
        now = self._dynamo.clock()
        key = period_key(tenant.budget_period, now)
        tokens = worst.tokens if tenant.tokens_per_period is not None else 0
        cost = worst.cost_nanos
        user_limit, would_deny = _unless_shadow(
            tenant,
            lambda: _deny_if_over_whole_limits(tenant, user, cost, tokens, now),
            lambda: tenant.user_limit_for(user),
        )
        charged_user = user if user_limit is not None else None
        user_available_after, user_denial = self._take_user_budget(
            tenant, key, charged_user, cost, user_limit, now, reload_tenant
        )
        try:
            shard, shard_denial = _unless_shadow(
                tenant,
                lambda: self._take_shard(tenant, key, cost, tokens, now, reload_tenant, worst.tokens),
                lambda: self._force_shard(tenant, key, cost, now, worst.tokens),
            )
        except BaseException:
            if charged_user is not None:
                self._settlement.credit_user_quietly(
                    tenant.tenant_id, key, charged_user, _Counts(available=cost)
                )
            raise
        reservation = self._reservation(
            tenant,
            key,
            request_id,
            worst,
            now,
            shard,
            user=charged_user,
            user_available_after=user_available_after,
            would_deny=would_deny or user_denial or shard_denial,
        )
        self._put_hold(reservation, worst, record)
        return reservation

    def _reservation(
        self,
        tenant: TenantConfig,
        key: str,
        request_id: str,
        worst: WorstCase,
        now: float,
        shard: TakenShard,
        *,
        user: str | None,
        user_available_after: int | None,
        would_deny: str | None,
    ) -> Reservation:
        """What was taken, as the settle, the release and the sweep will need it (and the response)."""
        index, image, limit = shard
        minute = minute_key(now)
        return Reservation(
            tenant_id=tenant.tenant_id,
            period_key=key,
            request_id=request_id,
            limit_nanos=_int(image, "limit_nanos", limit),
            nanos=worst.cost_nanos,
            tokens=worst.tokens,
            expires=int(now) + self._hold_lifetime,
            available_after=_int(image, "available_nanos"),
            shard=index,
            user=user,
            user_available_after=user_available_after,
            stale_minute_attributes=tuple(
                sorted(name for name in image if name.startswith(RPM_PREFIX) and name < minute)
            ),
            # Taken now, after the shard: the hold is keyed by it and lands within moments of it, so the
            # sweep can find holds by time (sweep.py, HOLD_LANDS_WITHIN_SECONDS).
            reserved_at_ms=int(self._dynamo.clock() * 1000),
            would_deny=would_deny,
        )

    def _take_user_budget(
        self,
        tenant: TenantConfig,
        key: str,
        user: str | None,
        cost: int,
        user_limit: int | None,
        now: float,
        reload_tenant: ReloadTenant | None,
    ) -> tuple[int | None, str | None]:
        """The user's part of the reservation, when the user has a budget: what the user has left after
        the take, and the denial shadow mode recorded instead of raising (both None without a budget)."""
        if user is None or user_limit is None:
            return None, None
        return _unless_shadow(
            tenant,
            lambda: self._take_user(tenant, key, user, cost, user_limit, now, reload_tenant),
            lambda: self._force_user(tenant, key, user, cost, user_limit),
        )

    def _take_user(
        self,
        tenant: TenantConfig,
        key: str,
        user: str,
        cost: int,
        user_limit: int,
        now: float,
        reload_tenant: ReloadTenant | None,
    ) -> int:
        """Take the worst case from the user's budget (created at the user's limit on first use); returns
        the user's available_nanos after the take (read from the same write, no extra round trip)."""
        sort_key = user_key(key, user)
        rebased = False
        while True:
            # A paced user budget is one item: its pace is one more condition on the same write (what is
            # left after the take must cover what the pace keeps back).
            paced = _paced(tenant.user_pace, user_limit, tenant, now)
            keep = 0 if paced is None else paced.reserve
            if paced is not None and cost + keep > user_limit:
                # Even an unused budget (the item may not exist yet) cannot take it before the pace does.
                raise _pace_denial(paced, cost, cost, f"user {user}'s", tenant, now)
            try:
                return self._take_from_user_item(tenant.tenant_id, sort_key, cost, user_limit, keep)
            except _ConditionFailed as failed:
                old = failed.item
            recorded = _int(old, "limit_nanos", user_limit)
            if recorded != user_limit and not rebased:
                rebased = True
                user_limit = self._user_limit_on_proof(tenant, user, sort_key, recorded, reload_tenant)
                continue
            raise self._user_denial(tenant, user, old, recorded, user_limit, paced, cost, now)

    def _take_from_user_item(
        self, tenant_id: str, sort_key: str, cost: int, user_limit: int, keep: int
    ) -> int:
        """One conditional UpdateItem on the user item: the take, if the item is at ``user_limit`` (or
        new) and keeps ``keep`` after it. Returns what is left; raises _ConditionFailed with the item."""
        take = Update().set_minus("available_nanos", cost, start=user_limit)
        take.set_if_not_exists("limit_nanos", user_limit)
        take.condition(
            "(attribute_not_exists(#limit_nanos) OR #limit_nanos = {}) AND "
            "(attribute_not_exists(#available_nanos) OR #available_nanos >= {})",
            user_limit,
            cost + keep,
        )
        taken = self._dynamo.update(
            _key(tenant_id, sort_key),
            take,
            ReturnValues="UPDATED_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        return _int(taken.get("Attributes") or {}, "available_nanos")

    def _user_limit_on_proof(
        self,
        tenant: TenantConfig,
        user: str,
        sort_key: str,
        recorded: int,
        reload_tenant: ReloadTenant | None,
    ) -> int:
        """The user item records another limit than the cached config: only a fresh read may rebase it
        (once); without that proof the item's limit stands."""
        fresh = reload_tenant(tenant.tenant_id) if reload_tenant else None
        proven = fresh.user_limit_for(user) if fresh is not None else None
        if proven is not None and proven != recorded:
            self._budget.rebase_item(tenant.tenant_id, sort_key, recorded, proven, pool="available_nanos")
            return proven
        return recorded  # no proof of a change: the item's limit stands

    def _user_denial(
        self,
        tenant: TenantConfig,
        user: str,
        old: Mapping[str, Any],
        recorded: int,
        user_limit: int,
        paced: PaceAt | None,
        cost: int,
        now: float,
    ) -> LimitExceeded:
        """Why the user item refused the take (``old`` is the item as it was): its pace, or its budget."""
        available = _int(old, "available_nanos", user_limit)
        if paced is not None and available >= cost:
            return _pace_denial(paced, user_limit - available + cost, cost, f"user {user}'s", tenant, now)
        message = (
            f"user {user} has USD {nanos_to_usd(max(available, 0))} left of the "
            f"{tenant.budget_period.lower()} budget of USD {nanos_to_usd(recorded)}; this request may "
            f"cost up to USD {nanos_to_usd(cost)}"
        )
        return _until_holds_end("user_budget_exhausted", message, tenant, now, self._hold_lifetime, held=True)

    def _force_user(self, tenant: TenantConfig, key: str, user: str, cost: int, user_limit: int) -> int:
        """Shadow mode: take the worst case from the user's budget whatever is left (it may go below
        zero: the overdraft, which the user's signed figures show); returns what is left after it."""
        take = Update().set_minus("available_nanos", cost, start=user_limit)
        take.set_if_not_exists("limit_nanos", user_limit)
        taken = self._dynamo.update(
            _key(tenant.tenant_id, user_key(key, user)), take, ReturnValues="UPDATED_NEW"
        )
        return _int(taken.get("Attributes") or {}, "available_nanos")

    def _force_shard(
        self, tenant: TenantConfig, key: str, cost: int, now: float, counted_tokens: int
    ) -> TakenShard:
        """Shadow mode: take the worst case from a random shard unconditionally, counting the request
        in flight and in its minute as an admitted one. A shard left below zero hands its debt to the
        tenant as a settle billed above its reservation does (``cover_deficit``: the pool goes below
        zero, the other shards' unspent budget is clawed back), so no shard admits silently while the
        tenant is over: every later request is decided, and recorded, on the tenant's signed total.
        Spent_nanos and the call records stay exact; the overdraft is the negative remainder."""
        index = self._dynamo.random.choice(eligible_shards(tenant))
        # start=0: a shard never funded this period (no item yet) is taken from as one holding nothing.
        take = Update().set_minus("available_nanos", cost, start=0).set_plus("in_flight", 1, start=0)
        take.set_if_not_exists("limit_nanos", tenant.budget_limit_nanos)
        take.set_plus(minute_key(now), 1, start=0)
        if counted_tokens:
            take.set_minus("tokens_available", counted_tokens, start=0)
        response = self._dynamo.update(
            _key(tenant.tenant_id, shard_key(key, index)), take, ReturnValues="ALL_NEW"
        )
        image = response.get("Attributes", {})
        if _int(image, "available_nanos") < 0:
            deficit = -_int(image, "available_nanos")
            self._limits.cover_deficit(tenant.tenant_id, key, shard_key(key, index), deficit)
        return index, image, _int(image, "limit_nanos", tenant.budget_limit_nanos)

    def _take_shard(
        self,
        tenant: TenantConfig,
        key: str,
        cost: int,
        tokens: int,
        now: float,
        reload_tenant: ReloadTenant | None,
        counted_tokens: int,
    ) -> TakenShard:
        """The admission decision: one conditional UpdateItem on a random shard; a short shard reads the
        whole tenant once per round and moves budget into itself (from the pool, else from the others)."""
        eligible = eligible_shards(tenant)
        index = self._dynamo.random.choice(eligible)
        limit = tenant.budget_limit_nanos
        last_reason = "budget"
        for round_number in range(MAX_REFILL_ROUNDS + 1):
            try:
                image = self._reserve_on_shard(tenant, key, index, cost, tokens, now, counted_tokens)
                return index, image, limit
            except _ConditionFailed as failed:
                if "blocked" in failed.item:
                    raise _blocked(tenant, now) from None
                last_reason = _shard_reason(tenant, index, failed.item, cost, tokens, now)
            if round_number == MAX_REFILL_ROUNDS:
                break
            if round_number:
                self._dynamo.pause(round_number - 1)  # let the requests that took the last slice pass
            index, limit, tenant = self._refill.round(
                tenant, key, eligible, index, cost, tokens, now, reload_tenant
            )
        # Every round lost its race: other requests took each slice moved here (503, not a budget no).
        raise _contended(tenant, last_reason, now)

    def _reserve_on_shard(
        self,
        tenant: TenantConfig,
        key: str,
        index: int,
        cost: int,
        tokens: int,
        now: float,
        counted_tokens: int,
    ) -> Mapping[str, Any]:
        """Take the worst case from shard ``index``. ``tokens`` is checked against the shard's tokens (a
        token limit); ``counted_tokens`` is taken either way, unchecked without a limit, so a token
        limit added mid-period counts the requests already in flight (the settle gives back the rest)."""
        shards = tenant.ledger_shards
        take = Update().set_minus("available_nanos", cost).set_plus("in_flight", 1, start=0)
        take.condition("attribute_not_exists(#blocked)").condition("#available_nanos >= {}", cost)
        in_flight_share = share(tenant.max_in_flight, index, shards)
        if in_flight_share is not None:
            take.condition("(attribute_not_exists(#in_flight) OR #in_flight < {})", in_flight_share)
        rpm_share = share(tenant.requests_per_minute, index, shards)
        if rpm_share is not None:
            minute = minute_key(now)
            take.set_plus(minute, 1, start=0)
            take.condition(f"(attribute_not_exists(#{minute}) OR #{minute} < {{}})", rpm_share)
        if tokens:
            take.set_minus("tokens_available", tokens).condition("#tokens_available >= {}", tokens)
        elif counted_tokens:
            take.set_minus("tokens_available", counted_tokens, start=0)
        response = self._dynamo.update(
            _key(tenant.tenant_id, shard_key(key, index)),
            take,
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        attributes: Mapping[str, Any] = response.get("Attributes", {})
        return attributes

    def _put_hold(self, reservation: Reservation, worst: WorstCase, record: CallRecord | None) -> None:
        """Write the reservation's hold; if it is not written, undo the takes."""
        try:
            hold = Hold.of(reservation, worst, record)
            # A put of a unique key is idempotent: resent even after an ambiguous failure.
            self._dynamo.send("put_item", idempotent=True, Item=hold_item(reservation.tenant_id, hold))
        except BaseException:
            # No hold means nothing would ever settle or sweep this reservation: undo it now.
            self._settlement.apply_quietly(
                reservation,
                _Counts(available=reservation.nanos, tokens=worst.tokens or None),
                "hold_not_written",
            )
            raise


class Refill(_Admitting):
    """One refill round of a short shard: the period's head prepared (``PeriodHead``), the tenant as a
    whole checked, and budget moved into the shard to retry on."""

    def __init__(self, dynamo: Dynamo, budget: Budget, head: PeriodHead, hold_lifetime_seconds: int) -> None:
        super().__init__(dynamo, budget, hold_lifetime_seconds)
        self._head = head

    def round(
        self,
        tenant: TenantConfig,
        key: str,
        eligible: list[int],
        index: int,
        cost: int,
        tokens: int,
        now: float,
        reload_tenant: ReloadTenant | None,
    ) -> tuple[int, int, TenantConfig]:
        """Read the whole tenant, deny if it is short (or blocked), and fund the shard to retry on.
        Returns that shard, the limit enforced (the head's) and the tenant as the head proved it."""
        snapshot = self._budget.snapshot(tenant.tenant_id, key, tenant.ledger_shards)
        snapshot, tenant = self._head.prepare(tenant, key, snapshot, reload_tenant)
        limit = _int(snapshot.head or {}, "limit_nanos", tenant.budget_limit_nanos)
        if snapshot.blocked:
            raise _blocked(tenant, now)
        paced = _paced(tenant.pace, limit, tenant, now)
        # What the pool may give now: all of it, or for a paced budget what it holds beyond the pace's
        # reserve (the pool_to_shard transaction checks the same reserve, so a stale round moves nothing).
        keep = 0 if paced is None else paced.reserve
        room = max(0, snapshot.pool - keep)
        self._deny_if_tenant_short(tenant, snapshot, cost, tokens, now, paced, room)
        index = self._choose_shard(tenant, snapshot, eligible, index, cost, tokens, now, room)
        self._fund_shard(tenant, key, snapshot, index, cost, tokens, len(eligible), limit, room, keep)
        return index, limit, tenant

    # -- the round's decisions -----------------------------------------------------------------------

    def _deny_if_tenant_short(
        self,
        tenant: TenantConfig,
        snapshot: _Snapshot,
        cost: int,
        tokens: int,
        now: float,
        paced: PaceAt | None = None,
        room: int = 0,
    ) -> None:
        """Deny when the tenant as a whole (pool plus every shard) cannot take the request, or, for a
        paced budget, when the shards and the pool's ``room`` beyond the pace's reserve cannot."""
        period = tenant.budget_period
        if tenant.requests_per_minute is not None:
            started = snapshot.total(minute_key(now))
            if started >= tenant.requests_per_minute:
                raise LimitExceeded(
                    "rate_limited",
                    f"{tenant.requests_per_minute} requests per minute reached",
                    retry_after_seconds=seconds_to_next_minute(now),
                )
        if tenant.max_in_flight is not None and snapshot.total("in_flight") >= tenant.max_in_flight:
            raise LimitExceeded(
                "too_many_in_flight",
                f"{tenant.max_in_flight} requests of this tenant are already in flight; retry when one ends",
                retry_after_seconds=1,
            )
        # Signed: a shard a settle left below zero (billed above its reservation) is the tenant's debt.
        available = snapshot.available
        limit = _int(snapshot.head or {}, "limit_nanos", tenant.budget_limit_nanos)
        if available < cost:
            held = any(
                shard.allocated_nanos - shard.available_nanos - shard.spent_nanos > 0
                for shard in snapshot.shards.values()
            )
            message = (
                f"the {period.lower()} budget of USD {nanos_to_usd(limit)} has USD "
                f"{nanos_to_usd(max(available, 0))} left; this request may cost up to "
                f"USD {nanos_to_usd(cost)}"
            )
            raise _until_holds_end("budget_exhausted", message, tenant, now, self._hold_lifetime, held=held)
        if paced is not None and snapshot.total("available_nanos") + room < cost:
            # Spent and held (limit - available) plus this request must fit the allowance.
            raise _pace_denial(paced, limit - available + cost, cost, "the", tenant, now)
        if tokens:
            tokens_left = snapshot.tokens_left
            if tokens_left < tokens:
                message = (
                    f"the period's token limit of {tenant.tokens_per_period} has {max(tokens_left, 0)} "
                    f"tokens left; this request may use up to {tokens}"
                )
                raise _until_holds_end("token_limit", message, tenant, now, self._hold_lifetime, held=True)

    def _choose_shard(
        self,
        tenant: TenantConfig,
        snapshot: _Snapshot,
        eligible: list[int],
        preferred: int,
        cost: int,
        tokens: int,
        now: float,
        room: int,
    ) -> int:
        """The shard to retry on. While the pool has budget: the randomly drawn shard (funded from the
        pool, so load stays spread evenly). Once the pool is empty: a shard that already holds enough
        (no budget moves, one more write), and only when none does, the richest, funded by steals.
        A drawn shard at its share of a count limit is replaced by another with room."""
        minute = minute_key(now)
        shards = tenant.ledger_shards

        def counts(index: int) -> _Shard:
            return snapshot.shards.get(index) or _Shard("", {})

        def has_room(index: int) -> bool:
            shard = counts(index)
            in_flight_share = share(tenant.max_in_flight, index, shards)
            rpm_share = share(tenant.requests_per_minute, index, shards)
            return (in_flight_share is None or shard.in_flight < in_flight_share) and (
                rpm_share is None or _int(shard.item, minute) < rpm_share
            )

        def enough(index: int) -> bool:
            shard = counts(index)
            return shard.available_nanos >= cost and (not tokens or shard.tokens_available >= tokens)

        pool_has_enough = room >= cost and (not tokens or snapshot.tokens_pool >= tokens)
        if preferred in eligible and has_room(preferred) and (pool_has_enough or enough(preferred)):
            return preferred
        candidates = [index for index in eligible if has_room(index)]
        if not candidates:
            # The totals had room a moment ago; every share is taken now.
            raise _contended(tenant, "in_flight" if tenant.max_in_flight is not None else "rpm", now)
        funded = [index for index in candidates if enough(index)]
        if funded:
            return self._dynamo.random.choice(funded)
        if pool_has_enough and preferred in candidates:
            return preferred
        # The pool cannot fund it and no shard holds enough: gather into the richest shard (the lowest
        # index among equals). Every request short at this moment picks the same one, so budget flows
        # one way; random targets would steal each other's gatherings and none would fit (a livelock
        # that turns budget the tenant has into denials).
        return max(candidates, key=lambda index: (counts(index).available_nanos, -index))

    def _fund_shard(
        self,
        tenant: TenantConfig,
        key: str,
        snapshot: _Snapshot,
        index: int,
        cost: int,
        tokens: int,
        active_shards: int,
        limit: int,
        room: int,
        keep: int,
    ) -> None:
        """Move budget into a short shard: a slice of what the pool may give (``room``, all of it
        unless paced: max(need, ceil(room / shards))), else
        what the other shards hold, richest first. Each move is one transaction (budget.py): a lost race
        moves nothing, and no reader ever sees the budget in neither place."""
        target = snapshot.shards.get(index) or _Shard(shard_key(key, index), {})
        need = cost - target.available_nanos
        need_tokens = tokens - target.tokens_available if tokens else 0
        if need <= 0 and need_tokens <= 0:
            return  # it has enough now (a concurrent settle gave some back)
        pool, tokens_pool = room, snapshot.tokens_pool
        take = min(pool, max(need, math.ceil(pool / active_shards))) if need > 0 and pool > 0 else 0
        take_tokens = (
            min(tokens_pool, max(need_tokens, math.ceil(tokens_pool / active_shards)))
            if need_tokens > 0 and tokens_pool > 0
            else 0
        )
        if take or take_tokens:
            if not self._budget.pool_to_shard(tenant.tenant_id, key, index, take, take_tokens, limit, keep):
                return  # the pool moved meanwhile: the next round sees it again
            need -= take
            need_tokens -= take_tokens
        self._steal(tenant.tenant_id, key, snapshot, index, need, need_tokens, limit)

    def _steal(
        self,
        tenant_id: str,
        key: str,
        snapshot: _Snapshot,
        index: int,
        need: int,
        need_tokens: int,
        limit: int,
    ) -> None:
        """What the pool could not give, from the other shards, richest first (each gives at most what it
        has, and at least half of it when it has more than the need)."""
        donors = sorted(
            (shard for number, shard in snapshot.shards.items() if number != index),
            key=lambda shard: shard.available_nanos,
            reverse=True,
        )
        for donor in donors:
            if need <= 0 and need_tokens <= 0:
                return
            has, has_tokens = max(donor.available_nanos, 0), max(donor.tokens_available, 0)
            steal = min(has, max(need, has // 2)) if need > 0 else 0
            steal_tokens = min(has_tokens, max(need_tokens, has_tokens // 2)) if need_tokens > 0 else 0
            if not steal and not steal_tokens:
                continue
            if not self._budget.shard_to_shard(
                tenant_id, donor.sort_key, key, index, steal, steal_tokens, limit
            ):
                continue
            need -= steal
            need_tokens -= steal_tokens


def _shard_reason(
    tenant: TenantConfig, index: int, old: Mapping[str, Any], cost: int, tokens: int, now: float
) -> str:
    shards = tenant.ledger_shards
    rpm_share = share(tenant.requests_per_minute, index, shards)
    if rpm_share is not None and _int(old, minute_key(now)) >= rpm_share:
        return "rpm"
    in_flight_share = share(tenant.max_in_flight, index, shards)
    if in_flight_share is not None and _int(old, "in_flight") >= in_flight_share:
        return "in_flight"
    if tokens and _int(old, "tokens_available") < tokens:
        return "tokens" if _int(old, "available_nanos") >= cost else "budget"
    return "budget"


# -- denials -----------------------------------------------------------------------------------------


def _deny_if_over_whole_limits(
    tenant: TenantConfig, user: str | None, cost: int, tokens: int, now: float
) -> int | None:
    """Deny a request larger than a whole period's limit (no wait helps: it must shrink). Returns the
    user's limit, None when no per-user limit applies."""
    period_end = seconds_to_period_end(tenant.budget_period, now)
    if cost > tenant.budget_limit_nanos:
        raise LimitExceeded(
            "budget_exhausted",
            f"this request may cost up to USD {nanos_to_usd(cost)}, more than the whole "
            f"{tenant.budget_period.lower()} budget of USD {nanos_to_usd(tenant.budget_limit_nanos)}; "
            "lower max_tokens or shorten the prompt",
            retry_after_seconds=period_end,
            now=now,
        )
    if tenant.tokens_per_period is not None and tokens > tenant.tokens_per_period:
        raise LimitExceeded(
            "token_limit",
            f"this request may use up to {tokens} tokens, more than the whole period's "
            f"{tenant.tokens_per_period}; lower max_tokens or shorten the prompt",
            retry_after_seconds=period_end,
            now=now,
        )
    user_limit = tenant.user_limit_for(user)
    if user_limit is not None and cost > user_limit:
        raise LimitExceeded(
            "user_budget_exhausted",
            f"this request may cost up to USD {nanos_to_usd(cost)}, more than user {user}'s whole "
            f"{tenant.budget_period.lower()} budget of USD {nanos_to_usd(user_limit)}; lower max_tokens",
            retry_after_seconds=period_end,
            now=now,
        )
    return user_limit


def _unless_shadow(
    tenant: TenantConfig, decide: Callable[[], _T], take_anyway: Callable[[], _T]
) -> tuple[_T, str | None]:
    """``decide``'s result and None, or in shadow mode (enforce = false) a limit's "no" recorded instead
    of raised: ``take_anyway``'s result (the worst case taken unconditionally) and the denial's code.
    The first code recorded becomes the reservation's would_deny (docs/design.md section 4, "Shadow
    mode")."""
    try:
        return decide(), None
    except LimitExceeded as denial:
        if tenant.enforce:
            raise
        return take_anyway(), denial.code


def _until_holds_end(
    code: str, message: str, tenant: TenantConfig, now: float, hold_lifetime: int, *, held: bool
) -> LimitExceeded:
    """A budget or token denial. Outstanding holds end (settled with their unused part given back)
    within one hold lifetime; without any, only the next period helps."""
    period_end = seconds_to_period_end(tenant.budget_period, now)
    return LimitExceeded(
        code,
        message,
        retry_after_seconds=min(hold_lifetime, period_end) if held else period_end,
        now=now,
    )


def _pace_denial(
    paced: PaceAt, needed: int, cost: int, whose: str, tenant: TenantConfig, now: float
) -> LimitExceeded:
    """The pace's "no": spent and held plus this request (``needed``) pass what the pace allows now;
    it says when the allowance reaches ``needed`` (retryable if soon, final otherwise: core/errors.py)."""
    wait = paced.wait_seconds(needed)
    message = (
        f"{whose} {tenant.budget_period.lower()} budget of USD {nanos_to_usd(paced.limit)} is paced: "
        f"USD {nanos_to_usd(paced.allowance)} may be spent or held by now (the elapsed share plus a burst "
        f"of USD {nanos_to_usd(paced.burst)}), USD {nanos_to_usd(max(needed - cost, 0))} is; this request "
        f"may cost up to USD {nanos_to_usd(cost)} and fits the pace in {wait} s"
    )
    return LimitExceeded(PACE_EXCEEDED, message, retry_after_seconds=wait, now=now)


def _blocked(tenant: TenantConfig, now: float) -> LimitExceeded:
    return LimitExceeded(
        "tenant_blocked",
        f"tenant {tenant.tenant_id} is blocked for this period (its budget alert fired)",
        retry_after_seconds=seconds_to_period_end(tenant.budget_period, now),
        now=now,
    )


def _contended(tenant: TenantConfig, reason: str, now: float) -> GatewayError:
    if reason == "rpm":
        return LimitExceeded(
            "rate_limited",
            f"{tenant.requests_per_minute} requests per minute reached",
            retry_after_seconds=seconds_to_next_minute(now),
        )
    if reason == "in_flight":
        return LimitExceeded(
            "too_many_in_flight",
            f"{tenant.max_in_flight} requests of this tenant are already in flight; retry when one ends",
            retry_after_seconds=1,
        )
    # The tenant as a whole had room in every round (else the round denied it), but concurrent requests
    # took each slice moved here: contention, not an exhausted budget (issue 14: never a false no).
    what = "tokens" if reason == "tokens" else "budget"
    return ServiceUnavailable(
        "ledger_contended",
        f"the tenant has the {what} for this request, but concurrent requests kept taking it while the "
        "gateway moved it to where this request could hold it; retry in a second",
        headers={"Retry-After": str(CONTENDED_RETRY_AFTER_SECONDS)},
    )
