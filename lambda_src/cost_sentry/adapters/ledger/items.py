"""The ledger's item keys and item encoding, in one place: where each item lives, how a number is written
and read, the hold item (writer ``hold_item`` and reader ``read_hold``, inverses) and the call record
(writer ``call_item`` and reader ``read_call_item``, inverses), and the records the ledger hands back.

Where items live (core/periods.py names the keys): a shard, and the holds drawn on it and the call
records charged on it, in the shard's own partition (``<tenant>#S<k>``); a user item in the user's
(``<tenant>#U#<user>``); the head and credits in the tenant's own partition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cost_sentry.core.estimate import WorstCase
from cost_sentry.core.periods import ledger_partition, shard_partition

RPM_PREFIX = "rpm_"
# A claim turns the hold into its call record with the record's own expiry; this TTL of a hold is only a
# backstop far behind the sweep.
HOLD_TTL_AFTER_EXPIRY_SECONDS = 7 * 86_400
CALL_PREFIX = "CALL#"
LEGACY_HOLD_PREFIX = "HOLD#"
# The ``state`` of an item that is still a hold; a call record has no ``state``.
HELD = "held"


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _int(item: Mapping[str, Any], name: str, default: int = 0) -> int:
    value = item.get(name)
    return int(value["N"]) if value is not None and "N" in value else default


def _text(item: Mapping[str, Any], name: str) -> str:
    return str(item.get(name, {}).get("S", ""))


def _key(tenant_id: str, sort_key: str, shard: int | None = None) -> dict[str, Any]:
    """The item's key: a shard, and the holds and call records of a shard (``shard``), in the
    shard's own partition; a user item in the user's; the head in the tenant's (core/periods.py)."""
    partition = (
        shard_partition(tenant_id, shard) if shard is not None else ledger_partition(tenant_id, sort_key)
    )
    return {"pk": {"S": partition}, "sk": {"S": sort_key}}


@dataclass(frozen=True)
class Reservation:
    tenant_id: str
    period_key: str
    request_id: str
    # The limit enforced (the head's, which can differ from the request's cached tenant config).
    limit_nanos: int
    nanos: int
    # The worst case's tokens, taken from the shard's tokens_available whether or not a limit applies.
    tokens: int
    expires: int
    # The shard's available_nanos right after this reservation: the tenant's remaining budget for a
    # one-shard tenant, a lower bound of it otherwise (GET /v1/budget sums every shard).
    available_after: int
    shard: int = 0
    # The end user whose per-user budget holds ``nanos`` too; None when no per-user limit applied.
    user: str | None = None
    # The user item's available_nanos right after this reservation (None without a per-user limit).
    user_available_after: int | None = None
    # rpm_ counters of past minutes seen on the shard: removed for free by the settle/release write.
    stale_minute_attributes: tuple[str, ...] = ()
    # When the worst case was taken (epoch ms): the start of the hours the call may be billed in.
    reserved_at_ms: int = 0
    # Shadow mode: the code of the limit that would have denied the request (taken anyway), else None.
    would_deny: str | None = None


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


# -- the hold: one in-flight reservation ------------------------------------------------------------


@dataclass(frozen=True)
class Hold:
    """What a hold item stores: enough for the sweep to charge it at its worst case, with the call
    record as far as it was known at reserve. Text fields are "" when unknown (and then not written)."""

    period_key: str
    request_id: str
    shard: int
    nanos: int
    tokens: int
    input_tokens: int
    output_tokens: int
    expires: int
    reserved_at_ms: int
    # The user whose per-user budget holds ``nanos`` (Reservation.user).
    user: str | None = None
    principal: str = ""
    api_key_id: str = ""
    model: str = ""
    model_id: str = ""
    # The call record's user (there may be one without a per-user budget).
    call_user: str = ""

    @classmethod
    def of(cls, reservation: Reservation, worst: WorstCase, record: CallRecord | None) -> Hold:
        """The hold of ``reservation`` (taken at its ``reserved_at_ms``), with its worst case and ``record`` (the call
        record as far as it is known before the call: the sweep writes it if this request never settles)."""
        fields: dict[str, Any] = {name: getattr(reservation, name) for name in _FROM_RESERVATION}
        if record is not None:
            fields |= {
                name: getattr(record, name) for name in ("principal", "api_key_id", "model", "model_id")
            }
            fields["call_user"] = record.user or ""
        return cls(
            input_tokens=worst.input_tokens,
            output_tokens=worst.output_tokens,
            reserved_at_ms=reservation.reserved_at_ms,
            **fields,
        )

    def worst_case_record(self, application_id: str, cost_center: str, environment: str) -> CallRecord:
        """The call record of a hold that never settled: charged at its worst case, ``estimated``."""
        return CallRecord(
            request_id=self.request_id,
            timestamp=utc_timestamp(self.reserved_at_ms / 1000),
            principal=self.principal,
            api_key_id=self.api_key_id,
            user=self.call_user or self.user or None,
            model=self.model,
            model_id=self.model_id,
            application_id=application_id,
            cost_center=cost_center,
            environment=environment,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cost_nanos=self.nanos,
            estimated=True,
        )


