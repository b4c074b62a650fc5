"""The period's budget items, read and moved: the snapshot of the head and every shard, and the single
writes that move budget between the head's pool and the shards.

Shared by admission (refills and steals), maintenance (claw-backs, drains, limit moves) and reads; a room
of its own so that none of those depends on another for them. Every move debits its source conditionally
first, so a lost race moves nothing and a crash between the two writes only loses budget (never adds it).
The prefund transaction (admission.py) is built from the same ``pool_debit`` and ``shard_credit``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cost_sentry.adapters.ledger.dynamo import Dynamo, LedgerWriteFailed, Update, _ConditionFailed
from cost_sentry.adapters.ledger.items import _int, _key
from cost_sentry.core.periods import shard_index, shard_key


@dataclass
class _Shard:
    sort_key: str
    item: Mapping[str, Any]

    def count(self, name: str) -> int:
        return _int(self.item, name)

    available_nanos = property(lambda self: self.count("available_nanos"))
    allocated_nanos = property(lambda self: self.count("allocated_nanos"))
    spent_nanos = property(lambda self: self.count("spent_nanos"))
    in_flight = property(lambda self: self.count("in_flight"))
    tokens_available = property(lambda self: self.count("tokens_available"))
    requests = property(lambda self: self.count("requests"))

    @property
    def blocked(self) -> bool:
        return "blocked" in self.item


@dataclass
class _Snapshot:
    """The head and every shard of one period, from one strongly consistent Query."""

    head: Mapping[str, Any] | None
    shards: dict[int, _Shard] = field(default_factory=dict)

    @property
    def pool(self) -> int:
        return _int(self.head or {}, "pool_nanos")

    @property
    def tokens_pool(self) -> int:
        return _int(self.head or {}, "tokens_pool")

    @property
    def blocked(self) -> bool:
        return "blocked" in (self.head or {}) or any(shard.blocked for shard in self.shards.values())

    def total(self, name: str) -> int:
        return sum(_int(shard.item, name) for shard in self.shards.values())


def pool_debit(nanos: int, tokens: int, limit: int, *, unless_blocked: bool = False) -> Update:
    """Take ``nanos`` (and ``tokens``) out of the head's pool, if it still holds them under ``limit``."""
    update = Update().add("pool_nanos", -nanos).condition("#pool_nanos >= {}", nanos)
    update.condition("#limit_nanos = {}", limit)
    if unless_blocked:
        update.condition("attribute_not_exists(#blocked)")
    if tokens:
        update.add("tokens_pool", -tokens).condition("#tokens_pool >= {}", tokens)
    return update


def shard_credit(nanos: int, tokens: int, limit: int) -> Update:
    """Add budget to a shard (creating it), with a copy of the head's limit for the responses."""
    update = Update().set("limit_nanos", limit).add("available_nanos", nanos).add("allocated_nanos", nanos)
    if tokens:
        update.add("tokens_available", tokens).add("tokens_allocated", tokens)
    return update


def shard_debit(nanos: int, tokens: int) -> Update:
    """Take budget out of a shard (it leaves the shard's allocation), if the shard still has it."""
    update = Update().add("available_nanos", -nanos).add("allocated_nanos", -nanos)
    update.condition("#available_nanos >= {}", nanos)
    if tokens:
        update.add("tokens_available", -tokens).add("tokens_allocated", -tokens)
        update.condition("#tokens_available >= {}", tokens)
    return update


class Budget:
    def __init__(self, dynamo: Dynamo) -> None:
        self._dynamo = dynamo

    def snapshot(self, tenant_id: str, key: str, shards: int = 1) -> _Snapshot:
        """The head and all shards of the period, strongly consistent: one BatchGetItem of the head and
        shards 0..``shards``-1 (each shard is in its own partition), and a second one only when the head
        records more shards used this period (``shards``, a high-water mark)."""
        items = self._get_many(tenant_id, [key, *(shard_key(key, index) for index in range(shards))])
        head = items.get(key)
        used = _int(head or {}, "shards")
        if used > shards:
            items |= self._get_many(tenant_id, [shard_key(key, index) for index in range(shards, used)])
        snapshot = _Snapshot(head=head)
        for sort_key, item in items.items():
            index = shard_index(key, sort_key)
            if index is not None:
                snapshot.shards[index] = _Shard(sort_key, item)
        return snapshot

    def _get_many(self, tenant_id: str, sort_keys: list[str]) -> dict[str, Mapping[str, Any]]:
        return self._dynamo.get_many([_key(tenant_id, sort_key) for sort_key in sort_keys])

    def debit_pool(self, tenant_id: str, key: str, nanos: int, tokens: int, limit: int) -> bool:
        try:
            self._dynamo.update(_key(tenant_id, key), pool_debit(nanos, tokens, limit, unless_blocked=True))
        except _ConditionFailed:
            return False
        return True

    def debit_shard(self, tenant_id: str, sort_key: str, nanos: int, tokens: int) -> bool:
        """Take budget out of a shard (it leaves the shard's allocation), if the shard still has it."""
        try:
            self._dynamo.update(_key(tenant_id, sort_key), shard_debit(nanos, tokens))
        except _ConditionFailed:
            return False
        return True

    def credit_shard(self, tenant_id: str, sort_key: str, nanos: int, tokens: int, limit: int) -> None:
        """Add budget to a shard (creating it), with a copy of the head's limit for the responses."""
        self._credit(tenant_id, sort_key, shard_credit(nanos, tokens, limit), nanos, tokens)

    def credit_pool(self, tenant_id: str, key: str, nanos: int) -> None:
        self._credit(tenant_id, key, Update().add("pool_nanos", nanos), nanos, 0)

    def _credit(self, tenant_id: str, sort_key: str, update: Update, nanos: int, tokens: int) -> None:
        try:
            self._dynamo.update(_key(tenant_id, sort_key), update)
        except LedgerWriteFailed:
            # Debited from its source, never credited: the tenant loses this much budget for the period
            # (the safe direction); the log line lets an operator give it back.
            self._dynamo.logger.error(
                "ledger_budget_in_transit_lost", tenant=tenant_id, to=sort_key, nanos=nanos, tokens=tokens
            )
            raise

    def rebase_item(
        self,
        tenant_id: str,
        sort_key: str,
        old: int,
        new: int,
        *,
        pool: str,
        limit_name: str = "limit_nanos",
    ) -> bool:
        """Move an item's limit from ``old`` to ``new`` and its pool by the difference, once: the write is
        conditional on the old limit, so concurrent rebases of the same change apply it once."""
        update = Update().set(limit_name, new).add(pool, new - old).condition(f"#{limit_name} = {{}}", old)
        try:
            self._dynamo.update(_key(tenant_id, sort_key), update)
        except _ConditionFailed:
            return False
        return True
