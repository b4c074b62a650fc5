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
