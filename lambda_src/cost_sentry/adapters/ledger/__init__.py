"""The DynamoDB ledger (docs/design.md section 4): the one owner of every ledger item write.

A tenant's period budget lives in constant-size items: a head (``PERIOD#<p>``: the limit and the pool of
budget not yet given to a shard), ``n`` shards (``PERIOD#<p>#S<k>``: a slice of the budget each, the
counters the reservation is conditional on), one hold item per in-flight request (``HOLD#<p>#<id>``) and,
for tenants with per-user budgets, one item per end user (``USER#<p>#<user>``). The hot path only makes
single-item conditional UpdateItems on a shard plus writes to per-request items; no transaction ever
touches a shared item, and no item grows with concurrency. Each shard is its own partition key
(``<tenant>#S<k>``, with the holds drawn on it and the call records charged on it), each user too
(``<tenant>#U#<user>``); no request writes the tenant's own key, where the head lives.

The client is injected; botocore is imported only here, inside functions, to recognise its errors.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from cost_sentry.core.errors import LimitExceeded, ServiceUnavailable
from cost_sentry.core.estimate import WorstCase
from cost_sentry.core.log import JsonLogger, default_logger
from cost_sentry.core.money import nanos_to_usd
from cost_sentry.core.periods import (
    hold_key,
    ledger_partition,
    minute_key,
    period_key,
    previous_period_key,
    seconds_to_next_minute,
    seconds_to_period_end,
    shard_index,
    shard_key,
    shard_partition,
    user_key,
)
from cost_sentry.core.tenants import MAX_LEDGER_SHARDS, TenantConfig

RPM_PREFIX = "rpm_"
_TOKEN_NAMESPACE = uuid.UUID("5b0e7a52-8d6c-4d1e-9a43-0d6f1c2b7e11")

# A short shard re-reads the tenant (one BatchGetItem) and moves budget into itself at most this many times
# before the request is denied: the bound of docs/design.md section 4.
MAX_REFILL_ROUNDS = 3
# Writes DynamoDB guarantees it did not apply are retried, with full jitter, this many times in all.
MAX_WRITE_ATTEMPTS = 4
RETRY_BASE_SECONDS = 0.02
RETRY_CAP_SECONDS = 0.5
# A settle this close to its hold's expiry may race the sweep: it claims the hold before counting.
LATE_SETTLE_MARGIN_SECONDS = 10
# The request that creates a new period's head spreads 1/PREFUND_DIVISOR of the budget over its shards
# (all of it for a one-shard tenant); the rest stays in the pool for refills (docs/design.md section 4).
PREFUND_DIVISOR = 2
# Hold items are deleted when claimed; this TTL is only a backstop far behind the sweep.
HOLD_TTL_AFTER_EXPIRY_SECONDS = 7 * 86_400

# Errors with which DynamoDB refused a write without applying it (safe to send again).
_NOT_APPLIED = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TransactionConflictException",
    "TransactionInProgressException",
}
_NOT_APPLIED_REASONS = {"None", "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _int(item: Mapping[str, Any], name: str, default: int = 0) -> int:
    value = item.get(name)
    return int(value["N"]) if value is not None and "N" in value else default


def share(total: int | None, index: int, shards: int) -> int | None:
    """Shard ``index``'s part of a tenant-wide count limit: floor plus one of the remainder, so the
    parts add up to ``total`` exactly. None (no limit) stays None."""
    if total is None:
        return None
    return total // shards + (1 if index < total % shards else 0)


class _ConditionFailed(Exception):
    """A conditional write whose condition did not hold; ``item`` is the old image when returned."""

    def __init__(self, item: Mapping[str, Any] | None = None) -> None:
        super().__init__("condition failed")
        self.item: Mapping[str, Any] = item or {}


class LedgerWriteFailed(ServiceUnavailable):
    """A ledger write that did not succeed; ``ambiguous`` when DynamoDB may still have applied it."""

    def __init__(self, ambiguous: bool) -> None:
        super().__init__("ledger_unavailable", "the budget ledger cannot be reached; retry shortly")
        self.ambiguous = ambiguous


@dataclass(frozen=True)
class Reservation:
    tenant_id: str
    period_key: str
    request_id: str
    # The limit enforced (the head's, which can differ from the request's cached tenant config).
    limit_nanos: int
    nanos: int
    # Only counted when the tenant has a token limit; 0 otherwise.
    tokens: int
    expires: int
    # The shard's available_nanos right after this reservation: the tenant's remaining budget for a
    # one-shard tenant, a lower bound of it otherwise (GET /v1/budget sums every shard).
    available_after: int
    shard: int = 0
    # The end user whose per-user budget holds ``nanos`` too; None when no per-user limit applied.
    user: str | None = None
    # rpm_ counters of past minutes seen on the shard: removed for free by the settle/release write.
    stale_minute_attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CallRecord:
    request_id: str
    timestamp: str
    # The IAM principal Bedrock bills the call to (an assumed-role session ARN with per-user sessions),
    # or "" when it is the gateway function's own role; the reconciliation joins it with CUR 2.0.
    principal: str
    api_key_id: str
    user: str | None
    model: str
    model_id: str
    application_id: str
    cost_center: str
    environment: str
    input_tokens: int
    output_tokens: int
    cost_nanos: int
    estimated: bool = False


@dataclass(frozen=True)
class SettleResult:
    # True when the hold had already been claimed (swept at expiry): nothing was recorded twice.
    hold_was_reclaimed: bool


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


@dataclass(frozen=True)
class _Counts:
    """What one settle, release or sweep adds to a shard (and to the user item)."""

    available: int
    spent: int = 0
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    tokens: int | None = None  # tokens_available delta; None when the tenant has no token limit
    in_flight: int = -1  # the request is no longer in flight

    def inverse(self) -> _Counts:
        return _Counts(
            in_flight=-self.in_flight,
            available=-self.available,
            spent=-self.spent,
            requests=-self.requests,
            input_tokens=-self.input_tokens,
            output_tokens=-self.output_tokens,
            tokens=None if self.tokens is None else -self.tokens,
        )


def _is_conditional_failure(exc: BaseException) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in {
        "ConditionalCheckFailedException",
    }


def _classify(exc: BaseException) -> str:
    """``condition``, ``not_applied`` (safe to resend), or ``ambiguous`` (may have been applied)."""
    from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        if code == "ConditionalCheckFailedException":
            return "condition"
        if code in _NOT_APPLIED:
            return "not_applied"
        if code == "TransactionCanceledException":
            reasons = [reason.get("Code", "None") for reason in exc.response.get("CancellationReasons") or []]
            if "ConditionalCheckFailed" in reasons or (not reasons and "ConditionalCheckFailed" in str(exc)):
                return "condition"
            if reasons and all(reason in _NOT_APPLIED_REASONS for reason in reasons):
                return "not_applied"
            if "TransactionConflict" in error.get("Message", ""):
                return "not_applied"
        return "ambiguous"
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        return "not_applied"  # the request never reached DynamoDB
    return "ambiguous"


class Ledger:
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
        self._client = dynamodb_client
        # The process's JSON logger unless one is given (the benchmark counts its lines instead).
        self._logger = logger or default_logger()
        self._table = table_name
        self._hold_lifetime = hold_lifetime_seconds
        self._retention_seconds = call_record_retention_days * 86_400
        self._clock = clock
        self._sleep = sleep
        self._random = rng or random.Random()

    # -- writes with bounded retries -------------------------------------------------------------

    def _send(self, operation: str, *, idempotent: bool = False, **request: Any) -> dict[str, Any]:
        """One DynamoDB call. Refusals DynamoDB guarantees were not applied (throttling, conflicts) are
        retried with full jitter; an ambiguous failure (timeout, 5xx) is resent only when the write is
        idempotent, never for a counter: a counter applied twice could let spend past the limit."""
        from botocore.exceptions import BotoCoreError, ClientError

        call = getattr(self._client, operation)
        for attempt in range(MAX_WRITE_ATTEMPTS):
            try:
                if operation not in {"transact_write_items", "batch_get_item"}:
                    request.setdefault("TableName", self._table)
                response: dict[str, Any] = call(**request)
                return response
            except (BotoCoreError, ClientError) as exc:
                kind = _classify(exc)
                if kind == "condition":
                    item = exc.response.get("Item") if isinstance(exc, ClientError) else None  # type: ignore[union-attr]
                    raise _ConditionFailed(item) from exc
                retriable = kind == "not_applied" or idempotent
                if not retriable or attempt == MAX_WRITE_ATTEMPTS - 1:
                    self._logger.warning(
                        "ledger_write_failed",
                        operation=operation,
                        kind=kind,
                        attempts=attempt + 1,
                        error=str(exc),
                    )
                    raise LedgerWriteFailed(ambiguous=kind == "ambiguous") from exc
                cap = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2**attempt)
                self._sleep(self._random.uniform(0, cap))
        raise AssertionError("unreachable")  # pragma: no cover

    def _update(self, sort_key: str, tenant_id: str, **request: Any) -> dict[str, Any]:
        return self._send("update_item", Key=self._key(tenant_id, sort_key), **request)

    @staticmethod
    def _key(tenant_id: str, sort_key: str, shard: int | None = None) -> dict[str, Any]:
        """The item's key: a shard, and the holds and call records of a shard (``shard``), in the
        shard's own partition; a user item in the user's; the head in the tenant's (core/periods.py)."""
        partition = (
            shard_partition(tenant_id, shard) if shard is not None else ledger_partition(tenant_id, sort_key)
        )
        return {"pk": {"S": partition}, "sk": {"S": sort_key}}

    # -- reserve ---------------------------------------------------------------------------------

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
        """Hold the request's worst case, or raise LimitExceeded (429) saying which limit and when.

        ``reload_tenant`` is asked for a fresh read of the tenant's config when the head's limit differs
        from the cached one; only what it returns (a read that just succeeded) may rebase the head.
        ``record`` is the call record as far as it is known before the call: the sweep writes it, at the
        worst case, if this request never settles.
        """
        now = self._clock()
        key = period_key(tenant.budget_period, now)
        tokens = worst.tokens if tenant.tokens_per_period is not None else 0
        cost = worst.cost_nanos
        period_end = seconds_to_period_end(tenant.budget_period, now)
        if cost > tenant.budget_limit_nanos:
            raise LimitExceeded(
                "budget_exhausted",
                f"this request may cost up to USD {nanos_to_usd(cost)}, more than the whole "
                f"{tenant.budget_period.lower()} budget of USD {nanos_to_usd(tenant.budget_limit_nanos)}; "
                "lower max_tokens or shorten the prompt",
                retry_after_seconds=period_end,
            )
        if tenant.tokens_per_period is not None and tokens > tenant.tokens_per_period:
            raise LimitExceeded(
                "token_limit",
                f"this request may use up to {tokens} tokens, more than the whole period's "
                f"{tenant.tokens_per_period}; lower max_tokens or shorten the prompt",
                retry_after_seconds=period_end,
            )
        user_limit = tenant.user_limit_for(user)
        if user_limit is not None and cost > user_limit:
            raise LimitExceeded(
                "user_budget_exhausted",
                f"this request may cost up to USD {nanos_to_usd(cost)}, more than user {user}'s whole "
                f"{tenant.budget_period.lower()} budget of USD {nanos_to_usd(user_limit)}; lower max_tokens",
                retry_after_seconds=period_end,
            )
        charged_user = None
        if user_limit is not None and user is not None:
            self._take_user(tenant, key, user, cost, user_limit, now, reload_tenant)
            charged_user = user
        try:
            index, image, limit = self._take_shard(tenant, key, cost, tokens, now, reload_tenant)
        except BaseException:
            if charged_user is not None:
                self._credit_user_quietly(tenant.tenant_id, key, charged_user, _Counts(available=cost))
            raise
        minute = minute_key(now)
        reservation = Reservation(
            tenant_id=tenant.tenant_id,
            period_key=key,
            request_id=request_id,
            limit_nanos=_int(image, "limit_nanos", limit),
            nanos=cost,
            tokens=tokens,
            expires=int(now) + self._hold_lifetime,
            available_after=_int(image, "available_nanos"),
            shard=index,
            user=charged_user,
            stale_minute_attributes=tuple(
                sorted(name for name in image if name.startswith(RPM_PREFIX) and name < minute)
            ),
        )
        try:
            self._put_hold(reservation, worst, record, now)
        except BaseException:
            # No hold means nothing would ever settle or sweep this reservation: undo it now.
            self._apply_quietly(
                reservation, _Counts(available=cost, tokens=tokens or None), "hold_not_written"
            )
            raise
        return reservation

    def _take_user(
        self,
        tenant: TenantConfig,
        key: str,
        user: str,
        cost: int,
        user_limit: int,
        now: float,
        reload_tenant: Callable[[str], TenantConfig | None] | None,
    ) -> None:
        """Take the worst case from the user's budget (created at the user's limit on first use)."""
        sort_key = user_key(key, user)
        rebased = False
        while True:
            try:
                self._update(
                    sort_key,
                    tenant.tenant_id,
                    UpdateExpression="SET #avail = if_not_exists(#avail, :limit) - :cost, "
                    "#limit = if_not_exists(#limit, :limit)",
                    ConditionExpression="(attribute_not_exists(#limit) OR #limit = :limit) AND "
                    "(attribute_not_exists(#avail) OR #avail >= :cost)",
                    ExpressionAttributeNames={"#avail": "available_nanos", "#limit": "limit_nanos"},
                    ExpressionAttributeValues={":limit": _n(user_limit), ":cost": _n(cost)},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return
            except _ConditionFailed as failed:
                old = failed.item
            recorded = _int(old, "limit_nanos", user_limit)
            if recorded != user_limit and not rebased:
                rebased = True
                fresh = reload_tenant(tenant.tenant_id) if reload_tenant else None
                proven = fresh.user_limit_for(user) if fresh is not None else None
                if proven is not None and proven != recorded:
                    self._rebase_item(tenant.tenant_id, sort_key, recorded, proven, pool="available_nanos")
                    user_limit = proven
                else:
                    user_limit = recorded  # no proof of a change: the item's limit stands
                continue
            available = _int(old, "available_nanos", user_limit)
            raise LimitExceeded(
                "user_budget_exhausted",
                f"user {user} has USD {nanos_to_usd(max(available, 0))} left of the "
                f"{tenant.budget_period.lower()} budget of USD {nanos_to_usd(recorded)}; this request may "
                f"cost up to USD {nanos_to_usd(cost)}",
                retry_after_seconds=self._retry_after_budget(tenant, now, held=True),
            )

    def _take_shard(
        self,
        tenant: TenantConfig,
        key: str,
        cost: int,
        tokens: int,
        now: float,
        reload_tenant: Callable[[str], TenantConfig | None] | None,
    ) -> tuple[int, Mapping[str, Any], int]:
        """The admission decision: one conditional UpdateItem on a random shard; a short shard reads the
        whole tenant once per round and moves budget into itself (from the pool, else from the others)."""
        eligible = self._eligible_shards(tenant)
        index = self._random.choice(eligible)
        limit = tenant.budget_limit_nanos
        last_reason = "budget"
        for round_number in range(MAX_REFILL_ROUNDS + 1):
            try:
                image = self._reserve_on_shard(tenant, key, index, cost, tokens, now)
                return index, image, limit
            except _ConditionFailed as failed:
                if "blocked" in failed.item:
                    raise self._blocked(tenant, now) from None
                last_reason = self._shard_reason(tenant, index, failed.item, cost, tokens, now)
            if round_number == MAX_REFILL_ROUNDS:
                break
            snapshot = self._snapshot(tenant.tenant_id, key, tenant.ledger_shards)
            snapshot, tenant = self._prepare_head(tenant, key, snapshot, reload_tenant)
            limit = _int(snapshot.head or {}, "limit_nanos", tenant.budget_limit_nanos)
            if snapshot.blocked:
                raise self._blocked(tenant, now)
            self._deny_if_tenant_short(tenant, snapshot, cost, tokens, now)
            index = self._choose_shard(tenant, snapshot, eligible, index, cost, tokens, now)
            self._fund_shard(tenant, key, snapshot, index, cost, tokens, len(eligible), limit)
        # Every round lost its race: other requests took each slice moved here. Deny (a false denial
        # bounded in docs/design.md section 4); a retry after a second normally fits.
        raise self._contended(tenant, last_reason, now)

    @staticmethod
    def _eligible_shards(tenant: TenantConfig) -> list[int]:
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

    def _reserve_on_shard(
        self, tenant: TenantConfig, key: str, index: int, cost: int, tokens: int, now: float
    ) -> Mapping[str, Any]:
        shards = tenant.ledger_shards
        names = {"#avail": "available_nanos", "#inflight": "in_flight", "#blocked": "blocked"}
        values: dict[str, Any] = {":cost": _n(cost), ":zero": _n(0), ":one": _n(1)}
        updates = ["#avail = #avail - :cost", "#inflight = if_not_exists(#inflight, :zero) + :one"]
        conditions = ["attribute_not_exists(#blocked)", "#avail >= :cost"]
        in_flight_share = share(tenant.max_in_flight, index, shards)
        if in_flight_share is not None:
            values[":inflight_share"] = _n(in_flight_share)
            conditions.append("(attribute_not_exists(#inflight) OR #inflight < :inflight_share)")
        rpm_share = share(tenant.requests_per_minute, index, shards)
        if rpm_share is not None:
            names["#rpm"] = minute_key(now)
            values[":rpm_share"] = _n(rpm_share)
            updates.append("#rpm = if_not_exists(#rpm, :zero) + :one")
            conditions.append("(attribute_not_exists(#rpm) OR #rpm < :rpm_share)")
        if tokens:
            names["#tokens"] = "tokens_available"
            values[":tokens"] = _n(tokens)
            updates.append("#tokens = #tokens - :tokens")
            conditions.append("#tokens >= :tokens")
        response = self._update(
            shard_key(key, index),
            tenant.tenant_id,
            UpdateExpression="SET " + ", ".join(updates),
            ConditionExpression=" AND ".join(conditions),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        return response.get("Attributes", {})

    def _shard_reason(
        self, tenant: TenantConfig, index: int, old: Mapping[str, Any], cost: int, tokens: int, now: float
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

    def _snapshot(self, tenant_id: str, key: str, shards: int = 1) -> _Snapshot:
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
        """BatchGetItem (100 keys a call), strongly consistent; keys DynamoDB leaves unprocessed (it was
        throttled) are asked again with jitter, a bounded number of times."""
        found: dict[str, Mapping[str, Any]] = {}
        for start in range(0, len(sort_keys), 100):
            keys = [self._key(tenant_id, sort_key) for sort_key in sort_keys[start : start + 100]]
            for attempt in range(MAX_WRITE_ATTEMPTS):
                response = self._send(
                    "batch_get_item",
                    idempotent=True,
                    RequestItems={self._table: {"Keys": keys, "ConsistentRead": True}},
                )
                for item in response.get("Responses", {}).get(self._table, []):
                    found[item["sk"]["S"]] = item
                keys = response.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
                if not keys:
                    break
                if attempt == MAX_WRITE_ATTEMPTS - 1:
                    raise LedgerWriteFailed(ambiguous=False)
                self._sleep(self._random.uniform(0, min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2**attempt)))
        return found

    def _prepare_head(
        self,
        tenant: TenantConfig,
        key: str,
        snapshot: _Snapshot,
        reload_tenant: Callable[[str], TenantConfig | None] | None,
    ) -> tuple[_Snapshot, TenantConfig]:
        """Create the period's head on first use; rebase its limits only on proof (a fresh read)."""
        changed = False
        head = snapshot.head or {}
        if "limit_nanos" not in head:
            self._create_head(tenant, key, snapshot)
            return self._snapshot(tenant.tenant_id, key, tenant.ledger_shards), tenant
        recorded = _int(head, "limit_nanos")
        recorded_tokens = _int(head, "token_limit") if "token_limit" in head else None
        wants_tokens = tenant.tokens_per_period
        differs = recorded != tenant.budget_limit_nanos or (
            wants_tokens is not None and recorded_tokens is not None and recorded_tokens != wants_tokens
        )
        if differs:
            # The cached config and the ledger disagree. Only a read that just succeeded may move the
            # ledger: a stale container (or a failed reload) must never undo a newer limit.
            fresh = reload_tenant(tenant.tenant_id) if reload_tenant else None
            if fresh is None:
                tenant = replace(
                    tenant,
                    budget_limit_nanos=recorded,
                    tokens_per_period=tenant.tokens_per_period
                    if recorded_tokens is None
                    else recorded_tokens,
                )
            else:
                tenant = fresh
                if fresh.budget_limit_nanos != recorded:
                    self.move_limit(tenant.tenant_id, key, fresh.budget_limit_nanos, snapshot=snapshot)
                    changed = True
                if fresh.tokens_per_period is not None and recorded_tokens not in (
                    None,
                    fresh.tokens_per_period,
                ):
                    self._rebase_item(
                        tenant.tenant_id,
                        key,
                        recorded_tokens,
                        fresh.tokens_per_period,
                        pool="tokens_pool",
                        limit_name="token_limit",
                    )
                    changed = True
        if tenant.tokens_per_period is not None and recorded_tokens is None:
            self._add_token_limit(tenant, key, snapshot)
            changed = True
        if _int(head, "shards") < tenant.ledger_shards:
            # More shards configured: record it before any of them is funded, so every reader of the
            # period (which reads shards 0..shards-1) sees them.
            with contextlib.suppress(_ConditionFailed):
                self._update(
                    key,
                    tenant.tenant_id,
                    UpdateExpression="SET shards = :shards",
                    ConditionExpression="attribute_not_exists(shards) OR shards < :shards",
                    ExpressionAttributeValues={":shards": _n(tenant.ledger_shards)},
                )
            changed = True
        if changed:
            snapshot = self._snapshot(tenant.tenant_id, key, tenant.ledger_shards)
        if snapshot.pool < 0 and any(shard.available_nanos > 0 for shard in snapshot.shards.values()):
            # A lowered limit not yet clawed back (its budget was held then): do it before funding.
            self._claw_back(tenant.tenant_id, key, snapshot)
            snapshot = self._snapshot(tenant.tenant_id, key, tenant.ledger_shards)
        return snapshot, tenant

    def _create_head(self, tenant: TenantConfig, key: str, snapshot: _Snapshot) -> None:
        """The period's first use: one conditional UpdateItem creates the head with the whole budget in
        its pool (a single-item write, so a burst of first requests serializes on it without transaction
        conflicts; a failed condition means a concurrent request created it first). The request that
        created it then spreads part of the pool over the shards (``_prefund_shards``)."""
        names = {"#limit": "limit_nanos", "#pool": "pool_nanos", "#shards": "shards"}
        values: dict[str, Any] = {
            ":limit": _n(tenant.budget_limit_nanos),
            ":shards": _n(tenant.ledger_shards),
        }
        updates = ["#limit = :limit", "#pool = :limit", "#shards = :shards"]
        token_pool = None
        if tenant.tokens_per_period is not None:
            token_pool = tenant.tokens_per_period - self._tokens_used(snapshot)
            names |= {"#tlimit": "token_limit", "#tpool": "tokens_pool"}
            values[":tlimit"] = _n(tenant.tokens_per_period)
            values[":tpool"] = _n(token_pool)
            updates += ["#tlimit = :tlimit", "#tpool = :tpool"]
        # SET on a missing item creates it; a head holding only a budget-alert block gets its limit.
        try:
            self._update(
                key,
                tenant.tenant_id,
                UpdateExpression="SET " + ", ".join(updates),
                ConditionExpression="attribute_not_exists(#limit)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except _ConditionFailed:
            return
        self._prefund_shards(tenant, key, tenant.budget_limit_nanos, max(token_pool or 0, 0))

    def _prefund_shards(self, tenant: TenantConfig, key: str, pool: int, tokens_pool: int) -> None:
        """Spread ``1/PREFUND_DIVISOR`` of a new period's pool (all of it for a one-shard tenant) over the
        eligible shards, so the period's first requests on each shard skip the refill round. One
        transaction debits the pool and credits every shard (conditional on the pool still holding it),
        so nothing is ever in transit. Best effort: if it loses to concurrent writes, refills fund the
        shards as they always could."""
        eligible = self._eligible_shards(tenant)
        # One shard takes it all (it is the tenant: its responses report the tenant's remaining budget).
        divisor = PREFUND_DIVISOR * len(eligible) if len(eligible) > 1 else 1
        slice_nanos, slice_tokens = pool // divisor, tokens_pool // divisor
        if not slice_nanos and not slice_tokens:
            return
        limit = tenant.budget_limit_nanos
        head_names = {"#pool": "pool_nanos", "#limit": "limit_nanos"}
        head_values: dict[str, Any] = {
            ":total": _n(slice_nanos * len(eligible)),
            ":minus": _n(-slice_nanos * len(eligible)),
            ":limit": _n(limit),
        }
        head_adds = ["#pool :minus"]
        conditions = ["#pool >= :total", "#limit = :limit"]
        shard_names = {"#avail": "available_nanos", "#alloc": "allocated_nanos", "#limit": "limit_nanos"}
        shard_values: dict[str, Any] = {":nanos": _n(slice_nanos), ":limit": _n(limit)}
        shard_adds = ["#avail :nanos", "#alloc :nanos"]
        if slice_tokens:
            head_names["#tpool"] = "tokens_pool"
            head_values |= {
                ":ttotal": _n(slice_tokens * len(eligible)),
                ":tminus": _n(-slice_tokens * len(eligible)),
            }
            head_adds.append("#tpool :tminus")
            conditions.append("#tpool >= :ttotal")
            shard_names |= {"#tok": "tokens_available", "#talloc": "tokens_allocated"}
            shard_values[":tokens"] = _n(slice_tokens)
            shard_adds += ["#tok :tokens", "#talloc :tokens"]
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": self._key(tenant.tenant_id, key),
                    "UpdateExpression": "ADD " + ", ".join(head_adds),
                    "ConditionExpression": " AND ".join(conditions),
                    "ExpressionAttributeNames": head_names,
                    "ExpressionAttributeValues": head_values,
                }
            }
        ]
        items += [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": self._key(tenant.tenant_id, shard_key(key, index)),
                    "UpdateExpression": "SET #limit = :limit ADD " + ", ".join(shard_adds),
                    "ExpressionAttributeNames": shard_names,
                    "ExpressionAttributeValues": shard_values,
                }
            }
            for index in eligible
        ]
        seed = f"{tenant.tenant_id}/{key}/prefund/{limit}/{tenant.ledger_shards}"
        try:
            # Idempotent (a ClientRequestToken): an ambiguous failure is resent, never applied twice.
            self._send(
                "transact_write_items",
                idempotent=True,
                TransactItems=items,
                ClientRequestToken=str(uuid.uuid5(_TOKEN_NAMESPACE, seed)),
            )
        except (_ConditionFailed, LedgerWriteFailed):
            return  # the pool moved meanwhile, or the transaction kept conflicting: refills fund them

    @staticmethod
    def _tokens_used(snapshot: _Snapshot) -> int:
        """Tokens the period has already used (settled actuals; requests in flight when a token limit is
        added count once they settle, not against the new limit: docs/design.md section 4)."""
        return snapshot.total("input_tokens") + snapshot.total("output_tokens")

    def _add_token_limit(self, tenant: TenantConfig, key: str, snapshot: _Snapshot) -> None:
        """A token limit added mid-period starts from the limit minus the tokens already used."""
        assert tenant.tokens_per_period is not None
        pool = tenant.tokens_per_period - self._tokens_used(snapshot)
        with contextlib.suppress(_ConditionFailed):  # added concurrently
            self._update(
                key,
                tenant.tenant_id,
                UpdateExpression="SET token_limit = :tlimit, tokens_pool = :tpool",
                ConditionExpression="attribute_exists(limit_nanos) AND attribute_not_exists(token_limit)",
                ExpressionAttributeValues={":tlimit": _n(tenant.tokens_per_period), ":tpool": _n(pool)},
            )

    def _deny_if_tenant_short(
        self, tenant: TenantConfig, snapshot: _Snapshot, cost: int, tokens: int, now: float
    ) -> None:
        """Deny when the tenant as a whole (pool plus every shard) cannot take the request."""
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
        available = snapshot.pool + sum(max(shard.available_nanos, 0) for shard in snapshot.shards.values())
        limit = _int(snapshot.head or {}, "limit_nanos", tenant.budget_limit_nanos)
        if available < cost:
            held = any(
                shard.allocated_nanos - shard.available_nanos - shard.spent_nanos > 0
                for shard in snapshot.shards.values()
            )
            raise LimitExceeded(
                "budget_exhausted",
                f"the {period.lower()} budget of USD {nanos_to_usd(limit)} has USD "
                f"{nanos_to_usd(max(available, 0))} left; this request may cost up to "
                f"USD {nanos_to_usd(cost)}",
                retry_after_seconds=self._retry_after_budget(tenant, now, held=held),
            )
        if tokens:
            tokens_left = snapshot.tokens_pool + sum(
                max(shard.tokens_available, 0) for shard in snapshot.shards.values()
            )
            if tokens_left < tokens:
                raise LimitExceeded(
                    "token_limit",
                    f"the period's token limit of {tenant.tokens_per_period} has {max(tokens_left, 0)} "
                    f"tokens left; this request may use up to {tokens}",
                    retry_after_seconds=self._retry_after_budget(tenant, now, held=True),
                )

    def _retry_after_budget(self, tenant: TenantConfig, now: float, *, held: bool) -> int:
        """Outstanding holds end (settled with their unused part given back) within one hold lifetime;
        without any, only the next period helps."""
        period_end = seconds_to_period_end(tenant.budget_period, now)
        return min(self._hold_lifetime, period_end) if held else period_end

    def _choose_shard(
        self,
        tenant: TenantConfig,
        snapshot: _Snapshot,
        eligible: list[int],
        preferred: int,
        cost: int,
        tokens: int,
        now: float,
    ) -> int:
        """The shard to retry on. While the pool has budget: the randomly drawn shard (funded from the
        pool, so load stays spread evenly). Once the pool is empty: a shard that already holds enough
        (no budget moves, one more write), and only when none does, the drawn one, funded by steals.
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

        pool_has_enough = snapshot.pool >= cost and (not tokens or snapshot.tokens_pool >= tokens)
        if preferred in eligible and has_room(preferred) and (pool_has_enough or enough(preferred)):
            return preferred
        candidates = [index for index in eligible if has_room(index)]
        if not candidates:
            # The totals had room a moment ago; every share is taken now.
            raise self._contended(tenant, "in_flight" if tenant.max_in_flight is not None else "rpm", now)
        funded = [index for index in candidates if enough(index)]
        if funded:
            return self._random.choice(funded)
        if preferred in candidates:
            return preferred
        return max(candidates, key=lambda index: (counts(index).available_nanos, self._random.random()))

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
    ) -> None:
        """Move budget into a short shard: a slice of the pool (max(need, ceil(pool / shards))), else
        what the other shards hold, richest first. Every move debits its source conditionally first, so a
        lost race moves nothing and a crash between the two writes only loses budget (never adds it)."""
        target = snapshot.shards.get(index) or _Shard(shard_key(key, index), {})
        need = cost - target.available_nanos
        need_tokens = tokens - target.tokens_available if tokens else 0
        if need <= 0 and need_tokens <= 0:
            return  # it has enough now (a concurrent settle gave some back)
        pool, tokens_pool = snapshot.pool, snapshot.tokens_pool
        take = min(pool, max(need, math.ceil(pool / active_shards))) if need > 0 and pool > 0 else 0
        take_tokens = (
            min(tokens_pool, max(need_tokens, math.ceil(tokens_pool / active_shards)))
            if need_tokens > 0 and tokens_pool > 0
            else 0
        )
        if take or take_tokens:
            if not self._debit_pool(tenant.tenant_id, key, take, take_tokens, limit):
                return  # the pool moved meanwhile: the next round sees it again
            self._credit_shard(tenant.tenant_id, shard_key(key, index), take, take_tokens, limit)
            need -= take
            need_tokens -= take_tokens
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
            if not self._debit_shard(tenant.tenant_id, donor.sort_key, steal, steal_tokens):
                continue
            self._credit_shard(tenant.tenant_id, shard_key(key, index), steal, steal_tokens, limit)
            need -= steal
            need_tokens -= steal_tokens

    def _debit_pool(self, tenant_id: str, key: str, nanos: int, tokens: int, limit: int) -> bool:
        names = {"#pool": "pool_nanos", "#limit": "limit_nanos"}
        values: dict[str, Any] = {":nanos": _n(nanos), ":minus": _n(-nanos), ":limit": _n(limit)}
        adds = ["#pool :minus"]
        conditions = ["#pool >= :nanos", "#limit = :limit", "attribute_not_exists(blocked)"]
        if tokens:
            names["#tpool"] = "tokens_pool"
            values |= {":tokens": _n(tokens), ":tminus": _n(-tokens)}
            adds.append("#tpool :tminus")
            conditions.append("#tpool >= :tokens")
        try:
            self._update(
                key,
                tenant_id,
                UpdateExpression="ADD " + ", ".join(adds),
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except _ConditionFailed:
            return False
        return True

    def _debit_shard(self, tenant_id: str, sort_key: str, nanos: int, tokens: int) -> bool:
        """Take budget out of a shard (it leaves the shard's allocation), if the shard still has it."""
        names = {"#avail": "available_nanos", "#alloc": "allocated_nanos"}
        values: dict[str, Any] = {":nanos": _n(nanos), ":minus": _n(-nanos)}
        adds = ["#avail :minus", "#alloc :minus"]
        conditions = ["#avail >= :nanos"]
        if tokens:
            names |= {"#tok": "tokens_available", "#talloc": "tokens_allocated"}
            values |= {":tokens": _n(tokens), ":tminus": _n(-tokens)}
            adds += ["#tok :tminus", "#talloc :tminus"]
            conditions.append("#tok >= :tokens")
        try:
            self._update(
                sort_key,
                tenant_id,
                UpdateExpression="ADD " + ", ".join(adds),
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except _ConditionFailed:
            return False
        return True

    def _credit_shard(self, tenant_id: str, sort_key: str, nanos: int, tokens: int, limit: int) -> None:
        """Add budget to a shard (creating it), with a copy of the head's limit for the responses."""
        names = {"#avail": "available_nanos", "#alloc": "allocated_nanos", "#limit": "limit_nanos"}
        values: dict[str, Any] = {":nanos": _n(nanos), ":limit": _n(limit)}
        adds = ["#avail :nanos", "#alloc :nanos"]
        if tokens:
            names |= {"#tok": "tokens_available", "#talloc": "tokens_allocated"}
            values[":tokens"] = _n(tokens)
            adds += ["#tok :tokens", "#talloc :tokens"]
        expression = "SET #limit = :limit ADD " + ", ".join(adds)
        self._credit(tenant_id, sort_key, expression, names, values, nanos, tokens)

    def _credit_pool(self, tenant_id: str, key: str, nanos: int) -> None:
        self._credit(tenant_id, key, "ADD pool_nanos :nanos", None, {":nanos": _n(nanos)}, nanos, 0)

    def _credit(
        self,
        tenant_id: str,
        sort_key: str,
        expression: str,
        names: dict[str, str] | None,
        values: dict[str, Any],
        nanos: int,
        tokens: int,
    ) -> None:
        request: dict[str, Any] = {"UpdateExpression": expression, "ExpressionAttributeValues": values}
        if names:
            request["ExpressionAttributeNames"] = names
        try:
            self._update(sort_key, tenant_id, **request)
        except LedgerWriteFailed:
            # Debited from its source, never credited: the tenant loses this much budget for the period
            # (the safe direction); the log line lets an operator give it back.
            self._logger.error(
                "ledger_budget_in_transit_lost", tenant=tenant_id, to=sort_key, nanos=nanos, tokens=tokens
            )
            raise

    def _rebase_item(
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
        try:
            self._update(
                sort_key,
                tenant_id,
                UpdateExpression="SET #limit = :new ADD #pool :delta",
                ConditionExpression="#limit = :old",
                ExpressionAttributeNames={"#limit": limit_name, "#pool": pool},
                ExpressionAttributeValues={":new": _n(new), ":old": _n(old), ":delta": _n(new - old)},
            )
        except _ConditionFailed:
            return False
        return True

    def _put_hold(
        self, reservation: Reservation, worst: WorstCase, record: CallRecord | None, now: float
    ) -> None:
        item: dict[str, Any] = {
            **self._key(
                reservation.tenant_id,
                hold_key(reservation.period_key, reservation.request_id),
                reservation.shard,
            ),
            "state": {"S": "held"},
            "shard": _n(reservation.shard),
            "nanos": _n(reservation.nanos),
            "tokens": _n(reservation.tokens),
            "input_tokens": _n(worst.input_tokens),
            "output_tokens": _n(worst.output_tokens),
            "expires": _n(reservation.expires),
            "reserved_at": _n(int(now * 1000)),
            "expires_at": _n(reservation.expires + HOLD_TTL_AFTER_EXPIRY_SECONDS),
        }
        if reservation.user is not None:
            item["user"] = {"S": reservation.user}
        for name in ("principal", "api_key_id", "model", "model_id"):
            value = getattr(record, name, "") if record is not None else ""
            if value:
                item[name] = {"S": value}
        if record is not None and record.user:
            item["call_user"] = {"S": record.user}
        # A put of a unique key is idempotent: resent even after an ambiguous failure.
        self._send("put_item", idempotent=True, Item=item)

    # -- settle / charge / release ---------------------------------------------------------------

    def settle(self, reservation: Reservation, record: CallRecord) -> SettleResult:
        """Record the actual spend: one UpdateItem on the shard (and one on the user item), then claim
        the hold and write the call record (a transaction of those two per-request items).

        Actual above the reservation is settled as it is: the truth is never capped. Throttled writes
        are retried; if the shard write still fails the hold stays and the sweep charges its worst case.
        """
        actual_tokens = record.input_tokens + record.output_tokens
        counts = _Counts(
            available=reservation.nanos - record.cost_nanos,
            spent=record.cost_nanos,
            requests=1,
            input_tokens=record.input_tokens,
            output_tokens=record.output_tokens,
            tokens=reservation.tokens - actual_tokens if reservation.tokens else None,
        )
        claimed = self._finish(reservation, counts, record)
        return SettleResult(hold_was_reclaimed=not claimed)

    def charge_worst_case(self, reservation: Reservation, record: CallRecord) -> SettleResult:
        """The call may have been billed but its usage is unknown: charge the whole reservation."""
        return self.settle(reservation, replace(record, cost_nanos=reservation.nanos, estimated=True))

    def release(self, reservation: Reservation) -> bool:
        """Give the whole hold back: only for a call Bedrock certainly did not run. False if the hold
        was already gone (settled, released or swept)."""
        counts = _Counts(available=reservation.nanos, tokens=reservation.tokens or None)
        return self._finish(reservation, counts, None)

    def _finish(self, reservation: Reservation, counts: _Counts, record: CallRecord | None) -> bool:
        """Apply ``counts`` and claim the hold exactly once. Normally counts first (if that fails, the
        hold stays for the sweep); near its expiry, when the sweep may claim it, claims first."""
        late = self._clock() >= reservation.expires - LATE_SETTLE_MARGIN_SECONDS
        if late:
            if not self._claim(reservation, record):
                return False
            self._apply(reservation, counts)
            return True
        self._apply(reservation, counts)
        if not self._claim(reservation, record):
            # Someone claimed it although it had not expired (a second settle of the same request):
            # take back what was just counted, so the hold counts once.
            self._apply_quietly(reservation, counts.inverse(), "hold_claimed_twice")
            return False
        return True

    def _apply(self, reservation: Reservation, counts: _Counts) -> None:
        self._apply_to_shard(
            reservation.tenant_id,
            shard_key(reservation.period_key, reservation.shard),
            counts,
            reservation.stale_minute_attributes,
        )
        if reservation.user is not None:
            self._credit_user_quietly(reservation.tenant_id, reservation.period_key, reservation.user, counts)

    def _apply_quietly(self, reservation: Reservation, counts: _Counts, reason: str) -> None:
        try:
            self._apply(reservation, counts)
        except Exception as exc:
            self._logger.error(
                "ledger_apply_failed",
                reason=reason,
                tenant=reservation.tenant_id,
                requestId=reservation.request_id,
                error=str(exc),
            )

    def _apply_to_shard(
        self, tenant_id: str, sort_key: str, counts: _Counts, stale: tuple[str, ...] = ()
    ) -> None:
        names = {"#avail": "available_nanos", "#inflight": "in_flight"}
        values: dict[str, Any] = {":avail": _n(counts.available), ":inflight": _n(counts.in_flight)}
        adds = ["#avail :avail", "#inflight :inflight"]
        for name, amount in (
            ("spent_nanos", counts.spent),
            ("requests", counts.requests),
            ("input_tokens", counts.input_tokens),
            ("output_tokens", counts.output_tokens),
            ("tokens_available", counts.tokens),
        ):
            if amount:
                names[f"#{name}"] = name
                values[f":{name}"] = _n(amount)
                adds.append(f"#{name} :{name}")
        expression = "ADD " + ", ".join(adds)
        if stale:
            removes = []
            for number, name in enumerate(stale):
                names[f"#stale{number}"] = name
                removes.append(f"#stale{number}")
            expression += " REMOVE " + ", ".join(removes)
        self._update(
            sort_key,
            tenant_id,
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def _credit_user_quietly(self, tenant_id: str, key: str, user: str, counts: _Counts) -> None:
        """The user item's part of a settle/release/sweep. A failure only leaves the user less budget."""
        names = {"#avail": "available_nanos"}
        values: dict[str, Any] = {":avail": _n(counts.available)}
        adds = ["#avail :avail"]
        if counts.spent:
            names |= {"#spent": "spent_nanos", "#requests": "requests"}
            values |= {":spent": _n(counts.spent), ":requests": _n(counts.requests)}
            adds += ["#spent :spent", "#requests :requests"]
        try:
            self._update(
                user_key(key, user),
                tenant_id,
                UpdateExpression="ADD " + ", ".join(adds),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except Exception as exc:
            self._logger.error("ledger_user_write_failed", tenant=tenant_id, user=user, error=str(exc))

    def _claim(self, reservation: Reservation, record: CallRecord | None) -> bool:
        """Delete the hold (conditional on it still existing) and, with a call record, put it in the same
        transaction. Idempotent (a ClientRequestToken), so any failure is resent. False: already claimed."""
        hold = self._key(
            reservation.tenant_id, hold_key(reservation.period_key, reservation.request_id), reservation.shard
        )
        if record is None:
            try:
                self._send(
                    "delete_item", idempotent=False, Key=hold, ConditionExpression="attribute_exists(sk)"
                )
            except _ConditionFailed:
                return False
            return True
        return self._claim_with_record(
            hold, self._call_item(record, reservation.tenant_id, reservation.period_key, reservation.shard)
        )

    def _claim_with_record(self, hold: dict[str, Any], call_item: dict[str, Any]) -> bool:
        seed = f"{hold['pk']['S']}/{hold['sk']['S']}/claim"
        try:
            self._send(
                "transact_write_items",
                idempotent=True,
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self._table,
                            "Key": hold,
                            "ConditionExpression": "attribute_exists(sk)",
                        }
                    },
                    {"Put": {"TableName": self._table, "Item": call_item}},
                ],
                ClientRequestToken=str(uuid.uuid5(_TOKEN_NAMESPACE, seed)),
            )
        except _ConditionFailed:
            return False
        return True

    def _call_item(self, record: CallRecord, tenant_id: str, key: str, shard: int) -> dict[str, Any]:
        item: dict[str, Any] = {
            **self._key(tenant_id, f"CALL#{record.timestamp}#{record.request_id}", shard),
            # The partition is the shard's: readers take the tenant from here.
            "tenant": {"S": tenant_id},
            "requestId": {"S": record.request_id},
            "principal": {"S": record.principal},
            "apiKeyId": {"S": record.api_key_id},
            "model": {"S": record.model},
            "modelId": {"S": record.model_id},
            "applicationId": {"S": record.application_id},
            "costCenter": {"S": record.cost_center},
            "environment": {"S": record.environment},
            "input_tokens": _n(record.input_tokens),
            "output_tokens": _n(record.output_tokens),
            "cost_nanos": _n(record.cost_nanos),
            "period": {"S": key},
            # The shard that was charged: a credit of a proven overcharge goes back to it.
            "shard": _n(shard),
            "expires_at": _n(int(self._clock()) + self._retention_seconds),
        }
        if record.user:
            item["user"] = {"S": record.user}
        if record.estimated:
            item["estimated"] = {"BOOL": True}
        return item

    # -- the sweep (off the hot path) ------------------------------------------------------------

    def sweep_expired(self, tenant: TenantConfig | str, now: float | None = None) -> int:
        """Charge every expired hold of the tenant at its worst case: the request died (or its settle
        failed) and Bedrock may have billed it, so nothing is given back. Each hold is claimed
        conditionally (with an ``estimated`` call record) before its shard is charged, so a settle and
        the sweep never both count it. Returns how many holds were charged."""
        tenant_id = tenant if isinstance(tenant, str) else tenant.tenant_id
        config = None if isinstance(tenant, str) else tenant
        moment = self._clock() if now is None else now
        charged = 0
        for index in range(self._shards_to_sweep(config, moment)):
            request: dict[str, Any] = {
                "KeyConditionExpression": "pk = :pk AND begins_with(sk, :hold)",
                "FilterExpression": "#expires < :now",
                "ExpressionAttributeNames": {"#expires": "expires"},
                "ExpressionAttributeValues": {
                    ":pk": {"S": shard_partition(tenant_id, index)},
                    ":hold": {"S": "HOLD#"},
                    ":now": _n(int(moment)),
                },
                "ConsistentRead": True,
            }
            while True:
                page = self._send("query", idempotent=True, **request)
                for hold in page.get("Items", []):
                    if self._charge_expired(tenant_id, hold, config):
                        charged += 1
                if "LastEvaluatedKey" not in page:
                    break
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return charged

    def _shards_to_sweep(self, tenant: TenantConfig | None, now: float) -> int:
        """How many shard partitions may hold holds: the configured count, or more when this period's or
        the last one's head records more shards used (a lowered count); every possible one (the
        validation's maximum) when only a tenant id is known."""
        if tenant is None:
            return MAX_LEDGER_SHARDS
        current = period_key(tenant.budget_period, now)
        previous = previous_period_key(tenant.budget_period, now)
        counts = [tenant.ledger_shards]
        for key in (current, previous):
            head = self._send(
                "get_item",
                idempotent=True,
                Key=self._key(tenant.tenant_id, key),
                ConsistentRead=True,
                ProjectionExpression="shards",
            ).get("Item")
            counts.append(_int(head or {}, "shards"))
        return max(counts)

    def _charge_expired(self, tenant_id: str, hold: Mapping[str, Any], tenant: TenantConfig | None) -> bool:
        sort_key = hold["sk"]["S"]
        _, label, request_id = sort_key.split("#", 2)
        key = f"PERIOD#{label}"
        nanos = _int(hold, "nanos")
        text = lambda name: hold.get(name, {}).get("S", "")  # noqa: E731
        record = CallRecord(
            request_id=request_id,
            timestamp=utc_timestamp(_int(hold, "reserved_at") / 1000),
            principal=text("principal"),
            api_key_id=text("api_key_id"),
            user=text("call_user") or text("user") or None,
            model=text("model"),
            model_id=text("model_id"),
            application_id=tenant.application_id if tenant else "",
            cost_center=tenant.cost_center if tenant else "",
            environment=tenant.environment if tenant else "",
            input_tokens=_int(hold, "input_tokens"),
            output_tokens=_int(hold, "output_tokens"),
            cost_nanos=nanos,
            estimated=True,
        )
        shard = _int(hold, "shard")
        if not self._claim_with_record(
            self._key(tenant_id, sort_key, shard), self._call_item(record, tenant_id, key, shard)
        ):
            return False
        # Spent at the worst case, in_flight down by one; available is not credited: the hold's amount
        # was taken from it at reserve and stays taken.
        counts = _Counts(
            available=0,
            spent=nanos,
            requests=1,
            input_tokens=record.input_tokens,
            output_tokens=record.output_tokens,
        )
        self._apply_to_shard(tenant_id, shard_key(key, shard), counts)
        user = text("user")
        if user:
            self._credit_user_quietly(tenant_id, key, user, counts)
        self._logger.warning("hold_charged_at_expiry", tenant=tenant_id, requestId=request_id, nanos=nanos)
        return True

    def maintain(self, tenant: TenantConfig, now: float | None = None) -> dict[str, int]:
        """Off the hot path, with a config read that just succeeded (``tenant``): rebase the head to the
        configured limit, claw a lowered limit back from the shards, and drain shards beyond the
        configured count into the pool. Returns what moved."""
        moment = self._clock() if now is None else now
        key = period_key(tenant.budget_period, moment)
        snapshot = self._snapshot(tenant.tenant_id, key, tenant.ledger_shards)
        if snapshot.head is None or "limit_nanos" not in snapshot.head:
            return {"rebased": 0, "clawed_back": 0, "drained": 0}
        rebased = 0
        if _int(snapshot.head, "limit_nanos") != tenant.budget_limit_nanos:
            rebased = (
                self.move_limit(tenant.tenant_id, key, tenant.budget_limit_nanos, snapshot=snapshot) or 0
            )
            snapshot = self._snapshot(tenant.tenant_id, key, tenant.ledger_shards)
        drained = 0
        for index, shard in snapshot.shards.items():
            surplus = index >= tenant.ledger_shards and shard.available_nanos > 0 and shard.in_flight <= 0
            if surplus and self._debit_shard(tenant.tenant_id, shard.sort_key, shard.available_nanos, 0):
                self._credit_pool(tenant.tenant_id, key, shard.available_nanos)
                drained += shard.available_nanos
        clawed = self._claw_back(
            tenant.tenant_id, key, self._snapshot(tenant.tenant_id, key, tenant.ledger_shards)
        )
        return {"rebased": rebased, "clawed_back": clawed, "drained": drained}

    # -- limit changes and blocks (the budget sync and alert functions) --------------------------

    def move_limit(
        self, tenant_id: str, key: str, new_limit: int, *, snapshot: _Snapshot | None = None
    ) -> int | None:
        """Move the period's limit to ``new_limit`` and its pool by the same delta, once (conditional on
        the old limit); a lowered limit is then clawed back from the shards' unspent budget. Returns the
        delta applied, or None when there was nothing to move (no head yet, or already this limit)."""
        for _ in range(MAX_WRITE_ATTEMPTS):
            current = snapshot or self._snapshot(tenant_id, key)
            snapshot = None
            head = current.head
            if head is None or "limit_nanos" not in head:
                return None
            old = _int(head, "limit_nanos")
            if old == new_limit:
                return None
            if self._rebase_item(tenant_id, key, old, new_limit, pool="pool_nanos"):
                for shard in current.shards.values():
                    # The shards' copy of the limit (what responses report); the head enforces it.
                    with contextlib.suppress(_ConditionFailed):
                        self._update(
                            shard.sort_key,
                            tenant_id,
                            UpdateExpression="SET limit_nanos = :new",
                            ConditionExpression="attribute_exists(sk)",
                            ExpressionAttributeValues={":new": _n(new_limit)},
                        )
                if new_limit < old:
                    self._claw_back(tenant_id, key, self._snapshot(tenant_id, key))
                return new_limit - old
        raise ValueError(f"the ledger head {tenant_id}/{key} kept changing; will retry on the next run")

    def _claw_back(self, tenant_id: str, key: str, snapshot: _Snapshot) -> int:
        """A negative pool (the limit was lowered) is refilled from the shards' unspent budget, so the
        shards cannot let through more than the new limit. What is already spent stays spent."""
        owed = -snapshot.pool
        clawed = 0
        for shard in sorted(snapshot.shards.values(), key=lambda s: s.available_nanos, reverse=True):
            if owed <= 0:
                break
            take = min(owed, shard.available_nanos)
            if take > 0 and self._debit_shard(tenant_id, shard.sort_key, take, 0):
                self._credit_pool(tenant_id, key, take)
                owed -= take
                clawed += take
        return clawed

    def block_reason(self, tenant_id: str, key: str) -> Mapping[str, Any] | None:
        """The ``blocked`` map of the period (a budget alert's reason), or None."""
        item = self._send(
            "get_item",
            idempotent=True,
            Key=self._key(tenant_id, key),
            ConsistentRead=True,
            ProjectionExpression="blocked",
        ).get("Item")
        blocked = ((item or {}).get("blocked") or {}).get("M")
        return blocked or None

    def block(self, tenant: TenantConfig, key: str, reason: Mapping[str, Any]) -> bool:
        """Block the tenant for the period: on the head (the record, conditional: True when newly
        blocked) and on every shard, where the reservation's own condition refuses it."""
        try:
            self._update(
                key,
                tenant.tenant_id,
                UpdateExpression="SET blocked = :reason",
                ConditionExpression="attribute_not_exists(blocked)",
                ExpressionAttributeValues={":reason": {"M": dict(reason)}},
            )
            newly = True
        except _ConditionFailed:
            newly = False
        for sort_key in self._shard_keys(tenant, key):
            self._update(
                sort_key,
                tenant.tenant_id,
                UpdateExpression="SET blocked = :reason",
                ExpressionAttributeValues={":reason": {"M": dict(reason)}},
            )
        return newly

    def lift_block(self, tenant: TenantConfig, key: str, expected: Mapping[str, Any]) -> bool:
        """Remove a block, conditional on it still being the one read (``budgetedUsd`` and ``at``), so a
        fresher alert is never undone; then from every shard."""
        try:
            self._update(
                key,
                tenant.tenant_id,
                UpdateExpression="REMOVE blocked",
                ConditionExpression="blocked.budgetedUsd = :was AND blocked.#at = :at",
                ExpressionAttributeNames={"#at": "at"},
                ExpressionAttributeValues={
                    ":was": expected.get("budgetedUsd", {"S": ""}),
                    ":at": expected.get("at", {"S": ""}),
                },
            )
        except _ConditionFailed:
            return False
        for sort_key in self._shard_keys(tenant, key):
            self._update(sort_key, tenant.tenant_id, UpdateExpression="REMOVE blocked")
        return True

    def _shard_keys(self, tenant: TenantConfig, key: str) -> list[str]:
        existing = self._snapshot(tenant.tenant_id, key, tenant.ledger_shards).shards
        return sorted(
            {shard_key(key, index) for index in range(tenant.ledger_shards)}
            | {shard.sort_key for shard in existing.values()}
        )

    # -- credit of a proven overcharge (off the hot path) -----------------------------------------

    def credit_overcharge(
        self,
        tenant_id: str,
        shard: int,
        call_sort_key: str,
        request_id: str,
        nanos: int,
        evidence: Mapping[str, str],
    ) -> bool:
        """Give back a proven overcharge of one estimated call, once (scripts/cli/reports credit).

        ``shard`` is the call record's (its partition, and the shard it charged); the period is read from
        the call record. One transaction: the credit
        item ``CREDIT#<requestId>`` (conditional on not existing, so a second run credits nothing),
        ``credited_nanos`` on the call record, and on that shard ``available`` up and ``spent`` down by
        the same nanos (its allocation is unchanged); the user item likewise when the user has one.
        False when the call was already credited.
        """
        if nanos <= 0:
            raise ValueError("a credit must be a positive number of nano-dollars")
        call_key = self._key(tenant_id, call_sort_key, shard)
        call = self._send("get_item", idempotent=True, Key=call_key, ConsistentRead=True).get("Item")
        if call is None or "period" not in call:
            raise ValueError(f"no call record {call_sort_key} of tenant {tenant_id} with a period")
        key = call["period"]["S"]
        charged = shard_key(key, shard)
        item: dict[str, Any] = {
            **self._key(tenant_id, f"CREDIT#{request_id}"),
            "requestId": {"S": request_id},
            "callSk": {"S": call_sort_key},
            "period": {"S": key},
            "shard": {"S": charged},
            "credited_nanos": _n(nanos),
            "creditedAt": {"S": utc_timestamp(self._clock())},
            **{name: {"S": value} for name, value in evidence.items()},
        }
        give_back = {
            "UpdateExpression": "ADD available_nanos :nanos, spent_nanos :minus",
            "ConditionExpression": "attribute_exists(sk)",
            "ExpressionAttributeValues": {":nanos": _n(nanos), ":minus": _n(-nanos)},
        }
        writes: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(sk)",
                }
            },
            {
                "Update": {
                    "TableName": self._table,
                    "Key": call_key,
                    "UpdateExpression": "ADD credited_nanos :nanos",
                    "ConditionExpression": "attribute_exists(sk)",
                    "ExpressionAttributeValues": {":nanos": _n(nanos)},
                }
            },
            {"Update": {"TableName": self._table, "Key": self._key(tenant_id, charged), **give_back}},
        ]
        user = call.get("user", {}).get("S")
        if user:
            user_item = self._key(tenant_id, user_key(key, user))
            if "Item" in self._send("get_item", idempotent=True, Key=user_item, ProjectionExpression="sk"):
                writes.append({"Update": {"TableName": self._table, "Key": user_item, **give_back}})
        try:
            # Resent safely after any failure: the conditional put makes a second application a no-op.
            self._send("transact_write_items", idempotent=True, TransactItems=writes)
        except _ConditionFailed as failed:
            if _first_cancellation_reason(failed.__cause__) == "ConditionalCheckFailed":
                return False  # credited before: once, whatever runs again
            raise ValueError(f"call record {call_sort_key} or its shard {charged} is gone") from failed
        return True

    # -- read ------------------------------------------------------------------------------------

    def period_status(self, tenant: TenantConfig) -> PeriodStatus:
        """The tenant's period: the head and every shard, read with one BatchGetItem and summed."""
        now = self._clock()
        key = period_key(tenant.budget_period, now)
        snapshot = self._snapshot(tenant.tenant_id, key, tenant.ledger_shards)
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

    # -- denials ---------------------------------------------------------------------------------

    def _blocked(self, tenant: TenantConfig, now: float) -> LimitExceeded:
        return LimitExceeded(
            "tenant_blocked",
            f"tenant {tenant.tenant_id} is blocked for this period (its budget alert fired)",
            retry_after_seconds=seconds_to_period_end(tenant.budget_period, now),
        )

    def _contended(self, tenant: TenantConfig, reason: str, now: float) -> LimitExceeded:
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
        code = "token_limit" if reason == "tokens" else "budget_exhausted"
        return LimitExceeded(
            code,
            f"the tenant's remaining {'tokens are' if code == 'token_limit' else 'budget is'} being taken by "
            f"concurrent requests; retry in a second",
            retry_after_seconds=1,
        )


