"""Settlement: what happens to a hold after admission. A settle records the actual spend, a release gives
the whole hold back, the sweep (sweep.py, through the claim and the counts here) charges an expired hold
at its worst case, and a proven overcharge of an estimated call is credited back once.

Each hold counts exactly once: it is claimed by whoever counts it, with one conditional UpdateItem that
turns the hold into its call record in place (conditional on its still being a hold; a release deletes
it on the same condition), and the counts go on the hold's own shard (and the user item). Normally
counts first (if the claim then fails, the counts are taken back); near its expiry, when the sweep may
claim it, claims first. The two writes are two requests: docs/design.md section 4 says what a process
that dies between them leaves.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from cost_sentry.adapters.ledger.dynamo import (
    Dynamo,
    Update,
    _ConditionFailed,
    _first_cancellation_reason,
)
from cost_sentry.adapters.ledger.items import (
    HELD,
    HOLD_ATTRIBUTES,
    CallRecord,
    Reservation,
    StoredCall,
    _int,
    _key,
    _n,
    call_item,
    is_hold,
    reserved_sort_key,
    utc_timestamp,
)
from cost_sentry.core.periods import (
    period_key_like,
    shard_key,
    user_key,
)

# A settle this close to its hold's expiry may race the sweep: it claims the hold before counting.
LATE_SETTLE_MARGIN_SECONDS = 10


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


def claim_digest(record: Mapping[str, Any]) -> str:
    """A claim's own mark: a digest of the call record it writes, so a resend of the same claim knows
    itself (and a different claim of the same hold does not)."""
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]


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
        self.apply_to_shard(
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

    def apply_to_shard(
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
        return self.convert_hold(
            hold,
            self.record_item(
                stamped,
                reservation.tenant_id,
                reservation.period_key,
                reservation.shard,
                reservation.reserved_at_ms,
                int(self._dynamo.clock() * 1000),
            ),
        )

    def convert_hold(self, hold: dict[str, Any], record: dict[str, Any]) -> bool:
        """Turn the hold item ``hold`` into the call record ``record`` (same key), if it is still a hold.

        The settle and the sweep may both claim one hold, with different records: each claim writes its
        own ``claim`` (a digest of its record), so a resend of the same claim after an ambiguous failure
        finds its own claim and succeeds, applied once, while any other claim finds the hold gone."""
        digest = claim_digest(record)
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

    def record_item(
        self, record: CallRecord, tenant_id: str, key: str, shard: int, reserved_at_ms: int, ended_at_ms: int
    ) -> dict[str, Any]:
        """The call record item a claim writes (the settle's or the sweep's), kept for the retention."""
        expires_at = int(self._dynamo.clock()) + self._retention_seconds
        return call_item(StoredCall(record, tenant_id, key, shard, expires_at, reserved_at_ms, ended_at_ms))

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
