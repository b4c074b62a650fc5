"""Per-user attribution end to end: API Gateway event -> gateway -> STS session (moto) -> Bedrock stand-in.

The gateway is built by its own composition root with PER_USER_SESSIONS on; every AWS endpoint comes from
the SDK's standard settings. The Bedrock stand-in logs the access key id each call was signed with, and
moto's STS says whose key that is (moto identifies the caller by access key id), so the test sees exactly
the principal that CUR 2.0 would put in line_item_iam_principal.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import boto3
import pytest

from cost_sentry.adapters.tables import create_tables
from cost_sentry.adapters.tagging_resolver import TaggingApiResolver
from cost_sentry.core.settings import Settings
from cost_sentry.handlers.gateway import build_service, handle_event
from scripts.testbed.emulators.bedrock_runtime import BedrockRuntimeStub

from .support import NOW, PROFILE_ARN, Tables, tenant_document

GATEWAY_EVENT = Path(__file__).resolve().parents[1] / "fixtures" / "gateway" / "converse.json"
ROLE_ARN = "arn:aws:iam::123456789012:role/cost-sentry-sales-invoker"


class TaggedProfiles:
    """GetResources answered with one tagged profile (moto does not index Bedrock profiles)."""

    def __init__(self) -> None:
        self.calls = 0

    def get_paginator(self, operation: str) -> TaggedProfiles:
        return self

    def paginate(self, **params: Any) -> list[dict[str, Any]]:
        self.calls += 1
        tags = {tag["Key"]: tag["Values"][0] for tag in params["TagFilters"]}
        assert tags == {"applicationId": "sales-app", "costCenter": "sales", "environment": "prod"}
        resource = {
            "ResourceARN": PROFILE_ARN + "tagged-haiku",
            "Tags": [{"Key": "model", "Value": "claude-3-haiku"}]
            + [{"Key": key, "Value": value} for key, value in tags.items()],
        }
        return [{"ResourceTagMappingList": [resource]}]


@pytest.fixture
def bedrock(aws_endpoint_env: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    with BedrockRuntimeStub(reply_tokens=20) as stub:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", stub.url)
        yield stub


@pytest.fixture
def tables(aws_endpoint_env: str) -> Tables:
    client = boto3.session.Session().client("dynamodb")
    suffix = uuid.uuid4().hex[:12]
    tables = Tables(client=client, config=f"config-{suffix}", ledger=f"ledger-{suffix}")
    create_tables(client, tables.ledger, tables.config)
    return tables


def converse_event(user: str | None) -> dict[str, Any]:
    event = json.loads(GATEWAY_EVENT.read_text())
    for headers in (event["headers"], event["multiValueHeaders"]):
        headers.pop("X-Cost-Sentry-User", None)
    if user is not None:
        event["headers"]["X-Cost-Sentry-User"] = user
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    return event


def principal_of(access_key_id: str, endpoint: str) -> str:
    """Who moto's STS says signs with this key (moto checks the key id, not the signature)."""
    sts = boto3.session.Session(
        aws_access_key_id=access_key_id, aws_secret_access_key="unused-by-moto"
    ).client("sts", endpoint_url=endpoint)
    return str(sts.get_caller_identity()["Arn"])


def test_each_user_calls_bedrock_as_its_own_assumed_role_session(
    tables: Tables, bedrock: Any, aws_endpoint_env: str
) -> None:
    # Given a tenant with an invoker role, and the gateway with per-user sessions and the dynamic resolver
    document = tenant_document("sales", "5.00")
    document.update(applicationId="sales-app", invokerRoleArn=ROLE_ARN)
    tables.put_tenant(document)
    profiles = TaggedProfiles()
    service = build_service(
        Settings(ledger_table=tables.ledger, config_table=tables.config, per_user_sessions=True),
        dynamodb_client=tables.client,
        resolver=TaggingApiResolver(profiles, metric_sink=lambda name, tenant: None),
        metrics_sink=lambda line: None,
        log_sink=lambda line: None,
        clock=lambda: NOW,
    )

    # When alice calls twice, bob once, and the application once without a user
    users = ["alice@example.com", "alice@example.com", "bob", None]
    responses = [handle_event(service, converse_event(user)) for user in users]

    # Then every call succeeded on the profile found by its tags
    assert [response["statusCode"] for response in responses] == [200, 200, 200, 200]
    calls = bedrock.requests()
    assert [call["modelId"] for call in calls] == [PROFILE_ARN + "tagged-haiku"] * 4
    assert profiles.calls == 1
    # And each was signed by the session of its user: one session per user, reused across calls
    keys_by_user: dict[str | None, set[str]] = defaultdict(set)
    for user, call in zip(users, calls, strict=True):
        keys_by_user[user].add(call["accessKeyId"])
    assert all(len(keys) == 1 for keys in keys_by_user.values())
    principals = {
        user: principal_of(next(iter(keys)), aws_endpoint_env) for user, keys in keys_by_user.items()
    }
    role = "arn:aws:sts::123456789012:assumed-role/cost-sentry-sales-invoker"
    assert principals == {
        "alice@example.com": f"{role}/alice@example.com",
        "bob": f"{role}/bob",
        None: f"{role}/sales-app",
    }
    # And the ledger's call records name the same users, for the reconciliation with CUR
    records = tables.call_records("sales")
    assert sorted(record.get("user", {}).get("S", "-") for record in records) == sorted(
        ["alice@example.com", "alice@example.com", "bob", "-"]
    )
    # And each record's principal is exactly the session STS reported: CUR's line_item_iam_principal
    assert sorted(record["principal"]["S"] for record in records) == sorted(
        principals[user] for user in users
    )


def test_an_invalid_user_is_refused_before_sts_and_before_the_ledger(
    tables: Tables, bedrock: Any, aws_endpoint_env: str
) -> None:
    document = tenant_document("sales", "5.00")
    document.update(applicationId="sales-app", invokerRoleArn=ROLE_ARN)
    tables.put_tenant(document)
    service = build_service(
        Settings(ledger_table=tables.ledger, config_table=tables.config, per_user_sessions=True),
        dynamodb_client=tables.client,
        metrics_sink=lambda line: None,
        log_sink=lambda line: None,
        clock=lambda: NOW,
    )

    response = handle_event(service, converse_event("sales-app"))

    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["code"] == "invalid_user"
    assert bedrock.requests() == []
    assert tables.period_item("sales", "2026-11") is None
