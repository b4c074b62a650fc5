"""Equipment for the model-based ledger test and the issue 14 regression tests: DynamoDB's
ClientRequestToken semantics (moto ignores the token), a crash switch that kills the ledger's "process" at
a chosen write, and a reader of one period's items by key (no Scan, so it stays fast as tables grow).

Everything here talks to the ledger only through its DynamoDB client and its public facade, so it keeps
working when ``cost_sentry.adapters.ledger`` is split into a package."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from cost_sentry.core.periods import ledger_partition, shard_key, user_key

# DynamoDB keeps a transaction's ClientRequestToken for 10 minutes (TransactWriteItems API reference).
TOKEN_WINDOW_SECONDS = 600


def _error(operation: str, code: str, status: int, message: str = "injected") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


@dataclass
class IdempotentTokens:
    """TransactWriteItems with a ClientRequestToken as DynamoDB answers it and moto does not: the same
    token with the same parameters within 10 minutes succeeds without being applied again; the same token
    with different parameters is refused with IdempotentParameterMismatchException (HTTP 400)."""

    client: Any
    clock: Callable[[], float]
    seen: dict[str, tuple[float, str, dict[str, Any]]] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        real = getattr(self.client, name)
        if name != "transact_write_items":
            return real

        def transact(**request: Any) -> dict[str, Any]:
            token = request.get("ClientRequestToken")
            if token is None:
                return real(**request)  # type: ignore[no-any-return]
            now = self.clock()
            parameters = json.dumps(
                {k: v for k, v in request.items() if k != "ClientRequestToken"}, sort_keys=True
            )
            earlier = self.seen.get(token)
            if earlier is not None and now - earlier[0] < TOKEN_WINDOW_SECONDS:
                if earlier[1] != parameters:
                    raise _error(
                        name,
                        "IdempotentParameterMismatchException",
                        400,
                        "The request uses the same client token as a previous, but non-identical request.",
                    )
                return earlier[2]
            response: dict[str, Any] = real(**request)
            self.seen[token] = (now, parameters, response)
            return response

        return transact


def is_shard_credit(operation: str, request: dict[str, Any]) -> bool:
    """The credit of a budget move into a shard: an unconditional UpdateItem that adds to a shard's
    allocation after the source's conditional debit (a move in two writes), or the transaction that
    debits and credits together (a move in one). Pausing there lets a concurrent reader look at the
    ledger in the middle of the move, wherever the move's middle is."""
    if operation == "transact_write_items":
        updates = [item["Update"] for item in request.get("TransactItems", []) if "Update" in item]
        return len(updates) == 2 and any(_credits_a_shard(update) for update in updates)
    if operation != "update_item" or "ConditionExpression" in request:
        return False
    return _credits_a_shard(request)


def _credits_a_shard(update: dict[str, Any]) -> bool:
    names = set((update.get("ExpressionAttributeNames") or {}).values())
    return (
        "allocated_nanos" in names
        and "#S" in update["Key"]["sk"]["S"]
        and "ConditionExpression" not in update
    )


def is_hold_claim(operation: str, request: dict[str, Any]) -> bool:
    """The settle's (or sweep's) claim: the UpdateItem that turns a hold into its call record in place,
    the DeleteItem of a release, or (a hold of the layout before) the transaction that deletes it."""
    if operation in ("update_item", "delete_item"):
        names = (request.get("ExpressionAttributeNames") or {}).values()
        return request["Key"]["sk"]["S"].startswith(("CALL#", "HOLD#")) and "state" in names
    if operation != "transact_write_items":
        return False
    return any(
        "Delete" in item and item["Delete"]["Key"]["sk"]["S"].startswith("HOLD#")
        for item in request.get("TransactItems", [])
    )


