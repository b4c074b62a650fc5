"""Call records shaped like the gateway's (lambda_src/cost_sentry/adapters/ledger.py) in a moto DynamoDB table."""

from __future__ import annotations

import uuid
from typing import Any

ACCOUNT = "111111111111"

# tenant, user (None = application traffic), model, input tokens, output tokens, cost in nano-dollars
CALLS = [
    ("sales", "alice", "claude-3-haiku", 1_000_000, 500_000, 875_000_000),
    ("sales", "bob", "nova-micro", 2_000_000, 1_000_000, 210_000_000),
    ("services", "carol", "claude-3-5-haiku", 1_000_000, 200_000, 1_600_000_000),
    ("support", None, "nova-lite", 5_000_000, 1_000_000, 540_000_000),
]
TAGS = {
    "sales": ("sales-assistant", "sales", "prod"),
    "services": ("services-copilot", "services", "prod"),
    "support": ("support-bot", "support", "staging"),
}


def create_ledger_table(client: Any) -> str:
    name = f"ledger-{uuid.uuid4().hex[:10]}"
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def put_call(
    client: Any,
    table: str,
    tenant: str,
    user: str | None,
    model: str,
    input_tokens: int,
    output_tokens: int,
    cost_nanos: int,
    timestamp: str,
    request_id: str,
) -> None:
    application_id, cost_center, environment = TAGS[tenant]
    item: dict[str, Any] = {
        # The gateway's layout (docs/design.md section 4): in the partition of the shard it charged.
        "pk": {"S": f"{tenant}#S0"},
        "tenant": {"S": tenant},
        "shard": {"N": "0"},
        "sk": {"S": f"CALL#{timestamp}#{request_id}"},
        "requestId": {"S": request_id},
        # What a gateway with per-user sessions records: the tenant's invoker role session of the user
        "principal": {
            "S": f"arn:aws:sts::{ACCOUNT}:assumed-role/cost-sentry-{tenant}-invoker/{user or tenant + '-app'}"
        },
        "apiKeyId": {"S": f"apikey{tenant}01"},
        "model": {"S": model},
        "modelId": {
            "S": f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/{tenant}{model}"
        },
        "applicationId": {"S": application_id},
        "costCenter": {"S": cost_center},
        "environment": {"S": environment},
        "input_tokens": {"N": str(input_tokens)},
        "output_tokens": {"N": str(output_tokens)},
        "cost_nanos": {"N": str(cost_nanos)},
        "period": {"S": timestamp[:7]},
        "expires_at": {"N": "1900000000"},
    }
    if user:
        item["user"] = {"S": user}
    client.put_item(TableName=table, Item=item)


def fill_ledger(client: Any, table: str) -> None:
    for number, call in enumerate(CALLS):
        put_call(
            client, table, *call, timestamp=f"2026-11-0{number + 2}T10:15:00Z", request_id=f"req-{number}"
        )
    # a call of another month and a period counter item: neither belongs to a 2026-11 reconciliation
    put_call(
        client, table, "sales", "alice", "claude-3-haiku", 10, 10, 15_000, "2026-10-31T23:59:59Z", "req-old"
    )
    client.put_item(
        TableName=table,
        Item={"pk": {"S": "sales"}, "sk": {"S": "PERIOD#2026-11"}, "spent_nanos": {"N": "1085000000"}},
    )
