"""The DynamoDB ledger (docs/design.md section 4): reserve, settle, release, reclaim.

Every limit is enforced by one conditional UpdateItem (the reservation); settling is one
TransactWriteItems (counter + call record). The client is injected; botocore is imported only here,
inside functions, to recognise its errors.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from cost_sentry.core.errors import LimitExceeded, ServiceUnavailable
from cost_sentry.core.estimate import WorstCase
from cost_sentry.core.money import nanos_to_usd
from cost_sentry.core.periods import (
    Hold,
    minute_key,
    period_key,
    retry_after_for_shortfall,
    seconds_to_next_minute,
    seconds_to_period_end,
)
from cost_sentry.core.tenants import TenantConfig

HOLD_PREFIX = "hold_"
RPM_PREFIX = "rpm_"
_TOKEN_NAMESPACE = uuid.UUID("5b0e7a52-8d6c-4d1e-9a43-0d6f1c2b7e11")


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _int(item: Mapping[str, Any], name: str, default: int = 0) -> int:
    value = item.get(name)
    return int(value["N"]) if value is not None else default


def holds_in(item: Mapping[str, Any]) -> list[Hold]:
    holds = []
    for name, value in item.items():
        if name.startswith(HOLD_PREFIX):
            fields = value["M"]
            holds.append(
                Hold(
                    request_id=name.removeprefix(HOLD_PREFIX),
                    nanos=_int(fields, "nanos"),
                    tokens=_int(fields, "tokens"),
                    expires=_int(fields, "expires"),
                )
            )
    return holds


@dataclass(frozen=True)
class Reservation:
    tenant_id: str
    period_key: str
    request_id: str
    # The limit enforced (it can differ from the request's tenant config after a reload).
    limit_nanos: int
    nanos: int
    # Only counted when the tenant has a token limit; 0 otherwise.
    tokens: int
    expires: int
    # available_nanos right after this reservation (for the response's remaining budget).
    available_after: int
    # rpm_ counters of past minutes seen in the item: removed for free by the settle/release write,
    # which keeps the period item far below DynamoDB's 400 KB item limit.
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
    # True when the hold had already been reclaimed and the spend was recorded without it.
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


def _is_conditional_failure(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in {
        "ConditionalCheckFailedException",
    }


@contextmanager
def _ledger_errors() -> Iterator[None]:
    """Any AWS failure other than a condition becomes 503: nothing may be served unaccounted."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        if _is_conditional_failure(exc):
            raise
        raise ServiceUnavailable(
            "ledger_unavailable", "the budget ledger cannot be reached; retry shortly"
        ) from exc


