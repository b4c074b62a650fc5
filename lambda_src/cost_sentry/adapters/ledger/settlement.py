"""Settlement: what happens to a hold after admission. A settle records the actual spend, a release gives
the whole hold back, the sweep charges an expired hold at its worst case, and a proven overcharge of an
estimated call is credited back once.

Each hold counts exactly once: it is claimed by whoever counts it, with one conditional UpdateItem that
turns the hold into its call record in place (conditional on its still being a hold; a release deletes
it on the same condition), and the counts go on the hold's own shard (and the user item). Normally
counts first (if the claim then fails, the counts are taken back); near its expiry, when the sweep may
claim it, claims first. The two writes are two requests: docs/design.md section 4 says what a process
that dies between them leaves.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from cost_sentry.adapters.ledger.dynamo import (
    Dynamo,
    Update,
    _ConditionFailed,
    _first_cancellation_reason,
    request_token,
)
from cost_sentry.adapters.ledger.items import (
    CALL_PREFIX,
    HELD,
    HOLD_ATTRIBUTES,
    LEGACY_HOLD_PREFIX,
    CallRecord,
    Reservation,
    StoredCall,
    _int,
    _key,
    _n,
    _text,
    call_item,
    is_hold,
    read_hold,
    reserved_sort_key,
    utc_timestamp,
)
from cost_sentry.core.periods import (
    period_key,
    period_key_like,
    previous_period_key,
    shard_key,
    shard_partition,
    user_key,
)
from cost_sentry.core.tenants import MAX_LEDGER_SHARDS, TenantConfig

# A settle this close to its hold's expiry may race the sweep: it claims the hold before counting.
LATE_SETTLE_MARGIN_SECONDS = 10
# A hold is keyed by the moment its worst case was taken (admission.py), and its put lands within this
# of that moment: at most MAX_WRITE_ATTEMPTS sends of the gateway's client (2 s connect + 5 s read
# timeouts) with jittered pauses of at most half a second, 30 s in all; four times that, for margin. The
# sweep moves its mark (below) no later than this before its own start, so no hold can land behind it.
HOLD_LANDS_WITHIN_SECONDS = 120
# Per shard partition: every hold keyed before ``swept_before`` (ISO-8601 UTC) has been claimed.
SWEEP_MARK_KEY = "SWEPT"


@dataclass(frozen=True)
class SettleResult:
    # True when the hold had already been claimed (swept at expiry): nothing was recorded twice.
    hold_was_reclaimed: bool


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


def worst_case(reservation: Reservation, record: CallRecord) -> CallRecord:
    """The call may have been billed but its usage is unknown: charge the whole reservation."""
    return replace(record, cost_nanos=reservation.nanos, estimated=True)


def shard_counts(counts: _Counts, stale: tuple[str, ...] = ()) -> Update:
    """``counts`` on a shard; past minutes' rpm_ counters (``stale``) are removed in the same write."""
    update = Update().add("available_nanos", counts.available).add("in_flight", counts.in_flight)
    for name, amount in (
        ("spent_nanos", counts.spent),
        ("requests", counts.requests),
        ("input_tokens", counts.input_tokens),
        ("output_tokens", counts.output_tokens),
        ("tokens_available", counts.tokens),
    ):
        if amount:
            update.add(name, amount)
    for name in stale:
        update.remove(name)
    return update


def user_counts(counts: _Counts) -> Update:
    update = Update().add("available_nanos", counts.available)
    if counts.spent:
        update.add("spent_nanos", counts.spent).add("requests", counts.requests)
    return update


