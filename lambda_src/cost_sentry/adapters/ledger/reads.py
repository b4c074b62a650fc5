"""Reads of a tenant's period for GET /v1/budget and the CLI: the head and every shard, read with one
TransactGetItems (``Budget.snapshot``) and summed. Nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass

from cost_sentry.adapters.ledger.budget import Budget
from cost_sentry.adapters.ledger.dynamo import Dynamo
from cost_sentry.adapters.ledger.items import _int
from cost_sentry.core.periods import period_key
from cost_sentry.core.tenants import TenantConfig


@dataclass(frozen=True)
class PeriodStatus:
    period_key: str
    limit_nanos: int
    spent_nanos: int
    held_nanos: int
    available_nanos: int
    requests: int
    input_tokens: int
    output_tokens: int
    tokens_available: int | None
    blocked: bool
    shards: int = 0
    in_flight: int = 0


class Reads:
    def __init__(self, dynamo: Dynamo, budget: Budget) -> None:
        self._dynamo = dynamo
        self._budget = budget

    def period_status(self, tenant: TenantConfig) -> PeriodStatus:
        """The tenant's period: the head and every shard, read with one TransactGetItems and summed."""
        now = self._dynamo.clock()
        key = period_key(tenant.budget_period, now)
        snapshot = self._budget.snapshot(tenant.tenant_id, key, tenant.ledger_shards)
        head = snapshot.head or {}
        has_head = "limit_nanos" in head
        limit = _int(head, "limit_nanos") if has_head else tenant.budget_limit_nanos
        shards = snapshot.shards.values()
        spent = sum(shard.spent_nanos for shard in shards)
        available = (snapshot.pool if has_head else limit) + sum(shard.available_nanos for shard in shards)
        held = sum(shard.allocated_nanos - shard.available_nanos - shard.spent_nanos for shard in shards)
        tokens_available = None
        if tenant.tokens_per_period is not None:
            if "token_limit" in head:
                tokens_available = snapshot.tokens_pool + sum(shard.tokens_available for shard in shards)
            else:
                used = snapshot.total("input_tokens") + snapshot.total("output_tokens")
                tokens_available = tenant.tokens_per_period - used
        return PeriodStatus(
            period_key=key,
            limit_nanos=limit,
            spent_nanos=spent,
            held_nanos=held,
            available_nanos=available,
            requests=sum(shard.requests for shard in shards),
            input_tokens=snapshot.total("input_tokens"),
            output_tokens=snapshot.total("output_tokens"),
            tokens_available=tokens_available,
            blocked=snapshot.blocked,
            shards=len(snapshot.shards),
            in_flight=snapshot.total("in_flight"),
        )
