"""Every Bedrock call carries requestMetadata (tenant, user, request id), which Bedrock writes into the
model invocation log: the key that joins a log line to the ledger's call record and to CUR 2.0."""

from __future__ import annotations

import json

from tests.service.conftest import converse_body, load_event


def test_converse_carries_the_tenant_the_user_and_the_request_id(gateway_factory) -> None:
    gateway = gateway_factory()
    event = load_event("converse", body=converse_body(), user="alice@example.com")

    response = gateway.handle(event)

    assert response["statusCode"] == 200
    request_id = json.loads(response["body"])["requestId"]
    [call] = gateway.bedrock.calls
    assert call["requestMetadata"] == {
        "tenantId": "sales",
        "applicationId": "sales-app",
        "costCenter": "sales",
        "environment": "prod",
        "requestId": request_id,
        "model": "claude-3-haiku",
        "userId": "alice@example.com",
    }
    [record] = gateway.tables.call_records("sales")
    assert record["sk"]["S"].endswith(request_id)


def test_a_call_without_a_user_names_no_user(gateway_factory) -> None:
    gateway = gateway_factory()

    gateway.handle(load_event("converse", body=converse_body(), user=None))

    [call] = gateway.bedrock.calls
    assert "userId" not in call["requestMetadata"]
    assert call["requestMetadata"]["tenantId"] == "sales"