def _first_cancellation_reason(exc: BaseException | None) -> str | None:
    """The reason code of a cancelled transaction's first item (DynamoDB lists one per item)."""
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return None
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    reasons = exc.response.get("CancellationReasons") or []
    if reasons:
        code: str | None = reasons[0].get("Code")
        return code
    listed = str(exc).rpartition("[")[2].rstrip("]").split(",")  # "... reasons [A, None, None]"
    return listed[0].strip() or None


def read_tenant_items(
    dynamodb_client: Any, table: str, tenant_id: str, prefix: str = ""
) -> list[dict[str, Any]]:
    """Every ledger item of one tenant, across its partitions (its own, each shard's, each user's),
    optionally only sort keys starting with ``prefix``. A consistent Scan: for tests, the demo and an
    operator's look, never the request path."""
    condition = "(pk = :tenant OR begins_with(pk, :partitions))"
    values: dict[str, Any] = {":tenant": {"S": tenant_id}, ":partitions": {"S": f"{tenant_id}#"}}
    if prefix:
        condition += " AND begins_with(sk, :prefix)"
        values[":prefix"] = {"S": prefix}
    pages = dynamodb_client.get_paginator("scan").paginate(
        TableName=table, FilterExpression=condition, ExpressionAttributeValues=values, ConsistentRead=True
    )
    return [item for page in pages for item in page.get("Items", [])]


def utc_timestamp(epoch_seconds: float) -> str:
    """ISO 8601 UTC with milliseconds and Z, sortable as text (the call records' sort key)."""
    moment = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
