"""Every refusal through the real handler: right status, distinct code, and no ledger change."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.service.conftest import converse_body, load_event, tenant_document


def messages(*pairs: tuple[str, Any]) -> dict[str, Any]:
    return converse_body(prompt={"messages": [{"role": r, "content": c} for r, c in pairs]})


def parameters(**values: Any) -> dict[str, Any]:
    return converse_body(prompt={"messages": [{"role": "user", "content": "hi"}], "parameters": values})


def tags(**values: Any) -> dict[str, Any]:
    return converse_body(tags=values)


CASES: list[tuple[str, Any, dict[str, Any], int, str]] = [
    # (name, body, event changes, status, code)
    ("no api key", converse_body(), {"api_key_id": None}, 401, "missing_api_key"),
    ("unknown api key", converse_body(), {"api_key_id": "key-nobody"}, 401, "unknown_api_key"),
    ("malformed json", "{oops", {}, 400, "invalid_json"),
    ("body not an object", "[1, 2]", {}, 400, "body_not_object"),
    ("empty body", None, {}, 400, "invalid_json"),
    ("oversize body", json.dumps(converse_body()) + " " * 800, {}, 413, "body_too_large"),
    ("unknown field", converse_body(stream=True), {}, 400, "unknown_field"),
    ("missing messages", converse_body(prompt={"parameters": {}}), {}, 400, "missing_messages"),
    ("empty messages", converse_body(prompt={"messages": []}), {}, 400, "missing_messages"),
    ("unknown role", messages(("tool", "x")), {}, 400, "invalid_role"),
    ("empty content", messages(("user", "")), {}, 400, "empty_content"),
    ("starts with assistant", messages(("assistant", "x"), ("user", "y")), {}, 400, "role_order"),
    ("two users in a row", messages(("user", "x"), ("user", "y")), {}, 400, "role_order"),
    ("system after user", messages(("user", "x"), ("system", "y")), {}, 400, "role_order"),
    ("max_tokens zero", parameters(max_tokens=0), {}, 400, "invalid_parameter"),
    ("max_tokens text", parameters(max_tokens="many"), {}, 400, "invalid_parameter"),
    ("max_tokens above model", parameters(max_tokens=4097), {}, 400, "max_tokens_above_model_limit"),
    ("temperature above 1", parameters(temperature=1.5), {}, 400, "invalid_parameter"),
    ("top_p negative", parameters(top_p=-0.1), {}, 400, "invalid_parameter"),
    ("top_k above 500", parameters(top_k=501), {}, 400, "invalid_parameter"),
    ("unknown parameter", parameters(stop_sequences=["x"]), {}, 400, "unknown_parameter"),
    ("top_k on meta", {**parameters(top_k=5), "model": "llama3-1-8b"}, {}, 400, "top_k_not_supported"),
    ("missing applicationId", tags(costCenter="sales"), {}, 400, "missing_tag"),
    ("bad tag characters", tags(applicationId="sales-app", environment="prod;drop"), {}, 400, "invalid_tag"),
    ("tag too long", tags(applicationId="a" * 257), {}, 400, "invalid_tag"),
    ("unknown tag", tags(applicationId="sales-app", team="x"), {}, 400, "unknown_tag"),
    ("other tenant's application", tags(applicationId="support-app"), {}, 403, "tag_mismatch"),
    ("other cost center", tags(applicationId="sales-app", costCenter="support"), {}, 403, "tag_mismatch"),
    ("other environment", tags(applicationId="sales-app", environment="staging"), {}, 403, "tag_mismatch"),
    ("unknown model", converse_body(model="gpt-4"), {}, 400, "unknown_model"),
    ("model not enabled", converse_body(model="nova-pro"), {}, 400, "model_not_allowed"),
    ("bad user header", converse_body(), {"user": "has spaces"}, 400, "invalid_user"),
    ("bad base64", "!!!", {"isBase64Encoded": True}, 400, "invalid_body_encoding"),
]


@pytest.fixture
def primed(gateway_factory):
    """A gateway whose tenant already has a period item, so 'unchanged' compares real state."""
    gateway = gateway_factory(tenant_document("sales"), tenant_document("support"), max_body_bytes=800)
    assert gateway.handle(load_event("converse", body=converse_body()))["statusCode"] == 200
    gateway.metrics.clear()
    return gateway


@pytest.mark.parametrize(("name", "body", "changes", "status", "code"), CASES, ids=[c[0] for c in CASES])
def test_refusal_changes_nothing(primed, name, body, changes, status, code):
    before = primed.tables.period_item("sales"), primed.tables.period_item("support")
    records_before = len(primed.tables.call_records("sales"))
    calls_before = len(primed.bedrock.calls)

    event = load_event("converse", body=body, request_id="refused-1", **changes)
    response = primed.handle(event)

    assert response["statusCode"] == status, response["body"]
    error = json.loads(response["body"])["error"]
    assert error["code"] == code
    assert error["requestId"] == "refused-1"
    assert error["message"]
    assert (primed.tables.period_item("sales"), primed.tables.period_item("support")) == before
    assert len(primed.tables.call_records("sales")) == records_before
    assert len(primed.bedrock.calls) == calls_before
    [document] = primed.emf()
    assert document["RequestRejected"] == 1 and document["RateLimitApproved"] == 0


def test_model_errors_name_the_allowed_models(primed):
    response = primed.handle(load_event("converse", body=converse_body(model="nova-pro")))
    message = json.loads(response["body"])["error"]["message"]
    assert "claude-3-haiku" in message and "nova-micro" in message


def test_max_tokens_error_names_the_limit(primed):
    response = primed.handle(load_event("converse", body=parameters(max_tokens=5000)))
    assert "4096" in json.loads(response["body"])["error"]["message"]
