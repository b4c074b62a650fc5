"""The period's budget items, read and moved: the snapshot of the head and every shard, and the
transactions that move budget between the head's pool and the shards.

Shared by admission (refills and steals), periods (the prefund), maintenance (claw-backs, drains, limit
moves) and reads; a room of its own so that none of those depends on another for them. Budget is never
anywhere a reader cannot see it (issue 14, docs/design.md section 4): every move debits its source
(conditionally) and credits its target in ONE TransactWriteItems, and the snapshot is ONE
TransactGetItems, which DynamoDB serializes with those transactions, so a snapshot sees each move wholly
or not at all. (A BatchGetItem reads each item on its own and could see a move's debit without its
credit: budget in transit, a false denial.)
The prefund transaction (periods.py) is built from the same ``pool_debit`` and ``shard_credit``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cost_sentry.adapters.ledger.dynamo import Dynamo, Update, _ConditionFailed
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
    """The head and every shard of one period, from one TransactGetItems (one serializable read)."""

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
        """The signed sum over the shards: a shard a settle left below zero counts against the others."""
        return sum(_int(shard.item, name) for shard in self.shards.values())

    @property
    def available(self) -> int:
        """What the tenant has neither spent nor held: the pool and every shard, signed."""
        return self.pool + self.total("available_nanos")

    @property
    def tokens_left(self) -> int:
        return self.tokens_pool + self.total("tokens_available")


def pool_debit(nanos: int, tokens: int, limit: int, *, unless_blocked: bool = False, keep: int = 0) -> Update:
    """Take ``nanos`` (and ``tokens``) out of the head's pool, if it still holds them under ``limit``
    and ``keep`` more: a paced budget's pool keeps back what the pace does not allow yet
    (core/pacing.py), so no shard ever holds more than the pace, whichever shard a request lands on."""
    update = Update().add("pool_nanos", -nanos).condition("#pool_nanos >= {}", nanos + keep)
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
        """The head and all shards of the period in one serializable read: a TransactGetItems of the head
        and shards 0..``shards``-1 (each shard is in its own partition), read again over more shards
        only when the head records more used this period (``shards``, a high-water mark)."""
        items = self._read(tenant_id, key, shards)
        used = _int(items.get(key) or {}, "shards")
        if used > shards:
            items = self._read(tenant_id, key, used)
        snapshot = _Snapshot(head=items.get(key))
        for sort_key, item in items.items():
            index = shard_index(key, sort_key)
            if index is not None:
                snapshot.shards[index] = _Shard(sort_key, item)
        return snapshot

    def _read(self, tenant_id: str, key: str, shards: int) -> dict[str, Mapping[str, Any]]:
        sort_keys = [key, *(shard_key(key, index) for index in range(shards))]
        return self._dynamo.get_together([_key(tenant_id, sort_key) for sort_key in sort_keys])

    def pool_to_shard(
        self, tenant_id: str, key: str, index: int, nanos: int, tokens: int, limit: int, keep: int = 0
    ) -> bool:
        """Move budget from the pool into shard ``index``, if the pool still holds it (and ``keep``, the
        pace's reserve) under ``limit`` and the tenant is not blocked. False: the pool moved meanwhile,
        or the pace does not allow it (nothing moved)."""
        return self.move(
            (_key(tenant_id, key), pool_debit(nanos, tokens, limit, unless_blocked=True, keep=keep)),
            (_key(tenant_id, shard_key(key, index)), shard_credit(nanos, tokens, limit)),
        )

    def shard_to_shard(
        self, tenant_id: str, donor: str, key: str, index: int, nanos: int, tokens: int, limit: int
    ) -> bool:
        """Move budget from the shard ``donor`` (a sort key) into shard ``index``, if the donor has it."""
        return self.move(
            (_key(tenant_id, donor), shard_debit(nanos, tokens)),
            (_key(tenant_id, shard_key(key, index)), shard_credit(nanos, tokens, limit)),
        )

    def shard_to_pool(self, tenant_id: str, key: str, donor: str, nanos: int) -> bool:
        """Give a shard's unspent budget back to the pool (a claw-back or a drain), if it still has it."""
        return self.move(
            (_key(tenant_id, donor), shard_debit(nanos, 0)),
            (_key(tenant_id, key), Update().add("pool_nanos", nanos)),
        )

    def move(self, source: tuple[dict[str, Any], Update], target: tuple[dict[str, Any], Update]) -> bool:
        """Debit and credit in one transaction. Its token is drawn once, so a resend after an ambiguous
        failure is the same transaction (DynamoDB applies it once)."""
        table = self._dynamo.table
        token = str(uuid.UUID(int=self._dynamo.random.getrandbits(128), version=4))
        try:
            self._dynamo.send(
                "transact_write_items",
                idempotent=True,
                TransactItems=[source[1].transact(table, source[0]), target[1].transact(table, target[0])],
                ClientRequestToken=token,
            )
        except _ConditionFailed:
            return False
        return True

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
