"""The DynamoDB ledger (docs/design.md section 4): the one owner of every ledger item write.

A tenant's period budget lives in constant-size items: a head (``PERIOD#<p>``: the limit and the pool of
budget not yet given to a shard), ``n`` shards (``PERIOD#<p>#S<k>``: a slice of the budget each, the
counters the reservation is conditional on), one item per request (``CALL#<reserved at>#<id>``: a hold while
in flight, turned into the request's call record in place when it is claimed) and,
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
- ``periods`` (opening a period: its head, at proven limits, prefunded, following the config);
- ``admission`` (reserve and its refill rounds), ``settlement`` (settle, release, credits), ``sweep``
  (expired holds charged at their worst case), ``maintenance`` (limit moves, claw-backs, blocks) and
  ``reads`` (the period's status).

The client is injected; botocore is imported only in ``dynamo``, inside functions, to recognise its errors.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from cost_sentry.adapters.ledger.admission import MAX_REFILL_ROUNDS, Admission
from cost_sentry.adapters.ledger.budget import Budget, _Shard, _Snapshot
from cost_sentry.adapters.ledger.dynamo import (
    _NOT_APPLIED,
    _NOT_APPLIED_REASONS,
    _TOKEN_NAMESPACE,
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
    is_call_record,
    is_hold,
    read_tenant_calls,
    read_tenant_holds,
    read_tenant_items,
    utc_timestamp,
)
from cost_sentry.adapters.ledger.maintenance import Maintenance
from cost_sentry.adapters.ledger.periods import PREFUND_DIVISOR, share
from cost_sentry.adapters.ledger.reads import PeriodStatus, Reads
from cost_sentry.adapters.ledger.settlement import (
    LATE_SETTLE_MARGIN_SECONDS,
    Settlement,
    SettleResult,
    _Counts,
    worst_case,
)
from cost_sentry.adapters.ledger.sweep import Sweep
from cost_sentry.core.log import JsonLogger, default_logger
from cost_sentry.core.settings import LedgerSettings

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
    "_TOKEN_NAMESPACE",
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
    "is_call_record",
    "is_hold",
    "read_tenant_calls",
    "read_tenant_holds",
    "read_tenant_items",
    "share",
    "utc_timestamp",
]


class Ledger:
    """The ledger's one entry point, with the same constructor and operations as before the rooms.

    Each operation is the owning room's own method (one signature and one docstring, there), bound here
    per instance: ``reserve`` (admission.py); ``settle``, ``release`` and ``credit_overcharge``
    (settlement.py); ``sweep_expired`` (sweep.py); ``maintain``, ``move_limit``, ``block_reason``,
    ``block`` and ``lift_block`` (maintenance.py); ``period_status`` (reads.py). A caller or a test may
    still replace one on its own ledger object (``ledger.settle = ...``).
    """

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
        self._dynamo = Dynamo(
            dynamodb_client,
            table_name,
            clock,
            sleep,
            rng or random.Random(),
            # The process's JSON logger unless one is given (the benchmark counts its lines instead).
            logger or default_logger(),
        )
        budget = Budget(self._dynamo)
        maintenance = Maintenance(self._dynamo, budget)
        settlement = Settlement(
            self._dynamo,
            retention_seconds=call_record_retention_days * 86_400,
            cover_deficit=maintenance.cover_deficit,
        )
        admission = Admission(
            self._dynamo, budget, maintenance, settlement, hold_lifetime_seconds=hold_lifetime_seconds
        )
        self.reserve = admission.reserve
        self.settle = settlement.settle
        self.release = settlement.release
        self.sweep_expired = Sweep(self._dynamo, settlement).sweep_expired
        self.credit_overcharge = settlement.credit_overcharge
        self.maintain = maintenance.maintain
        self.move_limit = maintenance.move_limit
        self.block_reason = maintenance.block_reason
        self.block = maintenance.block
        self.lift_block = maintenance.lift_block
        self.period_status = Reads(self._dynamo, budget).period_status

    @classmethod
    def for_settings(cls, dynamodb_client: Any, settings: LedgerSettings, **options: Any) -> Ledger:
        """The ledger every function builds from its settings: one hold lifetime and one retention for
        the gateway, the sweep and the budget functions alike."""
        return cls(
            dynamodb_client,
            settings.ledger_table,
            hold_lifetime_seconds=settings.hold_lifetime_seconds,
            call_record_retention_days=settings.call_record_retention_days,
            **options,
        )

    def charge_worst_case(self, reservation: Reservation, record: CallRecord) -> SettleResult:
        """The call may have been billed but its usage is unknown: charge the whole reservation."""
        # Through this ledger's settle, as before the rooms (a test may replace it on one ledger).
        return self.settle(reservation, worst_case(reservation, record))

    @property
    def _client(self) -> Any:
        """The DynamoDB client every room sends through (a test swaps it for an unreachable one)."""
        return self._dynamo.client

    @_client.setter
    def _client(self, client: Any) -> None:
        self._dynamo.client = client