class Settlement:
    def __init__(
        self,
        dynamo: Dynamo,
        *,
        retention_seconds: int,
        cover_deficit: Callable[[str, str, str, int], None] | None = None,
    ) -> None:
        self._dynamo = dynamo
        self._retention_seconds = retention_seconds
        # Maintenance.cover_deficit: what a shard left below zero by a settle owes goes to the tenant.
        self._cover_deficit = cover_deficit

    # -- settle / release ------------------------------------------------------------------------

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

    def release(self, reservation: Reservation) -> bool:
        """Give the whole hold back: only for a call Bedrock certainly did not run. False if the hold
        was already gone (settled, released or swept)."""
        counts = _Counts(available=reservation.nanos, tokens=reservation.tokens or None)
        return self._finish(reservation, counts, None)

    def _finish(self, reservation: Reservation, counts: _Counts, record: CallRecord | None) -> bool:
        """Apply ``counts`` and claim the hold exactly once. Normally counts first (if that fails, the
        hold stays for the sweep); near its expiry, when the sweep may claim it, claims first."""
        late = self._dynamo.clock() >= reservation.expires - LATE_SETTLE_MARGIN_SECONDS
        if late:
            if not self._claim(reservation, record):
                return False
            self._apply(reservation, counts)
            return True
        self._apply(reservation, counts)
        if not self._claim(reservation, record):
            # Someone claimed it although it had not expired (a second settle of the same request):
            # take back what was just counted, so the hold counts once.
            self.apply_quietly(reservation, counts.inverse(), "hold_claimed_twice")
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
            self.credit_user_quietly(reservation.tenant_id, reservation.period_key, reservation.user, counts)

    def apply_quietly(self, reservation: Reservation, counts: _Counts, reason: str) -> None:
        try:
            self._apply(reservation, counts)
        except Exception as exc:
            self._dynamo.logger.error(
                "ledger_apply_failed",
                reason=reason,
                tenant=reservation.tenant_id,
                requestId=reservation.request_id,
                error=str(exc),
            )

    def _apply_to_shard(
        self, tenant_id: str, sort_key: str, counts: _Counts, stale: tuple[str, ...] = ()
    ) -> None:
        """Apply ``counts``; a shard left below zero (a call billed above its reservation) has its debt
        covered by the tenant as a whole (maintenance.py), so it never stays a shard's bookkeeping.

        Requests in flight are counted in the current period: a request of the last period that ends
        after the rollover takes its count off the current period's shard (which the period's opening
        carried it to, periods.py), one more write at the boundary only; its money stays in its own
        period. So max_in_flight holds across the boundary instead of doubling."""
        # The shard's sort key is <period>#S<k>; the period's key is also its head's.
        period, _, index = sort_key.rpartition("#S")
        current = period_key_like(period, self._dynamo.clock())
        if current != period and counts.in_flight:
            self._dynamo.update(
                _key(tenant_id, shard_key(current, int(index))), Update().add("in_flight", counts.in_flight)
            )
            counts = replace(counts, in_flight=0)
        response = self._dynamo.update(
            _key(tenant_id, sort_key), shard_counts(counts, stale), ReturnValues="UPDATED_NEW"
        )
        available = _int(response.get("Attributes") or {}, "available_nanos")
        if available < 0 and counts.available < 0 and self._cover_deficit is not None:
            self._cover_deficit(tenant_id, period, sort_key, min(-available, -counts.available))

    def credit_user_quietly(self, tenant_id: str, key: str, user: str, counts: _Counts) -> None:
        """The user item's part of a settle/release/sweep. A failure only leaves the user less budget."""
        try:
            self._dynamo.update(_key(tenant_id, user_key(key, user)), user_counts(counts))
        except Exception as exc:
            self._dynamo.logger.error("ledger_user_write_failed", tenant=tenant_id, user=user, error=str(exc))

    def _claim(self, reservation: Reservation, record: CallRecord | None) -> bool:
        """Claim the hold: a release deletes it, a settle turns it into ``record``'s call record in place;
        each conditional on its still being a hold. False: already claimed (by the sweep, or twice)."""
        hold = _key(
            reservation.tenant_id,
            reserved_sort_key(reservation.request_id, reservation.reserved_at_ms),
            reservation.shard,
        )
        if record is None:
            try:
                self._dynamo.send(
                    "delete_item",
                    idempotent=False,
                    Key=hold,
                    ConditionExpression="#state = :held",
                    ExpressionAttributeNames={"#state": "state"},
                    ExpressionAttributeValues={":held": {"S": HELD}},
                )
            except _ConditionFailed:
                return False
            return True
        # The record keeps the hold's key: its time is when the worst case was taken.
        stamped = replace(record, timestamp=hold["sk"]["S"].split("#", 2)[1])
        return self._convert(
            hold,
            self._call_item(
                stamped,
                reservation.tenant_id,
                reservation.period_key,
                reservation.shard,
                reservation.reserved_at_ms,
                int(self._dynamo.clock() * 1000),
            ),
        )

    def _convert(self, hold: dict[str, Any], record: dict[str, Any]) -> bool:
        """Turn the hold item ``hold`` into the call record ``record`` (same key), if it is still a hold.

        The settle and the sweep may both claim one hold, with different records: each claim writes its
        own ``claim`` (a digest of its record), so a resend of the same claim after an ambiguous failure
        finds its own claim and succeeds, applied once, while any other claim finds the hold gone."""
        digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]
        update = Update()
        for name, value in sorted(record.items()):
            if name not in ("pk", "sk"):
                update.set(name, value)
        update.set("claim", {"S": digest})
        for name in sorted(HOLD_ATTRIBUTES - record.keys()):
            update.remove(name)
        update.condition("(#state = {} OR #claim = {})", {"S": HELD}, {"S": digest})
        try:
            # Resent after any failure: a second application finds its own claim and changes nothing.
            self._dynamo.update(hold, update, idempotent=True)
        except _ConditionFailed:
            return False
        return True

    def _claim_legacy_hold(self, hold: dict[str, Any], item: dict[str, Any]) -> bool:
        """A hold of the layout before (``HOLD#<p>#<requestId>``): deleted and its call record put, in one
        transaction with a token of its own (a resend of the same claim is applied once)."""
        digest = hashlib.sha256(json.dumps(item, sort_keys=True).encode()).hexdigest()[:16]
        seed = f"{hold['pk']['S']}/{hold['sk']['S']}/claim/{digest}"
        table = self._dynamo.table
        try:
            self._dynamo.send(
                "transact_write_items",
                idempotent=True,
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": table,
                            "Key": hold,
                            "ConditionExpression": "attribute_exists(sk)",
                        }
                    },
                    {"Put": {"TableName": table, "Item": item}},
                ],
                ClientRequestToken=request_token(seed),
            )
        except _ConditionFailed:
            return False
        return True

    def _call_item(
        self, record: CallRecord, tenant_id: str, key: str, shard: int, reserved_at_ms: int, ended_at_ms: int
    ) -> dict[str, Any]:
        expires_at = int(self._dynamo.clock()) + self._retention_seconds
        return call_item(StoredCall(record, tenant_id, key, shard, expires_at, reserved_at_ms, ended_at_ms))

    # -- the sweep (off the hot path) ------------------------------------------------------------

    def sweep_expired(self, tenant: TenantConfig | str, now: float | None = None) -> int:
        """Charge every expired hold of the tenant at its worst case: the request died (or its settle
        failed) and Bedrock may have billed it, so nothing is given back. Each hold is claimed
        conditionally (turned into an ``estimated`` call record) before its shard is charged, so a settle
        and the sweep never both count it. Returns how many holds were charged."""
        tenant_id = tenant if isinstance(tenant, str) else tenant.tenant_id
        config = None if isinstance(tenant, str) else tenant
        moment = self._dynamo.clock() if now is None else now
        charged = 0
        for index in range(self._shards_to_sweep(config, moment)):
            charged += self._sweep_shard(tenant_id, index, moment, config)
            charged += self._sweep_legacy_holds(tenant_id, index, moment, config)
        return charged

    def _sweep_shard(self, tenant_id: str, index: int, moment: float, config: TenantConfig | None) -> int:
        """The holds of one shard partition, found by time: its items keyed between the partition's mark
        (every hold before it is claimed) and now, so a run reads the last few minutes' call records, not
        the partition's whole history. The mark then moves to the oldest hold still open, or to
        ``HOLD_LANDS_WITHIN_SECONDS`` before this run, whichever is earlier."""
        mark_key = _key(tenant_id, SWEEP_MARK_KEY, index)
        mark = self._dynamo.send("get_item", idempotent=True, Key=mark_key, ConsistentRead=True).get("Item")
        since = _text(mark or {}, "swept_before")  # "": never swept, read the partition from its start
        open_since = utc_timestamp(moment - HOLD_LANDS_WITHIN_SECONDS)
        charged = 0
        for item in self._query(
            shard_partition(tenant_id, index),
            "#sk BETWEEN {} AND {}",
            CALL_PREFIX + since,
            # "$" sorts right after "#": every key of this millisecond, whatever its request id.
            CALL_PREFIX + utc_timestamp(moment) + "$",
        ):
            if _int(item, "expires") < int(moment):
                if self._charge_expired(tenant_id, item, config):
                    charged += 1
                continue
            open_since = min(open_since, item["sk"]["S"].split("#", 2)[1])
        if open_since > since:
            advance = Update().set("swept_before", {"S": open_since})
            advance.condition(
                "(attribute_not_exists(#swept_before) OR #swept_before < {})", {"S": open_since}
            )
            with contextlib.suppress(_ConditionFailed):  # a concurrent run moved it further
                self._dynamo.update(mark_key, advance)
        return charged

    def _sweep_legacy_holds(
        self, tenant_id: str, index: int, moment: float, config: TenantConfig | None
    ) -> int:
        """Expired holds of the layout before this one (``HOLD#...``; none once they are all claimed)."""
        charged = 0
        for item in self._query(
            shard_partition(tenant_id, index), "begins_with(#sk, {})", LEGACY_HOLD_PREFIX
        ):
            if _int(item, "expires") < int(moment) and self._charge_expired(tenant_id, item, config):
                charged += 1
        return charged

    def _query(self, partition: str, sort_key_condition: str, *bounds: str) -> Iterator[dict[str, Any]]:
        """The holds among one partition's items whose sort key meets the condition (each bound a
        ``{}``), read strongly consistent, page by page."""
        values: dict[str, Any] = {":pk": {"S": partition}, ":held": {"S": HELD}}
        slots = []
        for number, bound in enumerate(bounds):
            values[f":b{number}"] = {"S": bound}
            slots.append(f":b{number}")
        request: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND " + sort_key_condition.format(*slots),
            "FilterExpression": "#state = :held",
            "ExpressionAttributeNames": {"#sk": "sk", "#state": "state"},
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        while True:
            page = self._dynamo.send("query", idempotent=True, **request)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

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
            head = self._dynamo.send(
                "get_item",
                idempotent=True,
                Key=_key(tenant.tenant_id, key),
                ConsistentRead=True,
                ProjectionExpression="shards",
            ).get("Item")
            counts.append(_int(head or {}, "shards"))
        return max(counts)

    def _charge_expired(self, tenant_id: str, item: Mapping[str, Any], tenant: TenantConfig | None) -> bool:
        hold = read_hold(item)
        record = hold.worst_case_record(
            tenant.application_id if tenant else "",
            tenant.cost_center if tenant else "",
            tenant.environment if tenant else "",
        )
        key, shard = hold.period_key, hold.shard
        hold_key = _key(tenant_id, item["sk"]["S"], shard)
        # Billed, if at all, between its reservation and its hold's expiry.
        call = self._call_item(record, tenant_id, key, shard, hold.reserved_at_ms, hold.expires * 1000)
        legacy = item["sk"]["S"].startswith(LEGACY_HOLD_PREFIX)
        if not (self._claim_legacy_hold(hold_key, call) if legacy else self._convert(hold_key, call)):
            return False
        # Spent at the worst case, in_flight down by one; available is not credited: the hold's amount
        # was taken from it at reserve and stays taken.
        counts = _Counts(
            available=0,
            spent=hold.nanos,
            requests=1,
            input_tokens=record.input_tokens,
            output_tokens=record.output_tokens,
        )
        self._apply_to_shard(tenant_id, shard_key(key, shard), counts)
        if hold.user:
            self.credit_user_quietly(tenant_id, key, hold.user, counts)
        self._dynamo.logger.warning(
            "hold_charged_at_expiry", tenant=tenant_id, requestId=hold.request_id, nanos=hold.nanos
        )
        return True

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
        call_key = _key(tenant_id, call_sort_key, shard)
        call = self._dynamo.send("get_item", idempotent=True, Key=call_key, ConsistentRead=True).get("Item")
        if call is None or "period" not in call or is_hold(call):
            raise ValueError(f"no call record {call_sort_key} of tenant {tenant_id} with a period")
        key = call["period"]["S"]
        charged = shard_key(key, shard)
        writes = self._credit_writes(
            tenant_id, key, charged, call_key, call_sort_key, request_id, nanos, evidence
        )
        user = call.get("user", {}).get("S")
        if user:
            user_item = _key(tenant_id, user_key(key, user))
            if "Item" in self._dynamo.send(
                "get_item", idempotent=True, Key=user_item, ProjectionExpression="sk"
            ):
                writes.append(_give_back(nanos).transact(self._dynamo.table, user_item))
        try:
            # Resent safely after any failure: the conditional put makes a second application a no-op.
            self._dynamo.send("transact_write_items", idempotent=True, TransactItems=writes)
        except _ConditionFailed as failed:
            if _first_cancellation_reason(failed.__cause__) == "ConditionalCheckFailed":
                return False  # credited before: once, whatever runs again
            raise ValueError(f"call record {call_sort_key} or its shard {charged} is gone") from failed
        return True

    def _credit_writes(
        self,
        tenant_id: str,
        key: str,
        charged: str,
        call_key: dict[str, Any],
        call_sort_key: str,
        request_id: str,
        nanos: int,
        evidence: Mapping[str, str],
    ) -> list[dict[str, Any]]:
        """The credit item, ``credited_nanos`` on the call record, and the give-back on the shard."""
        table = self._dynamo.table
        item: dict[str, Any] = {
            **_key(tenant_id, f"CREDIT#{request_id}"),
            "requestId": {"S": request_id},
            "callSk": {"S": call_sort_key},
            "period": {"S": key},
            "shard": {"S": charged},
            "credited_nanos": _n(nanos),
            "creditedAt": {"S": utc_timestamp(self._dynamo.clock())},
            **{name: {"S": value} for name, value in evidence.items()},
        }
        return [
            {"Put": {"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(sk)"}},
            Update().add("credited_nanos", nanos).condition("attribute_exists(sk)").transact(table, call_key),
            _give_back(nanos).transact(table, _key(tenant_id, charged)),
        ]


def _give_back(nanos: int) -> Update:
    """A credit on a shard or user item: available up and spent down by ``nanos``."""
    return Update().add("available_nanos", nanos).add("spent_nanos", -nanos).condition("attribute_exists(sk)")
