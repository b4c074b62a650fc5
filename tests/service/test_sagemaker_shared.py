"""A SageMaker endpoint shared by tenants, through the gateway's real composition root: the SageMaker
runtime stand-in over HTTP (a real sagemaker-runtime client), moto DynamoDB, the per-token rate charged
exactly, entitlement per tenant, and faults that lose nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config

from cost_sentry.adapters.bedrock import bedrock_client_options
from cost_sentry.adapters.sagemaker import parse_endpoints
from cost_sentry.core.money import nanos_to_usd
from cost_sentry.core.settings import Settings
from cost_sentry.handlers.gateway import build_service, handle_event
from scripts.testbed.emulators.sagemaker_runtime import SageMakerRuntimeStub
from tests.service.conftest import Tables, converse_body, load_event, tenant_document
from tests.service.fakes import FakeBedrock, FakeClients

ENDPOINT_ARN = "arn:aws:sagemaker:us-east-1:111111111111:endpoint/cs-shared-llm"
ENDPOINTS = {
    "shared-llm": {
        "endpointName": "cs-shared-llm",
        "endpointArn": ENDPOINT_ARN,
        "inputPerMillionUsd": "0.20",  # 200 nano-dollars per input token
        "outputPerMillionUsd": "0.80",  # 800 per output token
        "maxOutputTokens": 1024,
        "tenants": ["sales", "services"],
        "servedModel": "meta-llama/Llama-3.1-8B-Instruct",
    }
}


@dataclass
class Stack:
    service: Any
    tables: Tables
    stub: SageMakerRuntimeStub
    bedrock: FakeBedrock

    def converse(self, tenant: str, **body: Any) -> dict[str, Any]:
        event = load_event(
            "converse",
            body=converse_body(tenant, model="shared-llm", **body),
            api_key_id=f"key-{tenant}",
            user="alice",
        )
        return handle_event(self.service, event)


@pytest.fixture
def stack(tables: Tables) -> Iterator[Stack]:
    for tenant in ("sales", "services", "support"):
        tables.put_tenant(tenant_document(tenant))
    bedrock = FakeBedrock()
    with SageMakerRuntimeStub(["cs-shared-llm"]) as stub:
        # As the composition root configures it: no SDK retries (the gateway retries once itself).
        runtime = boto3.client(
            "sagemaker-runtime",
            endpoint_url=stub.url,
            region_name="us-east-1",
            config=Config(**bedrock_client_options(Settings(ledger_table="l", config_table="c"))),
        )
        service = build_service(
            Settings(ledger_table=tables.ledger, config_table=tables.config),
            dynamodb_client=tables.client,
            bedrock_clients=FakeClients(bedrock),
            metrics_sink=lambda line: None,
            log_sink=lambda line: None,
            shared_endpoints=parse_endpoints(ENDPOINTS),
            sagemaker_runtime_client=runtime,
        )
        yield Stack(service, tables, stub, bedrock)


def test_an_entitled_tenant_is_served_by_the_endpoint_and_charged_its_rate(stack: Stack) -> None:
    response = stack.converse("sales")

    assert response["statusCode"] == 200, response["body"]
    body = json.loads(response["body"])
    [request] = stack.stub.requests()
    usage = request["usage"]
    assert body["usage"]["inputTokens"] == usage["prompt_tokens"]
    assert body["usage"]["outputTokens"] == usage["completion_tokens"]
    cost_nanos = usage["prompt_tokens"] * 200 + usage["completion_tokens"] * 800
    assert body["cost"]["usd"] == nanos_to_usd(cost_nanos)
    [record] = stack.tables.call_records("sales")
    assert int(record["cost_nanos"]["N"]) == cost_nanos
    assert record["model"]["S"] == "shared-llm" and record["modelId"]["S"] == ENDPOINT_ARN
    assert record["user"]["S"] == "alice"
    assert int(stack.tables.period_item("sales")["spent_nanos"]["N"]) == cost_nanos
    assert stack.bedrock.calls == []  # Bedrock was never asked


def test_the_endpoint_gets_an_openai_chat_body_naming_the_tenant(stack: Stack) -> None:
    prompt = {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}],
        "parameters": {"max_tokens": 100, "temperature": 0.5},
    }
    assert stack.converse("services", prompt=prompt)["statusCode"] == 200

    [request] = stack.stub.requests()
    sent = request["body"]
    assert sent["model"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello"},
    ]
    assert sent["max_tokens"] == 100 and sent["temperature"] == 0.5 and sent["user"] == "alice"
    assert request["customAttributes"].startswith("tenantId=services;requestId=")


def test_a_tenant_without_the_endpoint_is_refused_before_anything_is_reserved(stack: Stack) -> None:
    response = stack.converse("support")

    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["code"] == "model_not_allowed"
    assert stack.stub.requests() == [] and stack.tables.period_item("support") == {}


def test_streaming_from_the_endpoint_is_refused_before_anything_is_reserved(stack: Stack) -> None:
    event = load_event(
        "converse_stream", body=converse_body("sales", model="shared-llm"), api_key_id="key-sales"
    )
    with pytest.raises(Exception) as refused:
        next(stack.service.stream(_call(event)))
    assert getattr(refused.value, "code", None) == "stream_not_supported"
    assert stack.stub.requests() == [] and stack.tables.period_item("sales") == {}


def test_a_model_error_is_charged_the_worst_case(stack: Stack) -> None:
    # The container answered an error after it had the request: it may have generated, so the outcome
    # table (core/outcomes.py) charges the reservation, marked estimated, as for Bedrock's 424.
    stack.stub.inject_fault("model-error")

    response = stack.converse("sales")

    assert response["statusCode"] == 502
    [record] = stack.tables.call_records("sales")
    assert record["estimated"]["BOOL"] is True
    assert int(stack.tables.period_item("sales")["spent_nanos"]["N"]) == int(record["cost_nanos"]["N"]) > 0


def test_an_unreadable_answer_is_charged_the_worst_case(stack: Stack) -> None:
    stack.stub.inject_fault("garbage")

    response = stack.converse("sales")

    assert response["statusCode"] == 502
    [record] = stack.tables.call_records("sales")
    assert record["estimated"]["BOOL"] is True and int(record["cost_nanos"]["N"]) > 0


def test_throttling_is_retried_once_then_answered_429(stack: Stack) -> None:
    stack.stub.inject_fault("throttle", count=1)
    assert stack.converse("sales")["statusCode"] == 200  # one retry absorbs one throttle

    stack.stub.inject_fault("throttle", count=2)
    assert stack.converse("sales")["statusCode"] == 429


def _call(event: dict[str, Any]) -> Any:
    from cost_sentry.service.gateway import ApiCall

    return ApiCall(
        request_id=event["requestContext"]["requestId"],
        api_key_id=event["requestContext"]["identity"]["apiKeyId"],
        body=event["body"].encode(),
        route="converse_stream",
    )