# Hold fields that are the reservation's own.
_FROM_RESERVATION = ("period_key", "request_id", "shard", "nanos", "tokens", "expires", "user")
# Hold fields and the attributes they are written to: counts always, texts only when not "".
_HOLD_COUNTS = (
    ("shard", "shard"),
    ("nanos", "nanos"),
    ("tokens", "tokens"),
    ("input_tokens", "input_tokens"),
    ("output_tokens", "output_tokens"),
    ("expires", "expires"),
    ("reserved_at_ms", "reserved_at"),
)
_HOLD_TEXTS = ("principal", "api_key_id", "model", "model_id", "call_user")


def call_sort_key(timestamp: str, request_id: str) -> str:
    """``CALL#<ISO-8601 UTC>#<requestId>``: a request's one item, a hold and then its call record, keyed
    by the time its worst case was taken (so the sweep finds holds by a range of time, sweep.py)."""
    return f"{CALL_PREFIX}{timestamp}#{request_id}"


def reserved_sort_key(request_id: str, reserved_at_ms: int) -> str:
    """The sort key of the hold of the reservation taken at ``reserved_at_ms`` (its call record's too)."""
    return call_sort_key(utc_timestamp(reserved_at_ms / 1000), request_id)


def is_hold(item: Mapping[str, Any]) -> bool:
    """A hold not yet claimed (in the layout before this one too): never read as a call record."""
    return _text(item, "state") == HELD


def is_call_record(item: Mapping[str, Any]) -> bool:
    return item["sk"]["S"].startswith(CALL_PREFIX) and not is_hold(item)


def hold_item(tenant_id: str, hold: Hold) -> dict[str, Any]:
    item: dict[str, Any] = {
        **_key(tenant_id, reserved_sort_key(hold.request_id, hold.reserved_at_ms), hold.shard),
        "state": {"S": HELD},
        # The call record's attribute of the same name and value: the key no longer names the period.
        "period": {"S": hold.period_key},
        **{attribute: _n(getattr(hold, name)) for name, attribute in _HOLD_COUNTS},
        "expires_at": _n(hold.expires + HOLD_TTL_AFTER_EXPIRY_SECONDS),
    }
    if hold.user is not None:
        item["user"] = {"S": hold.user}
    item |= {name: {"S": getattr(hold, name)} for name in _HOLD_TEXTS if getattr(hold, name)}
    return item


def read_hold(item: Mapping[str, Any]) -> Hold:
    """The inverse of ``hold_item``: read_hold(hold_item(tenant, hold)) == hold. A hold of the layout
    before (``HOLD#<p>#<requestId>``) names its period in its key."""
    _, label, request_id = item["sk"]["S"].split("#", 2)
    fields: dict[str, Any] = {name: _int(item, attribute) for name, attribute in _HOLD_COUNTS}
    fields |= {name: _text(item, name) for name in _HOLD_TEXTS}
    user = item["user"]["S"] if "user" in item else None
    period = _text(item, "period") or f"PERIOD#{label}"
    return Hold(period_key=period, request_id=request_id, user=user, **fields)


