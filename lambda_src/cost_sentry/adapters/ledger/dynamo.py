"""The ledger's DynamoDB plumbing: one call sent with bounded retries, its failures classified, the batch
get, and the small builder every update expression of the ledger is written with.

The write discipline lives here, and only here: a failed condition is ``_ConditionFailed`` (the caller
decides what it means); a refusal DynamoDB guarantees it did not apply (throttling, conflicts) is resent
with full jitter; an ambiguous failure (timeout, 5xx) is resent only for an idempotent write, never for a
counter: a counter applied twice could let spend past the limit. Nothing here knows what an item means.

The client is injected; botocore is imported only here, inside functions, to recognise its errors.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cost_sentry.adapters.ledger.items import _n
from cost_sentry.core.errors import ServiceUnavailable
from cost_sentry.core.log import JsonLogger

# Writes DynamoDB guarantees it did not apply are retried, with full jitter, this many times in all.
MAX_WRITE_ATTEMPTS = 4
RETRY_BASE_SECONDS = 0.02
RETRY_CAP_SECONDS = 0.5

# Errors with which DynamoDB refused a write without applying it (safe to send again).
_NOT_APPLIED = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TransactionConflictException",
    "TransactionInProgressException",
}
_NOT_APPLIED_REASONS = {"None", "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
_TOKEN_NAMESPACE = uuid.UUID("5b0e7a52-8d6c-4d1e-9a43-0d6f1c2b7e11")


def request_token(seed: str) -> str:
    """A transaction's ClientRequestToken, the same for the same ``seed``: DynamoDB applies a resent
    transaction once (within its ten-minute window)."""
    return str(uuid.uuid5(_TOKEN_NAMESPACE, seed))


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


_PLACEHOLDER = re.compile(r"#(\w+)")


class Update:
    """One item's update and its condition, built a clause at a time.

    Attribute ``x`` is always the placeholder ``#x`` (so a condition names it as ``#x``); each distinct
    value gets one ``:v<k>``; a condition takes its values in ``{}`` slots, in order. Clauses are written
    SET, ADD, REMOVE; conditions are joined by AND, in the order given (write an OR in parentheses).
    ``request()`` is the keyword arguments of an UpdateItem, ``transact()`` an Update entry of a
    TransactWriteItems; names and values appear only when used (DynamoDB refuses unused ones).
    """

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._values: dict[str, Any] = {}
        self._slots: dict[str, str] = {}
        self._clauses: dict[str, list[str]] = {"SET": [], "ADD": [], "REMOVE": []}
        self._conditions: list[str] = []

    def _name(self, attribute: str) -> str:
        placeholder = f"#{attribute}"
        self._names[placeholder] = attribute
        return placeholder

    def _value(self, value: int | Mapping[str, Any]) -> str:
        encoded = _n(value) if isinstance(value, int) else value
        text = json.dumps(encoded, sort_keys=True, default=str)
        if text not in self._slots:
            self._slots[text] = placeholder = f":v{len(self._slots)}"
            self._values[placeholder] = encoded
        return self._slots[text]

    def set(self, name: str, value: int | Mapping[str, Any]) -> Update:
        self._clauses["SET"].append(f"{self._name(name)} = {self._value(value)}")
        return self

    def set_if_not_exists(self, name: str, value: int) -> Update:
        attribute = self._name(name)
        self._clauses["SET"].append(f"{attribute} = if_not_exists({attribute}, {self._value(value)})")
        return self

    def set_plus(self, name: str, amount: int, *, start: int | None = None) -> Update:
        """SET arithmetic: unlike ADD, a missing attribute fails the write unless ``start`` is given."""
        return self._arithmetic(name, "+", amount, start)

    def set_minus(self, name: str, amount: int, *, start: int | None = None) -> Update:
        return self._arithmetic(name, "-", amount, start)

    def _arithmetic(self, name: str, sign: str, amount: int, start: int | None) -> Update:
        attribute = self._name(name)
        base = attribute if start is None else f"if_not_exists({attribute}, {self._value(start)})"
        self._clauses["SET"].append(f"{attribute} = {base} {sign} {self._value(amount)}")
        return self

    def add(self, name: str, amount: int) -> Update:
        self._clauses["ADD"].append(f"{self._name(name)} {self._value(amount)}")
        return self

    def remove(self, name: str) -> Update:
        self._clauses["REMOVE"].append(self._name(name))
        return self

    def condition(self, text: str, *values: int | Mapping[str, Any]) -> Update:
        for attribute in _PLACEHOLDER.findall(text):
            self._name(attribute)
        self._conditions.append(text.format(*(self._value(value) for value in values)))
        return self

    def request(self) -> dict[str, Any]:
        clauses = [f"{verb} {', '.join(parts)}" for verb, parts in self._clauses.items() if parts]
        request: dict[str, Any] = {"UpdateExpression": " ".join(clauses)}
        if self._conditions:
            request["ConditionExpression"] = " AND ".join(self._conditions)
        if self._names:
            request["ExpressionAttributeNames"] = dict(self._names)
        if self._values:
            request["ExpressionAttributeValues"] = dict(self._values)
        return request

    def transact(self, table: str, key: Mapping[str, Any]) -> dict[str, Any]:
        return {"Update": {"TableName": table, "Key": key, **self.request()}}


@dataclass
class Dynamo:
    """The ledger table behind its client, with what is injected into every room: the clock, the one
    source of randomness (the retries' jitter and the shard draws: a seeded run repeats), the logger."""

    client: Any
    table: str
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    random: random.Random
    logger: JsonLogger

    def send(self, operation: str, *, idempotent: bool = False, **request: Any) -> dict[str, Any]:
        """One DynamoDB call. Refusals DynamoDB guarantees were not applied (throttling, conflicts) are
        retried with full jitter; an ambiguous failure (timeout, 5xx) is resent only when the write is
        idempotent, never for a counter: a counter applied twice could let spend past the limit."""
        from botocore.exceptions import BotoCoreError, ClientError

        call = getattr(self.client, operation)
        for attempt in range(MAX_WRITE_ATTEMPTS):
            try:
                if operation not in {"transact_write_items", "transact_get_items", "batch_get_item"}:
                    request.setdefault("TableName", self.table)
                response: dict[str, Any] = call(**request)
                return response
            except (BotoCoreError, ClientError) as exc:
                kind = _classify(exc)
                if kind == "condition":
                    item = exc.response.get("Item") if isinstance(exc, ClientError) else None
                    raise _ConditionFailed(item) from exc
                retriable = kind == "not_applied" or idempotent
                if not retriable or attempt == MAX_WRITE_ATTEMPTS - 1:
                    self.logger.warning(
                        "ledger_write_failed",
                        operation=operation,
                        kind=kind,
                        attempts=attempt + 1,
                        error=str(exc),
                    )
                    raise LedgerWriteFailed(ambiguous=kind == "ambiguous") from exc
                self.pause(attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def update(self, key: Mapping[str, Any], update: Update, **extra: Any) -> dict[str, Any]:
        """One UpdateItem of ``update`` on the item ``key`` (``extra``: ReturnValues and the like)."""
        return self.send("update_item", Key=key, **update.request(), **extra)

    def get_together(self, keys: list[dict[str, Any]]) -> dict[str, Mapping[str, Any]]:
        """One TransactGetItems (at most 100 keys): the items as of one moment, serialized with every
        transaction, by sort key. A conflict with a transaction in progress is retried with jitter."""
        if len(keys) > 100:
            raise ValueError("a serializable read takes at most 100 items")
        response = self.send(
            "transact_get_items",
            idempotent=True,
            TransactItems=[{"Get": {"TableName": self.table, "Key": key}} for key in keys],
        )
        found: dict[str, Mapping[str, Any]] = {}
        for entry in response.get("Responses", []):
            item = entry.get("Item")
            if item:
                found[item["sk"]["S"]] = item
        return found

    def pause(self, attempt: int) -> None:
        """A full-jitter wait, growing with ``attempt``: between retries and between refill rounds."""
        cap = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2**attempt)
        self.sleep(self.random.uniform(0, cap))
