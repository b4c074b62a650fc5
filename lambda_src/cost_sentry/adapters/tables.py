"""The two DynamoDB tables' shapes (docs/design.md sections 3 and 4), as ``create_table`` arguments.

The local stack and the tests create the tables from these, so they match what Terraform declares.
"""

from __future__ import annotations

from typing import Any

LEDGER_TTL_ATTRIBUTE = "expires_at"


def ledger_table_definition(table_name: str) -> dict[str, Any]:
    """Ledger: ``pk`` (tenant id) + ``sk`` (``PERIOD#...`` / ``CALL#...``), TTL on ``expires_at``."""
    return {
        "TableName": table_name,
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }


def config_table_definition(table_name: str) -> dict[str, Any]:
    """Config: ``pk`` = ``tenant#<id>`` or ``limit#<id>``."""
    return {
        "TableName": table_name,
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
    }


def ledger_ttl_specification(table_name: str) -> dict[str, Any]:
    """``update_time_to_live`` arguments: call records expire after the retention period."""
    return {
        "TableName": table_name,
        "TimeToLiveSpecification": {"Enabled": True, "AttributeName": LEDGER_TTL_ATTRIBUTE},
    }


def create_tables(dynamodb_client: Any, ledger_table: str, config_table: str) -> None:
    """Create both tables (and the ledger's TTL) and wait until they are active."""
    dynamodb_client.create_table(**ledger_table_definition(ledger_table))
    dynamodb_client.create_table(**config_table_definition(config_table))
    waiter = dynamodb_client.get_waiter("table_exists")
    for name in (ledger_table, config_table):
        waiter.wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    dynamodb_client.update_time_to_live(**ledger_ttl_specification(ledger_table))


# -- item sizes, by DynamoDB's rules (what a write costs) -----------------------------------------

WRITE_UNIT_BYTES = 1024


def _number_size(text: str) -> int:
    """1 byte per two significant digits + 1 (leading and trailing zeros do not count)."""
    digits = text.lstrip("-").replace(".", "").strip("0") or "0"
    return (len(digits) + 1) // 2 + 1


def attribute_value_size(value: dict[str, Any]) -> int:
    """The bytes of one attribute value (low-level ``{"N": "12"}`` form)."""
    [(kind, content)] = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "N":
        return _number_size(content)
    if kind == "B":
        return len(content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(member.encode()) for member in content)
    if kind == "NS":
        return sum(_number_size(member) for member in content)
    if kind == "BS":
        return sum(len(member) for member in content)
    if kind == "M":
        # 3 bytes of overhead, 1 byte per element, plus each element's name and value.
        return 3 + sum(1 + len(name.encode()) + attribute_value_size(v) for name, v in content.items())
    if kind == "L":
        return 3 + sum(1 + attribute_value_size(member) for member in content)
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size_bytes(item: dict[str, Any]) -> int:
    """An item's size: the UTF-8 bytes of every attribute name plus its value's size."""
    return sum(len(name.encode()) + attribute_value_size(value) for name, value in item.items())


def write_units(item_size: int, *, transactional: bool = False) -> int:
    """WCU of one write of an item this size: 1 per started KB, twice inside a transaction."""
    units = max(1, -(-item_size // WRITE_UNIT_BYTES))
    return 2 * units if transactional else units