@dataclass
class CrashSwitch:
    """A client through which the ledger's process dies at a chosen write: once ``armed`` matches a call,
    that call and every later one fail with a 500 (nothing after the crash point reaches DynamoDB) until
    ``disarm``. ``crashed`` says whether it fired."""

    client: Any
    armed: Callable[[str, dict[str, Any]], bool] | None = None
    crashed: bool = False

    def arm(self, predicate: Callable[[str, dict[str, Any]], bool]) -> None:
        self.armed, self.crashed = predicate, False

    def disarm(self) -> bool:
        fired, self.armed, self.crashed = self.crashed, None, False
        return fired

    def __getattr__(self, name: str) -> Any:
        real = getattr(self.client, name)
        if not callable(real):
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.armed is not None and (self.crashed or self.armed(name, kwargs)):
                self.crashed = True
                raise _error(name, "InternalServerError", 500)
            return real(*args, **kwargs)

        return call


@dataclass
class LostAnswers:
    """A client through which DynamoDB applies the first call ``armed`` matches and its answer is lost (a
    500 after the write): the ambiguous failure an idempotent write must survive by being resent."""

    client: Any
    armed: Callable[[str, dict[str, Any]], bool] | None = None
    lost: int = 0

    def __getattr__(self, name: str) -> Any:
        real = getattr(self.client, name)
        if not callable(real):
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            response = real(*args, **kwargs)
            if self.armed is not None and self.armed(name, kwargs):
                self.armed, self.lost = None, self.lost + 1
                raise _error(name, "InternalServerError", 500)
            return response

        return call


@dataclass
class PausingClient:
    """Runs ``meanwhile`` (another request, as a concurrent reader would) just before the first call that
    ``at`` matches is sent, then sends it: a pause between two writes of one budget move."""

    client: Any
    at: Callable[[str, dict[str, Any]], bool]
    meanwhile: Callable[[], None]
    fired: bool = False

    def __getattr__(self, name: str) -> Any:
        real = getattr(self.client, name)
        if not callable(real):
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            if not self.fired and self.at(name, kwargs):
                self.fired = True
                self.meanwhile()
            return real(*args, **kwargs)

        return call


@dataclass
class PeriodItems:
    head: dict[str, Any] | None
    shards: dict[int, dict[str, Any]]
    users: dict[str, dict[str, Any]]

    def number(self, item: dict[str, Any] | None, name: str) -> int:
        value = (item or {}).get(name)
        return int(value["N"]) if value is not None else 0

    def head_number(self, name: str) -> int:
        return self.number(self.head, name)

    def total(self, name: str) -> int:
        return sum(self.number(shard, name) for shard in self.shards.values())


def read_period(
    client: Any, table: str, tenant_id: str, key: str, shards: int = 16, users: tuple[str, ...] = ()
) -> PeriodItems:
    """The head, shards 0..shards-1 (and any more the head records) and the named users' items of one
    period, by key with one strongly consistent BatchGetItem each."""

    def get(sort_keys: list[str]) -> dict[str, dict[str, Any]]:
        keys = [{"pk": {"S": ledger_partition(tenant_id, sk)}, "sk": {"S": sk}} for sk in sort_keys]
        found: dict[str, dict[str, Any]] = {}
        while keys:
            response = client.batch_get_item(RequestItems={table: {"Keys": keys, "ConsistentRead": True}})
            for item in response["Responses"].get(table, []):
                found[item["sk"]["S"]] = item
            keys = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
        return found

    wanted = [key, *(shard_key(key, index) for index in range(shards)), *(user_key(key, u) for u in users)]
    items = get(wanted)
    head = items.get(key)
    used = int(head["shards"]["N"]) if head and "shards" in head else 0
    if used > shards:
        items |= get([shard_key(key, index) for index in range(shards, used)])
    return PeriodItems(
        head=head,
        shards={int(sk.rsplit("#S", 1)[1]): item for sk, item in items.items() if sk.startswith(key + "#S")},
        users={u: items[user_key(key, u)] for u in users if user_key(key, u) in items},
    )
