"""An in-memory DynamoDB stand-in that enforces DynamoDB's per-item write throughput, for the ledger bench.

It answers the low-level client calls the ledger makes (GetItem, BatchGetItem, PutItem, UpdateItem,
DeleteItem, Query, TransactWriteItems) with the same shapes and errors as boto3, evaluating the expression grammar the
ledger uses (SET/ADD/REMOVE, ``if_not_exists``, ``attribute_(not_)exists``, comparisons, AND/OR, BETWEEN,
``begins_with``). Every write is charged by DynamoDB's sizing rules (cost_sentry.adapters.tables: 1 WCU
per started KB of the larger of the old and new item, twice inside a transaction, a failed condition
still charged) to a token bucket of ``item_wcu_per_second`` for that item, refilled continuously on the
simulation's clock; an empty bucket answers ``ProvisionedThroughputExceededException`` and applies
nothing, as DynamoDB does.

Partitions: DynamoDB caps a partition at 1,000 WCU/s and one item at 1,000 WCU/s; a partition key's
items start in one partition. ``partition_wcu_per_second`` caps each partition key's whole item
collection (the state before DynamoDB splits anything for heat); without it only the per-item limit
binds (each item its own partition).

Single-threaded: the bench's discrete-event simulation runs one ledger call at a time, which is also the
atomicity DynamoDB gives each item.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from cost_sentry.adapters.tables import item_size_bytes, write_units

Item = dict[str, Any]

_TOKEN = re.compile(r"\s*(?:(?P<op><>|<=|>=|=|<|>|\(|\)|,|\+|-)|(?P<word>[A-Za-z_#:][A-Za-z0-9_#:.]*))")


@functools.lru_cache(maxsize=4096)
def _tokens(expression: str) -> tuple[str, ...]:
    tokens, position = [], 0
    expression = expression.strip()
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        if match is None or match.end() == position:
            raise ValueError(f"cannot parse {expression[position:]!r}")
        tokens.append(match.group("op") or match.group("word"))
        position = match.end()
    return tuple(tokens)


class _Expression:
    """A parsed condition or update over one item, with the request's names and values."""

    def __init__(self, tokens: tuple[str, ...], names: dict[str, str], values: dict[str, Any]) -> None:
        self.tokens, self.names, self.values, self.at = tokens, names, values, 0

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.tokens[self.at]
        if expected is not None and token.upper() != expected:
            raise ValueError(f"expected {expected}, got {token}")
        self.at += 1
        return token

    def path(self, token: str) -> list[str]:
        return [self.names.get(part, part) for part in token.split(".")]

    # -- operands --

    def operand(self, item: Item) -> Any:
        word = self.take()
        if word.startswith(":"):
            return self.values[word]
        if word == "if_not_exists":
            self.take("(")
            current = _get(item, self.path(self.take()))
            self.take(",")
            default = self.operand(item)
            self.take(")")
            value = current if current is not None else default
        else:
            value = _get(item, self.path(word))
        if self.peek() in ("+", "-"):
            sign = self.take()
            other = self.operand(item)
            if value is None or other is None:
                raise _Invalid("an operand of + or - does not exist")
            total = _number(value) + (_number(other) if sign == "+" else -_number(other))
            return {"N": str(total)}
        return value

    # -- conditions --

    def condition(self, item: Item) -> bool:
        result = self.conjunction(item)
        while self.peek() is not None and self.peek().upper() == "OR":  # type: ignore[union-attr]
            self.take()
            right = self.conjunction(item)
            result = result or right
        return result

    def conjunction(self, item: Item) -> bool:
        result = self.primary(item)
        while self.peek() is not None and self.peek().upper() == "AND":  # type: ignore[union-attr]
            self.take()
            right = self.primary(item)
            result = result and right
        return result

    def primary(self, item: Item) -> bool:
        word = self.peek()
        if word == "(":
            self.take()
            result = self.condition(item)
            self.take(")")
            return result
        if word is not None and word.upper() == "NOT":
            self.take()
            return not self.primary(item)
        if word in ("attribute_exists", "attribute_not_exists"):
            self.take()
            self.take("(")
            exists = _get(item, self.path(self.take())) is not None
            self.take(")")
            return exists if word == "attribute_exists" else not exists
        if word == "begins_with":
            self.take()
            self.take("(")
            value = _get(item, self.path(self.take()))
            self.take(",")
            prefix = self.operand(item)
            self.take(")")
            return value is not None and value.get("S", "").startswith(prefix["S"])
        left = self.operand(item)
        operator = self.take()
        if operator.upper() == "BETWEEN":
            low = self.operand(item)
            self.take("AND")
            high = self.operand(item)
            return left is not None and _compare(low, "<=", left) and _compare(left, "<=", high)
        right = self.operand(item)
        if left is None or right is None:
            return operator == "<>" and (left is None) != (right is None)
        return _compare(left, operator, right)

    # -- updates --

    def update(self, item: Item) -> None:
        while self.peek() is not None:
            clause = self.take().upper()
            while self.peek() is not None and self.peek().upper() not in ("SET", "ADD", "REMOVE", "DELETE"):  # type: ignore[union-attr]
                target = self.path(self.take())
                if clause == "SET":
                    self.take("=")
                    _set(item, target, self.operand(item))
                elif clause == "ADD":
                    amount = self.operand(item)
                    current = _get(item, target)
                    base = _number(current) if current is not None else 0
                    _set(item, target, {"N": str(base + _number(amount))})
                elif clause == "REMOVE":
                    _remove(item, target)
                else:
                    raise ValueError(f"unsupported clause {clause}")
                if self.peek() == ",":
                    self.take()