class Ledger:
    def __init__(
        self,
        dynamodb_client: Any,
        table_name: str,
        *,
        hold_lifetime_seconds: int,
        call_record_retention_days: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = dynamodb_client
        self._table = table_name
        self._hold_lifetime = hold_lifetime_seconds
        self._retention_seconds = call_record_retention_days * 86_400
        self._clock = clock

    # -- reserve ---------------------------------------------------------------------------------

    def reserve(
        self,
        tenant: TenantConfig,
        request_id: str,
        worst: WorstCase,
        reload_tenant: Callable[[str], TenantConfig | None] | None = None,
    ) -> Reservation:
        """Hold the request's worst case, or raise LimitExceeded (429) saying which limit and when.

        ``reload_tenant`` re-reads the tenant's config when the ledger's limit differs from it: the
        budget sync moves the ledger after writing the new limit, so a differing ledger usually means
        this container's cached config is stale, and must not be "corrected" back to the old limit.
        """
        now = self._clock()
        key = period_key(tenant.budget_period, now)
        token_limited = tenant.tokens_per_period is not None
        tokens = worst.tokens if token_limited else 0
        if worst.cost_nanos > tenant.budget_limit_nanos:
            raise LimitExceeded(
                "budget_exhausted",
                f"this request may cost up to USD {nanos_to_usd(worst.cost_nanos)}, more than the whole "
                f"{tenant.budget_period.lower()} budget of USD {nanos_to_usd(tenant.budget_limit_nanos)}; "
                "lower max_tokens or shorten the prompt",
                retry_after_seconds=seconds_to_period_end(tenant.budget_period, now),
            )
        if tenant.tokens_per_period is not None and tokens > tenant.tokens_per_period:
            raise LimitExceeded(
                "token_limit",
                f"this request may use up to {tokens} tokens, more than the whole period's "
                f"{tenant.tokens_per_period}; lower max_tokens or shorten the prompt",
                retry_after_seconds=seconds_to_period_end(tenant.budget_period, now),
            )
        rebased = reclaimed = False
        while True:
            now = self._clock()
            try:
                with _ledger_errors():
                    return self._try_reserve(tenant, key, request_id, worst.cost_nanos, tokens, now)
            except Exception as exc:
                if not _is_conditional_failure(exc):
                    raise
                old = exc.response.get("Item", {})  # type: ignore[attr-defined]
            if not rebased and self._limits_changed(tenant, old):
                rebased = True
                fresh = reload_tenant(tenant.tenant_id) if reload_tenant else None
                if fresh is not None and not self._limits_changed(fresh, old):
                    tenant = fresh
                else:
                    tenant = fresh or tenant
                    self._rebase_limits(tenant, key, old)
                continue
            if not reclaimed:
                reclaimed = True
                if self.reclaim_expired(tenant.tenant_id, key, old, now) > 0:
                    continue
            raise self._denial(tenant, old, worst.cost_nanos, tokens, now)

    def _try_reserve(
        self, tenant: TenantConfig, key: str, request_id: str, cost: int, tokens: int, now: float
    ) -> Reservation:
        expires = int(now) + self._hold_lifetime
        names = {
            "#avail": "available_nanos",
            "#limit": "limit_nanos",
            "#hold": HOLD_PREFIX + request_id,
            "#blocked": "blocked",
        }
        values: dict[str, Any] = {
            ":limit": _n(tenant.budget_limit_nanos),
            ":cost": _n(cost),
            ":hold": {"M": {"nanos": _n(cost), "tokens": _n(tokens), "expires": _n(expires)}},
        }
        updates = [
            "#avail = if_not_exists(#avail, :limit) - :cost",
            "#limit = if_not_exists(#limit, :limit)",
            "#hold = :hold",
        ]
        conditions = [
            "attribute_not_exists(#blocked)",
            "(attribute_not_exists(#limit) OR #limit = :limit)",
            "(attribute_not_exists(#avail) OR #avail >= :cost)",
        ]
        if tenant.tokens_per_period is not None:
            names |= {"#tokens": "tokens_available", "#tlimit": "token_limit"}
            values |= {":tlimit": _n(tenant.tokens_per_period), ":tokens": _n(tokens)}
            updates += [
                "#tokens = if_not_exists(#tokens, :tlimit) - :tokens",
                "#tlimit = if_not_exists(#tlimit, :tlimit)",
            ]
            conditions += [
                "(attribute_not_exists(#tlimit) OR #tlimit = :tlimit)",
                "(attribute_not_exists(#tokens) OR #tokens >= :tokens)",
            ]
        minute = minute_key(now)
        if tenant.requests_per_minute is not None:
            names["#rpm"] = minute
            values |= {":rpm": _n(tenant.requests_per_minute), ":zero": _n(0), ":one": _n(1)}
            updates.append("#rpm = if_not_exists(#rpm, :zero) + :one")
            conditions.append("(attribute_not_exists(#rpm) OR #rpm < :rpm)")
        response = self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": tenant.tenant_id}, "sk": {"S": key}},
            UpdateExpression="SET " + ", ".join(updates),
            ConditionExpression=" AND ".join(conditions),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        new = response.get("Attributes", {})
        stale = tuple(sorted(name for name in new if name.startswith(RPM_PREFIX) and name < minute))
        return Reservation(
            tenant_id=tenant.tenant_id,
            period_key=key,
            request_id=request_id,
            limit_nanos=tenant.budget_limit_nanos,
            nanos=cost,
            tokens=tokens,
            expires=expires,
            available_after=_int(new, "available_nanos"),
            stale_minute_attributes=stale,
        )

    @staticmethod
    def _limits_changed(tenant: TenantConfig, old: Mapping[str, Any]) -> bool:
        if "limit_nanos" in old and _int(old, "limit_nanos") != tenant.budget_limit_nanos:
            return True
        return (
            tenant.tokens_per_period is not None
            and "token_limit" in old
            and _int(old, "token_limit") != tenant.tokens_per_period
        )

    def _rebase_limits(self, tenant: TenantConfig, key: str, old: Mapping[str, Any]) -> None:
        """The budget changed mid-period (console-managed budget, new tfvars): move available by the
        difference, once, conditional on the old limit so concurrent requests cannot apply it twice."""
        names = {"#limit": "limit_nanos", "#avail": "available_nanos"}
        values: dict[str, Any] = {
            ":old": old["limit_nanos"],
            ":new": _n(tenant.budget_limit_nanos),
            ":delta": _n(tenant.budget_limit_nanos - _int(old, "limit_nanos")),
        }
        updates = ["#limit = :new"]
        adds = ["#avail :delta"]
        conditions = ["#limit = :old"]
        if tenant.tokens_per_period is not None and "token_limit" in old:
            names |= {"#tlimit": "token_limit", "#tokens": "tokens_available"}
            values |= {
                ":told": old["token_limit"],
                ":tnew": _n(tenant.tokens_per_period),
                ":tdelta": _n(tenant.tokens_per_period - _int(old, "token_limit")),
            }
            updates.append("#tlimit = :tnew")
            adds.append("#tokens :tdelta")
            conditions.append("#tlimit = :told")
        try:
            with _ledger_errors():
                self._client.update_item(
                    TableName=self._table,
                    Key={"pk": {"S": tenant.tenant_id}, "sk": {"S": key}},
                    UpdateExpression="SET " + ", ".join(updates) + " ADD " + ", ".join(adds),
                    ConditionExpression=" AND ".join(conditions),
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise
            # Another request rebased first; the retry sees the new limit.

    def _denial(
        self, tenant: TenantConfig, old: Mapping[str, Any], cost: int, tokens: int, now: float
    ) -> LimitExceeded:
        period = tenant.budget_period
        if "blocked" in old:
            return LimitExceeded(
                "tenant_blocked",
                f"tenant {tenant.tenant_id} is blocked for this period (its budget alert fired)",
                retry_after_seconds=seconds_to_period_end(period, now),
            )
        if (
            tenant.requests_per_minute is not None
            and _int(old, minute_key(now)) >= tenant.requests_per_minute
        ):
            return LimitExceeded(
                "rate_limited",
                f"{tenant.requests_per_minute} requests per minute reached",
                retry_after_seconds=seconds_to_next_minute(now),
            )
        live_holds = [hold for hold in holds_in(old) if hold.expires > now]
        available = _int(old, "available_nanos", tenant.budget_limit_nanos)
        if available < cost:
            return LimitExceeded(
                "budget_exhausted",
                f"the {period.lower()} budget of USD {nanos_to_usd(tenant.budget_limit_nanos)} has USD "
                f"{nanos_to_usd(max(available, 0))} left; this request may cost up to "
                f"USD {nanos_to_usd(cost)}",
                retry_after_seconds=retry_after_for_shortfall(
                    needed=cost,
                    available=available,
                    holds=live_holds,
                    amount_of="nanos",
                    budget_period=period,
                    now=now,
                ),
            )
        tokens_available = _int(old, "tokens_available", tenant.tokens_per_period or 0)
        return LimitExceeded(
            "token_limit",
            f"the period's token limit of {tenant.tokens_per_period} has {max(tokens_available, 0)} "
            f"tokens left; this request may use up to {tokens}",
            retry_after_seconds=retry_after_for_shortfall(
                needed=tokens,
                available=tokens_available,
                holds=live_holds,
                amount_of="tokens",
                budget_period=period,
                now=now,
            ),
        )

    # -- reclaim ---------------------------------------------------------------------------------

    def reclaim_expired(self, tenant_id: str, key: str, image: Mapping[str, Any], now: float) -> int:
        """Give back holds whose request must have died (past their expiry); returns how many."""
        reclaimed = 0
        for hold in holds_in(image):
            if hold.expires > now:
                continue
            if self._give_back(tenant_id, key, hold.request_id, hold.nanos, hold.tokens, ()):
                reclaimed += 1
        return reclaimed

    def _give_back(
        self, tenant_id: str, key: str, request_id: str, nanos: int, tokens: int, stale: tuple[str, ...]
    ) -> bool:
        names = {"#avail": "available_nanos", "#hold": HOLD_PREFIX + request_id}
        values: dict[str, Any] = {":nanos": _n(nanos)}
        adds = ["#avail :nanos"]
        if tokens:
            names["#tokens"] = "tokens_available"
            values[":tokens"] = _n(tokens)
            adds.append("#tokens :tokens")
        removes = ["#hold"]
        for index, name in enumerate(stale):
            names[f"#stale{index}"] = name
            removes.append(f"#stale{index}")
        try:
            with _ledger_errors():
                self._client.update_item(
                    TableName=self._table,
                    Key={"pk": {"S": tenant_id}, "sk": {"S": key}},
                    UpdateExpression="ADD " + ", ".join(adds) + " REMOVE " + ", ".join(removes),
                    ConditionExpression="attribute_exists(#hold)",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return False  # already settled, released or reclaimed: exactly one give-back wins
            raise
        return True

    # -- release / settle ------------------------------------------------------------------------

    def release(self, reservation: Reservation) -> bool:
        """Give the whole hold back (the call failed). False if it was already gone."""
        return self._give_back(
            reservation.tenant_id,
            reservation.period_key,
            reservation.request_id,
            reservation.nanos,
            reservation.tokens,
            reservation.stale_minute_attributes,
        )

    def settle(self, reservation: Reservation, record: CallRecord) -> SettleResult:
        """Record the actual spend and the call record in one transaction, returning the unused hold.

        Actual above the reservation is settled as it is (available goes down by the difference): the
        truth is never capped. If the hold was reclaimed meanwhile, the spend is still recorded.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._settle(reservation, record, with_hold=True)
            return SettleResult(hold_was_reclaimed=False)
        except (BotoCoreError, ClientError) as exc:
            if not _is_cancelled_by_condition(exc):
                raise ServiceUnavailable("ledger_unavailable", "the ledger cannot be reached") from exc
        with _ledger_errors():
            self._settle(reservation, record, with_hold=False)
        return SettleResult(hold_was_reclaimed=True)

    def charge_worst_case(self, reservation: Reservation, record: CallRecord) -> SettleResult:
        """The call may have been billed but its usage is unknown: charge the whole reservation, marked
        estimated (core/outcomes.py). The reconciliation credit gives back what CUR proves unbilled."""
        return self.settle(reservation, replace(record, cost_nanos=reservation.nanos, estimated=True))

    def _settle(self, reservation: Reservation, record: CallRecord, *, with_hold: bool) -> None:
        actual_tokens = record.input_tokens + record.output_tokens
        names = {"#avail": "available_nanos"}
        # With the hold: give back reserved - actual. Without (it was reclaimed, its amount already
        # returned to available): take the actual cost from available.
        give_back = reservation.nanos - record.cost_nanos if with_hold else -record.cost_nanos
        values: dict[str, Any] = {
            ":give_back": _n(give_back),
            ":cost": _n(record.cost_nanos),
            ":one": _n(1),
            ":in": _n(record.input_tokens),
            ":out": _n(record.output_tokens),
        }
        adds = [
            "#avail :give_back",
            "spent_nanos :cost",
            "requests :one",
            "input_tokens :in",
            "output_tokens :out",
        ]
        if reservation.tokens:
            names["#tokens"] = "tokens_available"
            values[":token_give_back"] = _n((reservation.tokens if with_hold else 0) - actual_tokens)
            adds.append("#tokens :token_give_back")
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"pk": {"S": reservation.tenant_id}, "sk": {"S": reservation.period_key}},
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        expression = "ADD " + ", ".join(adds)
        if with_hold:
            names["#hold"] = HOLD_PREFIX + reservation.request_id
            removes = ["#hold"]
            for index, name in enumerate(reservation.stale_minute_attributes):
                names[f"#stale{index}"] = name
                removes.append(f"#stale{index}")
            expression += " REMOVE " + ", ".join(removes)
            update["ConditionExpression"] = "attribute_exists(#hold)"
        update["UpdateExpression"] = expression
        token_seed = f"{reservation.tenant_id}/{reservation.request_id}/{'hold' if with_hold else 'nohold'}"
        self._client.transact_write_items(
            TransactItems=[
                {"Update": update},
                {"Put": {"TableName": self._table, "Item": self._call_item(record, reservation)}},
            ],
            # Idempotent under the SDK's retries: a retried settle cannot count twice.
            ClientRequestToken=str(uuid.uuid5(_TOKEN_NAMESPACE, token_seed)),
        )

    def _call_item(self, record: CallRecord, reservation: Reservation) -> dict[str, Any]:
        item: dict[str, Any] = {
            "pk": {"S": reservation.tenant_id},
            "sk": {"S": f"CALL#{record.timestamp}#{record.request_id}"},
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
            "period": {"S": reservation.period_key},
            "expires_at": _n(int(self._clock()) + self._retention_seconds),
        }
        if record.user:
            item["user"] = {"S": record.user}
        if record.estimated:
            item["estimated"] = {"BOOL": True}
        return item

    # -- credit ----------------------------------------------------------------------------------

    def credit_overcharge(
        self,
        tenant_id: str,
        period_key: str,
        call_sort_key: str,
        request_id: str,
        nanos: int,
        evidence: Mapping[str, str],
    ) -> bool:
        """Give back a proven overcharge of one estimated call, once (scripts/cli/reports credit).

        One transaction: the credit item ``CREDIT#<requestId>`` (conditional on not existing, so a
        second run credits nothing), ``credited_nanos`` on the call record, and the period counter
        (spent down, available up by the same nanos). False when the call was already credited.
        """
        from botocore.exceptions import ClientError

        if nanos <= 0:
            raise ValueError("a credit must be a positive number of nano-dollars")
        key = {"pk": {"S": tenant_id}}
        item: dict[str, Any] = {
            **key,
            "sk": {"S": f"CREDIT#{request_id}"},
            "requestId": {"S": request_id},
            "callSk": {"S": call_sort_key},
            "period": {"S": period_key},
            "credited_nanos": _n(nanos),
            "creditedAt": {"S": utc_timestamp(self._clock())},
            **{name: {"S": value} for name, value in evidence.items()},
        }
        try:
            self._client.transact_write_items(
                TransactItems=[
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
                            "Key": {**key, "sk": {"S": call_sort_key}},
                            "UpdateExpression": "ADD credited_nanos :nanos",
                            "ConditionExpression": "attribute_exists(sk)",
                            "ExpressionAttributeValues": {":nanos": _n(nanos)},
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": {**key, "sk": {"S": period_key}},
                            "UpdateExpression": "ADD available_nanos :nanos, spent_nanos :minus",
                            "ConditionExpression": "attribute_exists(sk)",
                            "ExpressionAttributeValues": {":nanos": _n(nanos), ":minus": _n(-nanos)},
                        }
                    },
                ],
                # No ClientRequestToken: the conditional put is what makes a second run a no-op.
            )
        except ClientError as exc:
            if _first_cancellation_reason(exc) == "ConditionalCheckFailed":
                return False  # credited before: once, whatever runs again
            raise
        return True

    # -- read ------------------------------------------------------------------------------------

    def period_status(self, tenant: TenantConfig) -> PeriodStatus:
        now = self._clock()
        key = period_key(tenant.budget_period, now)
        with _ledger_errors():
            item = self._client.get_item(
                TableName=self._table,
                Key={"pk": {"S": tenant.tenant_id}, "sk": {"S": key}},
                ConsistentRead=True,
            ).get("Item", {})
        limit = tenant.budget_limit_nanos
        spent = _int(item, "spent_nanos")
        held = sum(hold.nanos for hold in holds_in(item))
        # The ledger's limit lags a changed budget until the next reservation rebases it.
        available = _int(item, "available_nanos", limit) + limit - _int(item, "limit_nanos", limit)
        return PeriodStatus(
            period_key=key,
            limit_nanos=limit,
            spent_nanos=spent,
            held_nanos=held,
            available_nanos=available,
            requests=_int(item, "requests"),
            input_tokens=_int(item, "input_tokens"),
            output_tokens=_int(item, "output_tokens"),
            tokens_available=None
            if tenant.tokens_per_period is None
            else _int(item, "tokens_available", tenant.tokens_per_period),
            blocked="blocked" in item,
        )


def _first_cancellation_reason(exc: Exception) -> str | None:
    """The reason code of a cancelled transaction's first item (DynamoDB lists one per item)."""
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return None
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    reasons = exc.response.get("CancellationReasons") or []
    if reasons:
        return reasons[0].get("Code")
    listed = str(exc).rpartition("[")[2].rstrip("]").split(",")  # "... reasons [A, None, None]"
    return listed[0].strip() or None


def _is_cancelled_by_condition(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return False
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return False
    reasons = exc.response.get("CancellationReasons") or []
    if reasons:
        return any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons)
    return "ConditionalCheckFailed" in str(exc)


def utc_timestamp(epoch_seconds: float) -> str:
    """ISO 8601 UTC with milliseconds and Z, sortable as text (the call records' sort key)."""
    moment = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
