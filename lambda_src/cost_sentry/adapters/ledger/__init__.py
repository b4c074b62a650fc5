"""The DynamoDB ledger (docs/design.md section 4): the one owner of every ledger item write.

A tenant's period budget lives in constant-size items: a head (``PERIOD#<p>``: the limit and the pool of
budget not yet given to a shard), ``n`` shards (``PERIOD#<p>#S<k>``: a slice of the budget each, the
counters the reservation is conditional on), one hold item per in-flight request (``HOLD#<p>#<id>``) and,
for tenants with per-user budgets, one item per end user (``USER#<p>#<user>``). The hot path only makes
single-item conditional UpdateItems on a shard plus writes to per-request items; no transaction ever
touches a shared item, and no item grows with concurrency. Each shard is its own partition key
(``<tenant>#S<k>``, with the holds drawn on it and the call records charged on it), each user too
(``<tenant>#U#<user>``); no request writes the tenant's own key, where the head lives.

The ledger is a persistence layer in rooms, behind this one ``Ledger``:

- ``dynamo``: the SDK plumbing (send with bounded retries, error classification, the batch get) and the
  ``Update`` builder every update expression is written with;
- ``items``: item keys and item encoding (the hold and the call record, each writer with its inverse
  reader), and the records the ledger hands back;
- ``budget``: the period's snapshot and the single writes that move budget between pool and shards;
- ``admission`` (reserve and its refill rounds), ``settlement`` (settle, release, the sweep, credits),
  ``maintenance`` (limit moves, claw-backs, blocks) and ``reads`` (the period's status).

The client is injected; botocore is imported only in ``dynamo``, inside functions, to recognise its errors.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from cost_sentry.adapters.ledger.admission import (
    MAX_REFILL_ROUNDS,
    PREFUND_DIVISOR,
    Admission,
    Refill,
    share,
)
from cost_sentry.adapters.ledger.budget import Budget, _Shard, _Snapshot
from cost_sentry.adapters.ledger.dynamo import (
    _NOT_APPLIED,
    _NOT_APPLIED_REASONS,
    MAX_WRITE_ATTEMPTS,
    RETRY_BASE_SECONDS,
    RETRY_CAP_SECONDS,
    Dynamo,
    LedgerWriteFailed,
    _classify,
    _ConditionFailed,
    _first_cancellation_reason,
    _is_conditional_failure,
)
from cost_sentry.adapters.ledger.items import (
    HOLD_TTL_AFTER_EXPIRY_SECONDS,
    RPM_PREFIX,
    CallRecord,
    Reservation,
    _int,
    _n,
    read_tenant_items,
    utc_timestamp,
)
from cost_sentry.adapters.ledger.maintenance import Maintenance
from cost_sentry.adapters.ledger.reads import PeriodStatus, Reads
from cost_sentry.adapters.ledger.settlement import (
    LATE_SETTLE_MARGIN_SECONDS,
    Settlement,
    SettleResult,
    _Counts,
    worst_case,
)
from cost_sentry.core.estimate import WorstCase
from cost_sentry.core.log import JsonLogger, default_logger
from cost_sentry.core.tenants import TenantConfig

__all__ = [
    "HOLD_TTL_AFTER_EXPIRY_SECONDS",
    "LATE_SETTLE_MARGIN_SECONDS",
    "MAX_REFILL_ROUNDS",
    "MAX_WRITE_ATTEMPTS",
    "PREFUND_DIVISOR",
    "RETRY_BASE_SECONDS",
    "RETRY_CAP_SECONDS",
    "RPM_PREFIX",
    "_NOT_APPLIED",
    "_NOT_APPLIED_REASONS",
    "CallRecord",
    "Ledger",
    "LedgerWriteFailed",
    "PeriodStatus",
    "Reservation",
    "SettleResult",
    "_ConditionFailed",
    "_Counts",
    "_Shard",
    "_Snapshot",
    "_classify",
    "_first_cancellation_reason",
    "_int",
    "_is_conditional_failure",
    "_n",
    "read_tenant_items",
    "share",
    "utc_timestamp",
]


class Ledger:
    """The ledger's one entry point: the same constructor and methods as before the rooms, each method
    handed to the room that owns it."""

    def __init__(
        self,
        dynamodb_client: Any,
        table_name: str,
        *,
        hold_lifetime_seconds: int = 150,
        call_record_retention_days: int = 400,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        logger: JsonLogger | None = None,
    ) -> None:
        # The process's JSON logger unless one is given (the benchmark counts its lines instead).
        logger = logger or default_logger()
        # One source of randomness for the shard draws and the retries' jitter (a seeded run repeats).
        rng = rng or random.Random()
        self._dynamo = Dynamo(dynamodb_client, table_name, sleep=sleep, rng=rng, logger=logger)
        budget = Budget(self._dynamo, logger)
        self._maintenance = Maintenance(self._dynamo, budget, clock)
        self._settlement = Settlement(
            self._dynamo, clock=clock, retention_seconds=call_record_retention_days * 86_400, logger=logger
        )
        refill = Refill(
            self._dynamo, budget, self._maintenance, rng=rng, hold_lifetime_seconds=hold_lifetime_seconds
        )
        self._admission = Admission(
            self._dynamo,
            budget,
            refill,
            self._settlement,
            clock=clock,
            rng=rng,
            hold_lifetime_seconds=hold_lifetime_seconds,
        )
        self._reads = Reads(budget, clock)

    @property
    def _client(self) -> Any:
        """The DynamoDB client every room sends through (a test swaps it for an unreachable one)."""
        return self._dynamo.client

    @_client.setter
    def _client(self, client: Any) -> None:
        self._dynamo.client = client

    # -- admission -------------------------------------------------------------------------------

    def reserve(
        self,
        tenant: TenantConfig,
        request_id: str,
        worst: WorstCase,
        *,
        user: str | None = None,
        reload_tenant: Callable[[str], TenantConfig | None] | None = None,
        record: CallRecord | None = None,
    ) -> Reservation:
        """Hold the request's worst case, or raise LimitExceeded (429): ``Admission.reserve``."""
        return self._admission.reserve(
            tenant, request_id, worst, user=user, reload_tenant=reload_tenant, record=record
        )

    # -- settlement ------------------------------------------------------------------------------

    def settle(self, reservation: Reservation, record: CallRecord) -> SettleResult:
        """Record the actual spend and claim the hold: ``Settlement.settle``."""
        return self._settlement.settle(reservation, record)

    def charge_worst_case(self, reservation: Reservation, record: CallRecord) -> SettleResult:
        """The call may have been billed but its usage is unknown: charge the whole reservation."""
        # Through self.settle, as before the rooms: a test may replace one ledger's settle.
        return self.settle(reservation, worst_case(reservation, record))

    def release(self, reservation: Reservation) -> bool:
        """Give the whole hold back (False if it was already gone): ``Settlement.release``."""
        return self._settlement.release(reservation)

    def sweep_expired(self, tenant: TenantConfig | str, now: float | None = None) -> int:
        """Charge every expired hold at its worst case: ``Settlement.sweep_expired``."""
        return self._settlement.sweep_expired(tenant, now)

    def credit_overcharge(
        self,
        tenant_id: str,
        shard: int,
        call_sort_key: str,
        request_id: str,
        nanos: int,
        evidence: Mapping[str, str],
    ) -> bool:
        """Give back a proven overcharge of one estimated call, once: ``Settlement.credit_overcharge``."""
        return self._settlement.credit_overcharge(
            tenant_id, shard, call_sort_key, request_id, nanos, evidence
        )

    # -- maintenance -----------------------------------------------------------------------------

    def maintain(self, tenant: TenantConfig, now: float | None = None) -> dict[str, int]:
        """Rebase, claw back and drain the current period: ``Maintenance.maintain``."""
        return self._maintenance.maintain(tenant, now)

    def move_limit(
        self, tenant_id: str, key: str, new_limit: int, *, snapshot: _Snapshot | None = None
    ) -> int | None:
        """Move the period's limit once (the delta, or None): ``Maintenance.move_limit``."""
        return self._maintenance.move_limit(tenant_id, key, new_limit, snapshot=snapshot)

    def block_reason(self, tenant_id: str, key: str) -> Mapping[str, Any] | None:
        """The ``blocked`` map of the period, or None: ``Maintenance.block_reason``."""
        return self._maintenance.block_reason(tenant_id, key)

    def block(self, tenant: TenantConfig, key: str, reason: Mapping[str, Any]) -> bool:
        """Block the tenant for the period (True when newly blocked): ``Maintenance.block``."""
        return self._maintenance.block(tenant, key, reason)

    def lift_block(self, tenant: TenantConfig, key: str, expected: Mapping[str, Any]) -> bool:
        """Remove the block read as ``expected``, if it is still that one: ``Maintenance.lift_block``."""
        return self._maintenance.lift_block(tenant, key, expected)

    # -- reads -----------------------------------------------------------------------------------

    def period_status(self, tenant: TenantConfig) -> PeriodStatus:
        """The tenant's period, summed over the head and every shard: ``Reads.period_status``."""
        return self._reads.period_status(tenant)
