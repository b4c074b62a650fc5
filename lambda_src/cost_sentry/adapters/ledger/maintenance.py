"""Limit changes and blocks, off the hot path: what the budget sync and alert functions (and the sweep's
maintenance pass) do to a period's items.

``maintain`` rebases the head to a configured limit read just now, claws a lowered limit back from the
shards and drains shards beyond the configured count into the pool; ``move_limit`` moves a limit once
(conditional on the old one); ``block`` and ``lift_block`` set and remove a budget alert's block on the
head (the record) and on every shard (where the reservation's own condition refuses it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from cost_sentry.adapters.ledger.budget import Budget, _Snapshot
from cost_sentry.adapters.ledger.dynamo import MAX_WRITE_ATTEMPTS, Dynamo, Update, _ConditionFailed
from cost_sentry.adapters.ledger.items import _int, _key
from cost_sentry.core.pacing import pool_reserve
from cost_sentry.core.periods import period_key, shard_key
from cost_sentry.core.tenants import TenantConfig


class Maintenance:
    def __init__(self, dynamo: Dynamo, budget: Budget) -> None:
        self._dynamo = dynamo
        self._budget = budget

    def maintain(self, tenant: TenantConfig, now: float | None = None) -> dict[str, int]:
        """Off the hot path, with a config read that just succeeded (``tenant``): rebase the head to the
        configured limit, claw a lowered limit back from the shards, and drain shards beyond the
        configured count into the pool. Returns what moved."""
        moment = self._dynamo.clock() if now is None else now
        key = period_key(tenant.budget_period, moment)
        snapshot = self._budget.snapshot(tenant.tenant_id, key, tenant.ledger_shards)
        if snapshot.head is None or "limit_nanos" not in snapshot.head:
            return {"rebased": 0, "clawed_back": 0, "drained": 0}
        rebased = 0
        if _int(snapshot.head, "limit_nanos") != tenant.budget_limit_nanos:
            rebased = self.move_limit(tenant, key, tenant.budget_limit_nanos, snapshot=snapshot) or 0
            snapshot = self._budget.snapshot(tenant.tenant_id, key, tenant.ledger_shards)
        drained = 0
        for index, shard in snapshot.shards.items():
            surplus = index >= tenant.ledger_shards and shard.available_nanos > 0 and shard.in_flight <= 0
            if surplus and self._budget.shard_to_pool(
                tenant.tenant_id, key, shard.sort_key, shard.available_nanos
            ):
                drained += shard.available_nanos
        clawed = self.claw_back(
            tenant.tenant_id,
            key,
            self._budget.snapshot(tenant.tenant_id, key, tenant.ledger_shards),
            keep=pool_reserve(tenant.pace, tenant.budget_limit_nanos, tenant.budget_period, moment),
        )
        return {"rebased": rebased, "clawed_back": clawed, "drained": drained}

    def move_limit(
        self, tenant: TenantConfig, key: str, new_limit: int, *, snapshot: _Snapshot | None = None
    ) -> int | None:
        """Move the period's limit to ``new_limit`` and its pool by the same delta, once (conditional on
        the old limit); a lowered limit is then clawed back from the shards' unspent budget, down to
        what the tenant's pace lets them hold at the new limit (only its pace and period are read, so
        a caller may pass the config from before the change). Returns the delta applied, or None when
        there was nothing to move (no head yet, or already this limit)."""
        tenant_id = tenant.tenant_id
        for _ in range(MAX_WRITE_ATTEMPTS):
            current = snapshot or self._budget.snapshot(tenant_id, key)
            snapshot = None
            head = current.head
            if head is None or "limit_nanos" not in head:
                return None
            old = _int(head, "limit_nanos")
            if old == new_limit:
                return None
            if self._budget.rebase_item(tenant_id, key, old, new_limit, pool="pool_nanos"):
                for shard in current.shards.values():
                    # The shards' copy of the limit (what responses report); the head enforces it.
                    with contextlib.suppress(_ConditionFailed):
                        self._dynamo.update(
                            _key(tenant_id, shard.sort_key),
                            Update().set("limit_nanos", new_limit).condition("attribute_exists(sk)"),
                        )
                if new_limit < old:
                    # A paced budget's allowance shrinks with its limit: the shards may not keep what
                    # the old allowance let them hold (the pool holds ``limit - allowance`` back again).
                    now = self._dynamo.clock()
                    keep = pool_reserve(tenant.pace, new_limit, tenant.budget_period, now)
                    self.claw_back(tenant_id, key, self._budget.snapshot(tenant_id, key), keep=keep)
                return new_limit - old
        raise ValueError(f"the ledger head {tenant_id}/{key} kept changing; will retry on the next run")

    def cover_deficit(self, tenant_id: str, key: str, shard: str, deficit: int) -> None:
        """A settle billed above its reservation left ``shard`` ``deficit`` below zero: the tenant owes
        it, not the shard. One transaction moves the debt to the pool (the shard is made whole, the pool
        goes down, possibly below zero: limit = pool + allocated still holds), then the claw-back takes
        it from the other shards' unspent budget, so no shard admits on budget already spent. What no
        shard has left stays as a negative pool, which every refill round's signed total sees. Best
        effort after a settle that is already recorded: a failure leaves the debt on the shard, where
        the signed totals still count it."""
        make_whole = Update().add("available_nanos", deficit).add("allocated_nanos", deficit)
        make_whole.condition("#available_nanos <= {}", -deficit)
        try:
            moved = self._budget.move(
                (_key(tenant_id, key), Update().add("pool_nanos", -deficit)),
                (_key(tenant_id, shard), make_whole),
            )
            if moved:
                # The head records how many shards the period used: the snapshot reads them all.
                self.claw_back(tenant_id, key, self._budget.snapshot(tenant_id, key))
        except Exception as exc:
            self._dynamo.logger.error(
                "ledger_deficit_not_covered", tenant=tenant_id, shard=shard, error=str(exc)
            )

    def claw_back(self, tenant_id: str, key: str, snapshot: _Snapshot, keep: int = 0) -> int:
        """A pool below ``keep`` (0, or a paced budget's ``limit - allowance``: core/pacing.pool_reserve)
        after a lowered limit or a settle's debt is refilled from the shards' unspent budget, so the
        shards cannot let through more than the limit, or than the pace. What is already spent stays
        spent."""
        owed = keep - snapshot.pool
        clawed = 0
        for shard in sorted(snapshot.shards.values(), key=lambda s: s.available_nanos, reverse=True):
            if owed <= 0:
                break
            take = min(owed, shard.available_nanos)
            if take > 0 and self._budget.shard_to_pool(tenant_id, key, shard.sort_key, take):
                owed -= take
                clawed += take
        return clawed

    def block_reason(self, tenant_id: str, key: str) -> Mapping[str, Any] | None:
        """The ``blocked`` map of the period (a budget alert's reason), or None."""
        item = self._dynamo.send(
            "get_item",
            idempotent=True,
            Key=_key(tenant_id, key),
            ConsistentRead=True,
            ProjectionExpression="blocked",
        ).get("Item")
        blocked = ((item or {}).get("blocked") or {}).get("M")
        return blocked or None

    def block(self, tenant: TenantConfig, key: str, reason: Mapping[str, Any]) -> bool:
        """Block the tenant for the period: on the head (the record, conditional: True when newly
        blocked) and on every shard, where the reservation's own condition refuses it."""
        try:
            self._dynamo.update(
                _key(tenant.tenant_id, key),
                Update().set("blocked", {"M": dict(reason)}).condition("attribute_not_exists(#blocked)"),
            )
            newly = True
        except _ConditionFailed:
            newly = False
        for sort_key in self._shard_keys(tenant, key):
            self._dynamo.update(
                _key(tenant.tenant_id, sort_key), Update().set("blocked", {"M": dict(reason)})
            )
        return newly

    def lift_block(self, tenant: TenantConfig, key: str, expected: Mapping[str, Any]) -> bool:
        """Remove a block, conditional on it still being the one read (``budgetedUsd`` and ``at``), so a
        fresher alert is never undone; then from every shard."""
        still_the_one = Update().remove("blocked")
        still_the_one.condition(
            "#blocked.budgetedUsd = {} AND #blocked.#at = {}",
            expected.get("budgetedUsd", {"S": ""}),
            expected.get("at", {"S": ""}),
        )
        try:
            self._dynamo.update(_key(tenant.tenant_id, key), still_the_one)
        except _ConditionFailed:
            return False
        for sort_key in self._shard_keys(tenant, key):
            self._dynamo.update(_key(tenant.tenant_id, sort_key), Update().remove("blocked"))
        return True

    def _shard_keys(self, tenant: TenantConfig, key: str) -> list[str]:
        existing = self._budget.snapshot(tenant.tenant_id, key, tenant.ledger_shards).shards
        return sorted(
            {shard_key(key, index) for index in range(tenant.ledger_shards)}
            | {shard.sort_key for shard in existing.values()}
        )
