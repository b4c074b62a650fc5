"""The gateway ledger's call records (docs/design.md section 4), read from DynamoDB."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

CALL_PREFIX = "CALL#"
_PERIOD = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def read_call_records(
    table_name: str, dynamodb_client: Any = None, period: str | None = None
) -> Iterator[dict]:
    """Every call record of the ledger table, optionally of one period (`2026-11` or `2026-11-22`, UTC).

    A paginated Scan filtered on the sort key: call records of all tenants, no other items (period
    counters and the holds of requests in flight share the table). Numbers come back as Decimal,
    strings as str. Each record carries ``tenant`` (its ``pk`` is its ledger shard's partition,
    ``<tenant>#S<k>``; records written before that layout have the tenant as ``pk``) and ``shard``.
    """
    from boto3.dynamodb.types import TypeDeserializer

    if period is not None and not _PERIOD.match(period):
        raise ValueError(f"period must look like 2026-11 or 2026-11-22, got {period!r}")
    if dynamodb_client is None:
        import boto3

        dynamodb_client = boto3.client("dynamodb")
    deserializer = TypeDeserializer()
    prefix = CALL_PREFIX + (period or "")
    paginator = dynamodb_client.get_paginator("scan")
    pages = paginator.paginate(
        TableName=table_name,
        # A request's item is its hold until it is claimed (``state`` = held): not a call record yet.
        FilterExpression="begins_with(#sk, :prefix) AND attribute_not_exists(#state)",
        ExpressionAttributeNames={"#sk": "sk", "#state": "state"},
        ExpressionAttributeValues={":prefix": {"S": prefix}},
    )
    for page in pages:
        for item in page.get("Items", []):
            record = {key: deserializer.deserialize(value) for key, value in item.items()}
            record.setdefault("tenant", str(record["pk"]).split("#", 1)[0])
            record.setdefault("shard", 0)
            yield record
