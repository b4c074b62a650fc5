"""One end user's period budget, read (``GET /v1/budget`` for the calling user).

The ledger (cost_sentry.adapters.ledger) is the only writer of the user item ``USER#<p>#<user>`` in
the partition ``<tenant>#U#<user>`` (docs/design.md section 4); this is one strongly consistent
GetItem of it, never a write. It lives beside the ledger rather than in it while the ledger is being
reworked on another branch; ``Ledger.user_status`` is where it belongs once that lands.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cost_sentry.core.periods import period_key, user_key, user_partition
from cost_sentry.core.tenants import TenantConfig


@dataclass(frozen=True)
class UserStatus:
    user: str
    # None: the tenant sets no per-user budget for this user (the ledger then keeps no user item).
    limit_nanos: int | None
    spent_nanos: int = 0
    held_nanos: int = 0
    available_nanos: int | None = None
    requests: int = 0


class UserBudgetReader:
    def __init__(self, dynamodb_client: Any, table: str, clock: Callable[[], float] = time.time) -> None:
        self._client = dynamodb_client
        self._table = table
        self._clock = clock

    def status(self, tenant: TenantConfig, user: str) -> UserStatus:
        limit = tenant.user_limit_for(user)
        if limit is None:
            return UserStatus(user=user, limit_nanos=None)
        key = period_key(tenant.budget_period, self._clock())
        answer = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": user_partition(tenant.tenant_id, user)}, "sk": {"S": user_key(key, user)}},
            ConsistentRead=True,
        )
        item = answer.get("Item") or {}

        def number(name: str, default: int) -> int:
            value = item.get(name, {}).get("N")
            return int(value) if value is not None else default

        recorded = number("limit_nanos", limit)
        available = number("available_nanos", recorded)
        spent = number("spent_nanos", 0)
        return UserStatus(
            user=user,
            limit_nanos=recorded,
            spent_nanos=spent,
            held_nanos=max(recorded - available - spent, 0),
            available_nanos=available,
            requests=number("requests", 0),
        )