# Every attribute a hold item may have (hold_item): a claim removes those its call record does not have.
HOLD_ATTRIBUTES = frozenset(
    {"state", "period", "expires_at", "user", *(attribute for _, attribute in _HOLD_COUNTS), *_HOLD_TEXTS}
)


# -- the call record --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredCall:
    """A call record where it is stored: the shard's partition (the tenant is written out, as readers
    cannot take it from the key), its period, the shard it charged, and when it expires."""

    record: CallRecord
    tenant_id: str
    period_key: str
    shard: int
    expires_at: int
    # The window the call may have been billed in (epoch ms; 0: unknown): from its reservation to its
    # settle (or its hold's expiry, for a swept call). The credit matches CUR over every hour of it.
    reserved_at_ms: int = 0
    ended_at_ms: int = 0


# CallRecord fields and the attributes they are written to (texts, then counts), always written.
_CALL_TEXTS = (
    ("request_id", "requestId"),
    ("principal", "principal"),
    ("api_key_id", "apiKeyId"),
    ("model", "model"),
    ("model_id", "modelId"),
    ("application_id", "applicationId"),
    ("cost_center", "costCenter"),
    ("environment", "environment"),
)
_CALL_COUNTS = ("input_tokens", "output_tokens", "cost_nanos")


def call_item(call: StoredCall) -> dict[str, Any]:
    record = call.record
    item: dict[str, Any] = {
        **_key(call.tenant_id, call_sort_key(record.timestamp, record.request_id), call.shard),
        # The partition is the shard's: readers take the tenant from here.
        "tenant": {"S": call.tenant_id},
        **{attribute: {"S": getattr(record, name)} for name, attribute in _CALL_TEXTS},
        **{name: _n(getattr(record, name)) for name in _CALL_COUNTS},
        "period": {"S": call.period_key},
        # The shard that was charged: a credit of a proven overcharge goes back to it.
        "shard": _n(call.shard),
        "expires_at": _n(call.expires_at),
    }
    if record.user:
        item["user"] = {"S": record.user}
    if record.estimated:
        item["estimated"] = {"BOOL": True}
    if call.reserved_at_ms:
        item["reserved_at"] = _n(call.reserved_at_ms)
    if call.ended_at_ms:
        item["ended_at"] = _n(call.ended_at_ms)
    return item


def read_call_item(item: Mapping[str, Any]) -> StoredCall:
    """The inverse of ``call_item`` (a user of "" is not written, so it reads back as None)."""
    fields: dict[str, Any] = {name: _text(item, attribute) for name, attribute in _CALL_TEXTS}
    fields |= {name: _int(item, name) for name in _CALL_COUNTS}
    record = CallRecord(
        timestamp=item["sk"]["S"].split("#", 2)[1],
        user=_text(item, "user") or None,
        estimated=bool(item.get("estimated", {}).get("BOOL", False)),
        **fields,
    )
    return StoredCall(
        record=record,
        tenant_id=_text(item, "tenant"),
        period_key=_text(item, "period"),
        shard=_int(item, "shard"),
        expires_at=_int(item, "expires_at"),
        reserved_at_ms=_int(item, "reserved_at"),
        ended_at_ms=_int(item, "ended_at"),
    )


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


def read_tenant_calls(dynamodb_client: Any, table: str, tenant_id: str) -> list[dict[str, Any]]:
    """The tenant's call records (its ``CALL#`` items that are no longer holds): read_tenant_items' use."""
    return [
        item
        for item in read_tenant_items(dynamodb_client, table, tenant_id, CALL_PREFIX)
        if not is_hold(item)
    ]


def read_tenant_holds(dynamodb_client: Any, table: str, tenant_id: str) -> list[dict[str, Any]]:
    """The tenant's holds not yet claimed (of the layout before this one too): read_tenant_items' use."""
    items = read_tenant_items(dynamodb_client, table, tenant_id, CALL_PREFIX)
    items += read_tenant_items(dynamodb_client, table, tenant_id, LEGACY_HOLD_PREFIX)
    return [item for item in items if is_hold(item)]


def utc_timestamp(epoch_seconds: float) -> str:
    """ISO 8601 UTC with milliseconds and Z, sortable as text (the call records' sort key)."""
    moment = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