class _Invalid(Exception):
    pass


def _number(value: Any) -> Decimal:
    return Decimal(value["N"])


def _compare(left: Any, operator: str, right: Any) -> bool:
    if "N" in left and "N" in right:
        a, b = _number(left), _number(right)
    else:
        a, b = left, right
        if operator not in ("=", "<>"):
            a, b = next(iter(left.values())), next(iter(right.values()))
    return {
        "=": lambda: a == b,
        "<>": lambda: a != b,
        "<": lambda: a < b,
        "<=": lambda: a <= b,
        ">": lambda: a > b,
        ">=": lambda: a >= b,
    }[operator]()


def _get(item: Item, path: list[str]) -> Any:
    value: Any = item.get(path[0])
    for part in path[1:]:
        if value is None or "M" not in value:
            return None
        value = value["M"].get(part)
    return value


def _set(item: Item, path: list[str], value: Any) -> None:
    if len(path) == 1:
        item[path[0]] = value
        return
    if len(path) != 2 or "M" not in (item.get(path[0]) or {}):
        raise _Invalid("the document path of an update does not exist")
    item[path[0]] = {"M": {**item[path[0]]["M"], path[1]: value}}


def _remove(item: Item, path: list[str]) -> None:
    if len(path) == 1:
        item.pop(path[0], None)
        return
    if len(path) == 2 and "M" in (item.get(path[0]) or {}):
        item[path[0]] = {"M": {k: v for k, v in item[path[0]]["M"].items() if k != path[1]}}


def _error(code: str, operation: str, message: str = "", **extra: Any) -> ClientError:
    response: dict[str, Any] = {"Error": {"Code": code, "Message": message or code}, **extra}
    return ClientError(response, operation)


