"""Opening a period: the head of a tenant's period, created by the first request that finds none, at
limits proven by a config read made for it (never the container's cached copy), with part of its pool
spread over the shards and the last period's requests in flight carried in; and, on every later refill
round, kept following the config (rebased only on proof, a token limit or more shards recorded, a
lowered limit clawed back before any funding).

A room of its own because it is a different job from funding a short shard (admission.py, ``Refill``):
what the period's limits are, rather than where its budget sits. It also holds what both need to agree
on: which shards take part (``eligible_shards``, each with its ``share`` of the count limits) and the
pace at a moment (``_paced``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import replace

from cost_sentry.adapters.ledger.budget import Budget, _Snapshot, pool_debit, shard_credit
from cost_sentry.adapters.ledger.dynamo import (
    Dynamo,
    LedgerWriteFailed,
    Update,
    _ConditionFailed,
    request_token,
)
from cost_sentry.adapters.ledger.items import _int, _key
from cost_sentry.adapters.ledger.maintenance import Maintenance
from cost_sentry.core.errors import ServiceUnavailable
from cost_sentry.core.pacing import Pace, PaceAt, pace_at, pool_reserve
from cost_sentry.core.periods import previous_period_key, shard_key
from cost_sentry.core.tenants import TenantConfig

# The request that creates a new period's head spreads 1/PREFUND_DIVISOR of the budget over its shards
# (all of it for a one-shard tenant); the rest stays in the pool for refills (docs/design.md section 4).
PREFUND_DIVISOR = 2
# A new period whose limit cannot be read (the config table failed and there is no previous period to
# open at) is answered 503 config_unavailable with this Retry-After.
CONFIG_UNAVAILABLE_RETRY_AFTER_SECONDS = 1

# A fresh read of a tenant's config (None when it fails): the only proof that may move a head's limits.
ReloadTenant = Callable[[str], TenantConfig | None]


def share(total: int | None, index: int, shards: int) -> int | None:
    """Shard ``index``'s part of a tenant-wide count limit: floor plus one of the remainder, so the
    parts add up to ``total`` exactly. None (no limit) stays None."""
    if total is None:
        return None
    return total // shards + (1 if index < total % shards else 0)


def eligible_shards(tenant: TenantConfig) -> list[int]:
    """Shards with a non-zero share of every count limit (a tenant with max_in_flight 3 over 8
    shards uses shards 0-2)."""
    shards = tenant.ledger_shards
    eligible = [
        index
        for index in range(shards)
        if share(tenant.max_in_flight, index, shards) != 0
        and share(tenant.requests_per_minute, index, shards) != 0
    ]
    return eligible or [0]


def _paced(pace: Pace | None, limit: int, tenant: TenantConfig, now: float) -> PaceAt | None:
    """The pace of a budget of ``limit`` as it stands at ``now``; None for a budget that is not paced."""
    return None if pace is None else pace_at(pace, limit, tenant.budget_period, now)


class PeriodHead:
    """The period's head, which a refill round relies on: created on first use (and prefunded), its
    limits rebased only on proof."""

    def __init__(self, dynamo: Dynamo, budget: Budget, limits: Maintenance) -> None:
        self._dynamo = dynamo
        self._budget = budget
        self._limits = limits

    def prepare(
        self,
        tenant: TenantConfig,
        key: str,
        snapshot: _Snapshot,
        reload_tenant: ReloadTenant | None,
    ) -> tuple[_Snapshot, TenantConfig]:
        """Create the period's head on first use; rebase its limits only on proof (a fresh read)."""
        head = snapshot.head or {}
        if "limit_nanos" not in head:
            tenant = self._proven_for_new_period(tenant, key, reload_tenant)
            self._create_head(tenant, key, snapshot)
            return self._budget.snapshot(tenant.tenant_id, key, tenant.ledger_shards), tenant
        recorded_tokens = _int(head, "token_limit") if "token_limit" in head else None
        tenant, changed = self._follow_config(tenant, key, snapshot, reload_tenant)
        if tenant.tokens_per_period is not None and recorded_tokens is None:
            self._add_token_limit(tenant, key, snapshot)
            changed = True
        if _int(head, "shards") < tenant.ledger_shards:
            # More shards configured: record it before any of them is funded, so every reader of the
            # period (which reads shards 0..shards-1) sees them.
            with contextlib.suppress(_ConditionFailed):
                self._dynamo.update(
                    _key(tenant.tenant_id, key),
                    Update()
                    .set("shards", tenant.ledger_shards)
                    .condition("attribute_not_exists(#shards) OR #shards < {}", tenant.ledger_shards),
                )
            changed = True
        if changed:
            snapshot = self._budget.snapshot(tenant.tenant_id, key, tenant.ledger_shards)
        keep = pool_reserve(
            tenant.pace,
            _int(snapshot.head or {}, "limit_nanos", tenant.budget_limit_nanos),
            tenant.budget_period,
            self._dynamo.clock(),
        )
        if snapshot.pool < keep and any(shard.available_nanos > 0 for shard in snapshot.shards.values()):
            # A lowered limit not yet clawed back (its budget was held then, or the pace's reserve at
            # the lower limit is larger): do it before funding.
            self._limits.claw_back(tenant.tenant_id, key, snapshot, keep=keep)
            snapshot = self._budget.snapshot(tenant.tenant_id, key, tenant.ledger_shards)
        return snapshot, tenant

    def _proven_for_new_period(
        self, tenant: TenantConfig, key: str, reload_tenant: ReloadTenant | None
    ) -> TenantConfig:
        """The limits a new period opens at: a config read made for it, never the container's cached
        copy, which may predate a lowered limit (issue 14). Without a reader (a direct ledger caller) the
        config given is the proof. If the read fails, the previous period's head (proven when it opened,
        and kept up to date by proof since); with neither, the request waits for the config table."""
        if reload_tenant is None:
            return tenant
        fresh = reload_tenant(tenant.tenant_id)
        if fresh is not None:
            return fresh
        previous = (
            self._dynamo.send(
                "get_item",
                idempotent=True,
                Key=_key(tenant.tenant_id, previous_period_key(tenant.budget_period, self._dynamo.clock())),
                ConsistentRead=True,
                ProjectionExpression="limit_nanos, token_limit",
            ).get("Item")
            or {}
        )
        if "limit_nanos" not in previous:
            raise ServiceUnavailable(
                "config_unavailable",
                "the tenant's budget for the new period cannot be opened: its limit could not be read "
                "from the config table; retry shortly",
                headers={"Retry-After": str(CONFIG_UNAVAILABLE_RETRY_AFTER_SECONDS)},
            )
        tokens = _int(previous, "token_limit") if "token_limit" in previous else tenant.tokens_per_period
        return replace(tenant, budget_limit_nanos=_int(previous, "limit_nanos"), tokens_per_period=tokens)

    def _follow_config(
        self, tenant: TenantConfig, key: str, snapshot: _Snapshot, reload_tenant: ReloadTenant | None
    ) -> tuple[TenantConfig, bool]:
        """The tenant as the head's limits prove it, and whether the head was rebased."""
        head = snapshot.head or {}
        recorded = _int(head, "limit_nanos")
        recorded_tokens = _int(head, "token_limit") if "token_limit" in head else None
        wants_tokens = tenant.tokens_per_period
        differs = recorded != tenant.budget_limit_nanos or (
            wants_tokens is not None and recorded_tokens is not None and recorded_tokens != wants_tokens
        )
        if not differs:
            return tenant, False
        # The cached config and the ledger disagree. Only a read that just succeeded may move the
        # ledger: a stale container (or a failed reload) must never undo a newer limit.
        fresh = reload_tenant(tenant.tenant_id) if reload_tenant else None
        if fresh is None:
            tokens_per_period = tenant.tokens_per_period if recorded_tokens is None else recorded_tokens
            return replace(tenant, budget_limit_nanos=recorded, tokens_per_period=tokens_per_period), False
        changed = False
        if fresh.budget_limit_nanos != recorded:
            self._limits.move_limit(fresh, key, fresh.budget_limit_nanos, snapshot=snapshot)
            changed = True
        if (
            fresh.tokens_per_period is not None
            and recorded_tokens is not None
            and recorded_tokens != fresh.tokens_per_period
        ):
            self._budget.rebase_item(
                fresh.tenant_id,
                key,
                recorded_tokens,
                fresh.tokens_per_period,
                pool="tokens_pool",
                limit_name="token_limit",
            )
            changed = True
        return fresh, changed

    def _create_head(self, tenant: TenantConfig, key: str, snapshot: _Snapshot) -> None:
        """The period's first use: one conditional UpdateItem creates the head with the whole budget in
        its pool (a single-item write, so a burst of first requests serializes on it without transaction
        conflicts; a failed condition means a concurrent request created it first). The request that
        created it then spreads part of the pool over the shards (``_prefund_shards``)."""
        head = (
            Update()
            .set("limit_nanos", tenant.budget_limit_nanos)
            .set("pool_nanos", tenant.budget_limit_nanos)
        )
        head.set("shards", tenant.ledger_shards).condition("attribute_not_exists(#limit_nanos)")
        token_pool = None
        if tenant.tokens_per_period is not None:
            token_pool = tenant.tokens_per_period  # the shards carry what is used or held, signed
            head.set("token_limit", tenant.tokens_per_period).set("tokens_pool", token_pool)
        # SET on a missing item creates it; a head holding only a budget-alert block gets its limit.
        try:
            self._dynamo.update(_key(tenant.tenant_id, key), head)
        except _ConditionFailed:
            return
        if tenant.max_in_flight is not None:
            self._carry_in_flight(tenant, key)
        limit = tenant.budget_limit_nanos
        paced = _paced(tenant.pace, limit, tenant, self._dynamo.clock())
        # A paced budget's first requests may hold only what the pace allows at the period's opening.
        self._prefund_shards(
            tenant, key, limit if paced is None else paced.allowance, max(token_pool or 0, 0)
        )

    def _prefund_shards(self, tenant: TenantConfig, key: str, pool: int, tokens_pool: int) -> None:
        """Spread ``1/PREFUND_DIVISOR`` of a new period's pool (all of it for a one-shard tenant) over the
        eligible shards, so the period's first requests on each shard skip the refill round. One
        transaction debits the pool and credits every shard (conditional on the pool still holding it),
        so nothing is ever in transit. Best effort: if it loses to concurrent writes, refills fund the
        shards as they always could."""
        eligible = eligible_shards(tenant)
        # One shard takes it all (it is the tenant: its responses report the tenant's remaining budget).
        divisor = PREFUND_DIVISOR * len(eligible) if len(eligible) > 1 else 1
        slice_nanos, slice_tokens = pool // divisor, tokens_pool // divisor
        if not slice_nanos and not slice_tokens:
            return
        limit, table, tenant_id = tenant.budget_limit_nanos, self._dynamo.table, tenant.tenant_id
        # ``limit - pool`` kept back: nothing for an unpaced budget, the pace's reserve otherwise.
        debit = pool_debit(
            slice_nanos * len(eligible), slice_tokens * len(eligible), limit, keep=limit - pool
        )
        credit = shard_credit(slice_nanos, slice_tokens, limit)
        items = [debit.transact(table, _key(tenant_id, key))]
        items += [credit.transact(table, _key(tenant_id, shard_key(key, index))) for index in eligible]
        seed = f"{tenant_id}/{key}/prefund/{limit}/{tenant.ledger_shards}"
        try:
            # Idempotent (a ClientRequestToken): an ambiguous failure is resent, never applied twice.
            self._dynamo.send(
                "transact_write_items",
                idempotent=True,
                TransactItems=items,
                ClientRequestToken=request_token(seed),
            )
        except (_ConditionFailed, LedgerWriteFailed):
            return  # the pool moved meanwhile, or the transaction kept conflicting: refills fund them

    def _carry_in_flight(self, tenant: TenantConfig, key: str) -> None:
        """The last period's requests still in flight count against max_in_flight in this one: their
        shards' in_flight (frozen since the rollover: their ends count here, settlement.py) is added to
        this period's shards of the same index, once, by the request that opened the period, in one
        transaction. If it is lost (a crash right after the head), the limit is loose for at most one
        hold lifetime, while those requests end."""
        previous = previous_period_key(tenant.budget_period, self._dynamo.clock())
        carried = {
            index: shard.in_flight
            for index, shard in self._budget.snapshot(tenant.tenant_id, previous).shards.items()
            if shard.in_flight > 0
        }
        if not carried:
            return
        table = self._dynamo.table
        items = [
            Update().add("in_flight", count).transact(table, _key(tenant.tenant_id, shard_key(key, index)))
            for index, count in sorted(carried.items())
        ]
        with contextlib.suppress(LedgerWriteFailed):
            self._dynamo.send(
                "transact_write_items",
                idempotent=True,
                TransactItems=items,
                ClientRequestToken=request_token(f"{tenant.tenant_id}/{key}/in-flight-carry"),
            )

    def _add_token_limit(self, tenant: TenantConfig, key: str, snapshot: _Snapshot) -> None:
        """A token limit added mid-period: the pool is the whole limit, because every shard already
        carries, as negative tokens_available, the tokens its requests used and those in flight hold
        (they are counted on every reserve, limit or not): the signed total is what is left."""
        assert tenant.tokens_per_period is not None
        pool = tenant.tokens_per_period
        added = Update().set("token_limit", tenant.tokens_per_period).set("tokens_pool", pool)
        added.condition("attribute_exists(#limit_nanos) AND attribute_not_exists(#token_limit)")
        with contextlib.suppress(_ConditionFailed):  # added concurrently
            self._dynamo.update(_key(tenant.tenant_id, key), added)
