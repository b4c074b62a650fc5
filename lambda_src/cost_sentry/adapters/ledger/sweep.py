"""The sweep: every expired hold of a tenant charged at its worst case, off the hot path (the ledger
sweep function, every minute; ``Ledger.sweep_expired`` for tests and the local stack).

A room of its own because it is another caller's need than the request's own settle or release
(settlement.py), and it reads in its own way: by time, per shard partition, from a mark. It claims each
hold with the settlement's own claim (``Settlement.convert_hold``: the same conditional UpdateItem, to an
``estimated`` call record) before the shard is charged, so a settle and the sweep never both count it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from cost_sentry.adapters.ledger.dynamo import Dynamo, Update, _ConditionFailed, request_token
from cost_sentry.adapters.ledger.items import (
    CALL_PREFIX,
    HELD,
    LEGACY_HOLD_PREFIX,
    _int,
    _key,
    _text,
    read_hold,
    utc_timestamp,
)
from cost_sentry.adapters.ledger.settlement import Settlement, _Counts, claim_digest
from cost_sentry.core.periods import period_key, previous_period_key, shard_key, shard_partition
from cost_sentry.core.tenants import MAX_LEDGER_SHARDS, TenantConfig

# A hold is keyed by the moment its worst case was taken (admission.py), and its put lands within this
# of that moment: at most MAX_WRITE_ATTEMPTS sends of the gateway's client (2 s connect + 5 s read
# timeouts) with jittered pauses of at most half a second, 30 s in all; four times that, for margin. The
# sweep moves its mark (below) no later than this before its own start, so no hold can land behind it.
HOLD_LANDS_WITHIN_SECONDS = 120
# Per shard partition: every hold keyed before ``swept_before`` (ISO-8601 UTC) has been claimed.
SWEEP_MARK_KEY = "SWEPT"


class Sweep:
    """The expired holds of a tenant, found by time and charged at their worst case, each claimed once."""

    def __init__(self, dynamo: Dynamo, settlement: Settlement) -> None:
        self._dynamo = dynamo
        self._settlement = settlement

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
        call = self._settlement.record_item(
            record, tenant_id, key, shard, hold.reserved_at_ms, hold.expires * 1000
        )
        legacy = item["sk"]["S"].startswith(LEGACY_HOLD_PREFIX)
        if not (
            self._claim_legacy_hold(hold_key, call)
            if legacy
            else self._settlement.convert_hold(hold_key, call)
        ):
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
        self._settlement.apply_to_shard(tenant_id, shard_key(key, shard), counts)
        if hold.user:
            self._settlement.credit_user_quietly(tenant_id, key, hold.user, counts)
        self._dynamo.logger.warning(
            "hold_charged_at_expiry", tenant=tenant_id, requestId=hold.request_id, nanos=hold.nanos
        )
        return True

    def _claim_legacy_hold(self, hold: dict[str, Any], item: dict[str, Any]) -> bool:
        """A hold of the layout before (``HOLD#<p>#<requestId>``): deleted and its call record put, in one
        transaction with a token of its own (a resend of the same claim is applied once)."""
        digest = claim_digest(item)
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