class ThrottledDynamoDB:
    """The stand-in client. ``clock`` is the simulation's; ``wcu_log`` receives (time, key, units)."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        item_wcu_per_second: float = 1_000,
        partition_wcu_per_second: float | None = None,
    ) -> None:
        self._clock = clock
        self._rate = item_wcu_per_second
        self._partition_rate = partition_wcu_per_second
        self._items: dict[tuple[str, str], Item] = {}
        # (pk, the sort key's first segment: PERIOD, HOLD, USER, CALL) -> sort keys, so a Query reads only
        # the kind of item it asks for, as DynamoDB reads only the key range.
        self._kinds: dict[tuple[str, str], set[str]] = {}
        self._buckets: dict[tuple[str, ...], tuple[float, float]] = {}
        self.units_by_key: dict[tuple[str, str], float] = {}
        self.peak: dict[tuple[str, str], float] = {}
        # The most WCU one partition key took in any one second.
        self.partition_peak: dict[str, float] = {}
        self.throttled = 0
        self.calls: dict[str, int] = {}
        self._window: dict[tuple[tuple[str, str], int], float] = {}

    # -- throughput --

    def _charge(self, keys_units: list[tuple[tuple[str, str], int]], operation: str) -> None:
        """Take the units from every item's bucket (and the partition's), all or nothing."""
        now = self._clock()
        wanted: dict[tuple[str, ...], float] = {}
        for key, units in keys_units:
            wanted[key] = wanted.get(key, 0) + units
            if self._partition_rate is not None:
                partition = ("partition", key[0], "")
                wanted[partition] = wanted.get(partition, 0) + units
        levels = {}
        for bucket, units in wanted.items():
            rate = self._partition_rate if len(bucket) == 3 else self._rate
            assert rate is not None
            # A bucket holds a tenth of a second of throughput: no second can take much more than the rate.
            capacity = rate / 10
            level, at = self._buckets.get(bucket, (capacity, now))
            level = min(capacity, level + (now - at) * rate)
            if level < units:
                self.throttled += 1
                self._buckets[bucket] = (level, now)
                raise _error("ProvisionedThroughputExceededException", operation, "per-item throughput")
            levels[bucket] = level - units
        for bucket, level in levels.items():
            self._buckets[bucket] = (level, now)
        second = int(now)
        for key, units in keys_units:
            self.units_by_key[key] = self.units_by_key.get(key, 0) + units
            window = (key, second)
            self._window[window] = self._window.get(window, 0) + units
            self.peak[key] = max(self.peak.get(key, 0), self._window[window])
            partition = ((key[0], ""), second)
            self._window[partition] = self._window.get(partition, 0) + units
            self.partition_peak[key[0]] = max(self.partition_peak.get(key[0], 0), self._window[partition])

    @staticmethod
    def _key_of(key: Item) -> tuple[str, str]:
        return key["pk"]["S"], key["sk"]["S"]

    def _size(self, key: tuple[str, str]) -> int:
        item = self._items.get(key)
        return item_size_bytes(item) if item else 0

    def _store(self, key: tuple[str, str], item: Item | None) -> None:
        kind = (key[0], key[1].split("#", 1)[0])
        if item is None:
            self._items.pop(key, None)
            self._kinds.get(kind, set()).discard(key[1])
        else:
            self._items[key] = item
            self._kinds.setdefault(kind, set()).add(key[1])

    def _count(self, operation: str) -> None:
        self.calls[operation] = self.calls.get(operation, 0) + 1

    # -- the client calls --

    def get_item(self, *, TableName: str, Key: Item, **_: Any) -> dict[str, Any]:
        self._count("GetItem")
        item = self._items.get(self._key_of(Key))
        return {"Item": dict(item)} if item else {}

    def batch_get_item(self, *, RequestItems: dict[str, Any], **_: Any) -> dict[str, Any]:
        self._count("BatchGetItem")
        responses: dict[str, list[Item]] = {}
        for table, request in RequestItems.items():
            found = [self._items.get(self._key_of(key)) for key in request["Keys"]]
            responses[table] = [dict(item) for item in found if item]
        return {"Responses": responses, "UnprocessedKeys": {}}

    def transact_get_items(self, *, TransactItems: list[dict[str, Any]], **_: Any) -> dict[str, Any]:
        """Serializable with the writes (this stand-in applies one call at a time); reads are not
        charged here, as for BatchGetItem (the model is of write throughput)."""
        self._count("TransactGetItems")
        found = [self._items.get(self._key_of(entry["Get"]["Key"])) for entry in TransactItems]
        return {"Responses": [{"Item": dict(item)} if item else {} for item in found]}

    def put_item(self, *, TableName: str, Item: Item, **_: Any) -> dict[str, Any]:
        self._count("PutItem")
        key = self._key_of(Item)
        self._charge([(key, write_units(max(item_size_bytes(Item), self._size(key))))], "PutItem")
        self._store(key, dict(Item))
        return {}

    def delete_item(
        self, *, TableName: str, Key: Item, ConditionExpression: str | None = None, **request: Any
    ) -> dict[str, Any]:
        self._count("DeleteItem")
        key = self._key_of(Key)
        current = self._items.get(key, {})
        self._charge([(key, write_units(self._size(key)))], "DeleteItem")
        if ConditionExpression and not self._holds(ConditionExpression, current, request):
            raise _error("ConditionalCheckFailedException", "DeleteItem")
        self._store(key, None)
        return {}

    def update_item(
        self,
        *,
        TableName: str,
        Key: Item,
        UpdateExpression: str,
        ConditionExpression: str | None = None,
        ReturnValues: str = "NONE",
        ReturnValuesOnConditionCheckFailure: str = "NONE",
        **request: Any,
    ) -> dict[str, Any]:
        self._count("UpdateItem")
        key = self._key_of(Key)
        current = self._items.get(key)
        old = current or {}
        # Top-level copy: values are replaced, never changed in place (nested map updates copy their map).
        new = dict(old) if old else {**Key}
        if ConditionExpression and not self._holds(ConditionExpression, old, request):
            self._charge([(key, write_units(item_size_bytes(old) if old else 1))], "UpdateItem")
            extra = {"Item": old} if ReturnValuesOnConditionCheckFailure == "ALL_OLD" and old else {}
            raise _error("ConditionalCheckFailedException", "UpdateItem", **extra)
        try:
            _Expression(
                _tokens(UpdateExpression),
                request.get("ExpressionAttributeNames") or {},
                request.get("ExpressionAttributeValues") or {},
            ).update(new)
        except _Invalid as exc:
            raise _error("ValidationException", "UpdateItem", str(exc)) from None
        self._charge([(key, write_units(max(item_size_bytes(old), item_size_bytes(new))))], "UpdateItem")
        self._store(key, new)
        return {"Attributes": dict(new)} if ReturnValues == "ALL_NEW" else {}

    def query(
        self,
        *,
        TableName: str,
        KeyConditionExpression: str,
        FilterExpression: str | None = None,
        ExclusiveStartKey: Item | None = None,
        **request: Any,
    ) -> dict[str, Any]:
        self._count("Query")
        values = request.get("ExpressionAttributeValues") or {}
        pk = values[":pk"]["S"]
        kinds = {
            value["S"].split("#", 1)[0] for name, value in values.items() if name != ":pk" and "S" in value
        }
        matches = []
        for kind in sorted(kinds):
            for sort_key in sorted(self._kinds.get((pk, kind), ())):
                item = self._items[(pk, sort_key)]
                if self._holds(KeyConditionExpression, item, request) and (
                    FilterExpression is None or self._holds(FilterExpression, item, request)
                ):
                    matches.append(dict(item))
        return {"Items": matches, "Count": len(matches)}

    def transact_write_items(self, *, TransactItems: list[dict[str, Any]], **_: Any) -> dict[str, Any]:
        self._count("TransactWriteItems")
        reasons, charges, effects = [], [], []
        for action in TransactItems:
            [(kind, spec)] = action.items()
            key = self._key_of(spec["Key"] if "Key" in spec else spec["Item"])
            current = self._items.get(key, {})
            size = item_size_bytes(spec["Item"]) if kind == "Put" else self._size(key)
            charges.append((key, write_units(max(size, self._size(key)), transactional=True)))
            condition = spec.get("ConditionExpression")
            ok = not condition or self._holds(condition, current, spec)
            reasons.append({"Code": "None" if ok else "ConditionalCheckFailed"})
            effects.append((kind, key, spec))
        self._charge(charges, "TransactWriteItems")
        if any(reason["Code"] != "None" for reason in reasons):
            raise _error(
                "TransactionCanceledException",
                "TransactWriteItems",
                "Transaction cancelled [ConditionalCheckFailed]",
                CancellationReasons=reasons,
            )
        for kind, key, spec in effects:
            if kind == "Put":
                self._store(key, dict(spec["Item"]))
            elif kind == "Delete":
                self._store(key, None)
            elif kind == "Update":
                old = self._items.get(key) or {}
                updated = dict(old) if old else {**spec["Key"]}
                _Expression(
                    _tokens(spec["UpdateExpression"]),
                    spec.get("ExpressionAttributeNames") or {},
                    spec.get("ExpressionAttributeValues") or {},
                ).update(updated)
                self._store(key, updated)
            else:
                raise ValueError(f"unsupported transaction action {kind}")
        return {}

    def _holds(self, expression: str, item: Item, request: dict[str, Any]) -> bool:
        parsed = _Expression(
            _tokens(expression),
            request.get("ExpressionAttributeNames") or {},
            request.get("ExpressionAttributeValues") or {},
        )
        result = parsed.condition(item)
        if parsed.peek() is not None:
            raise ValueError(f"trailing tokens in {expression!r}")
        return result

    # -- inspection --

    def items(self, pk: str | None = None) -> list[Item]:
        return [
            copy.deepcopy(item) for (key_pk, _), item in sorted(self._items.items()) if pk in (None, key_pk)
        ]
