"""The Bedrock stand-in's guardrail: boto3 converse / converse_stream with guardrailConfig get the trace
Bedrock returns (units from the characters) only when they ask for it; the log keeps what it billed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from scripts.testbed.emulators.bedrock_runtime import BedrockRuntimeStub

MODEL = "amazon.nova-lite-v1:0"
GUARDRAIL = {"guardrailIdentifier": "gr-stand-in", "guardrailVersion": "DRAFT"}
PROMPT = "x" * 1500 + "é" * 600  # 2,100 characters (2,700 UTF-8 bytes): 3 text units


@pytest.fixture(scope="module")
def stub() -> Iterator[BedrockRuntimeStub]:
    with BedrockRuntimeStub() as running:
        yield running


@pytest.fixture
def client(stub: BedrockRuntimeStub) -> Any:
    stub.clear_faults()
    stub.clear_requests()
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=stub.url,
        region_name="us-east-1",
        aws_access_key_id="AKIDSTUBTEST",
        aws_secret_access_key="secret",
    )


def ask(client: Any, stream: bool = False, **guardrail: Any) -> Any:
    arguments = {
        "modelId": MODEL,
        "messages": [{"role": "user", "content": [{"text": PROMPT}]}],
        "inferenceConfig": {"maxTokens": 40},
        "guardrailConfig": {**GUARDRAIL, **guardrail},
    }
    return client.converse_stream(**arguments) if stream else client.converse(**arguments)


def test_converse_returns_the_guardrail_trace_with_units_from_the_characters(client: Any, stub) -> None:
    response = ask(client, trace="enabled")
    guardrail = response["trace"]["guardrail"]
    usage = guardrail["inputAssessment"]["gr-stand-in"]["invocationMetrics"]["usage"]
    assert usage["contentPolicyUnits"] == usage["topicPolicyUnits"] == 3
    assert usage["contextualGroundingPolicyUnits"] == 0
    [output] = guardrail["outputAssessments"]["gr-stand-in"]
    assert output["invocationMetrics"]["usage"]["contentPolicyUnits"] == 1  # 160 characters
    assert stub.requests()[-1]["guardrailUsage"]["contentPolicyUnits"] == 4


def test_without_trace_the_answer_has_none_but_the_guardrail_still_billed(client: Any, stub) -> None:
    assert "trace" not in ask(client)
    assert "trace" not in ask(client, trace="disabled")
    assert stub.requests()[-1]["guardrailUsage"]["sensitiveInformationPolicyUnits"] == 4


def test_converse_stream_assesses_each_chunk_and_reports_it_in_the_metadata_event(client: Any, stub) -> None:
    events = list(ask(client, stream=True, trace="enabled")["stream"])
    chunks = [e for e in events if "contentBlockDelta" in e]
    [metadata] = [e["metadata"] for e in events if "metadata" in e]
    outputs = metadata["trace"]["guardrail"]["outputAssessments"]["gr-stand-in"]
    assert len(outputs) == len(chunks) > 1
    assert stub.requests()[-1]["guardrailUsage"]["contentPolicyUnits"] == 3 + len(chunks)
    plain = list(ask(client, stream=True)["stream"])
    assert all("trace" not in e["metadata"] for e in plain if "metadata" in e)


def test_the_no_usage_fault_sends_the_trace_without_invocation_metrics(client: Any, stub) -> None:
    stub.inject_fault("guardrail-no-usage")
    response = ask(client, trace="enabled")
    assert "invocationMetrics" not in response["trace"]["guardrail"]["inputAssessment"]["gr-stand-in"]


def test_images_are_counted_as_image_units(client: Any, stub) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x08\x00\x00\x00\x08\x08\x02\x00\x00\x00"
    image = {"image": {"format": "png", "source": {"bytes": png}}}
    response = client.converse(
        modelId=MODEL,
        messages=[{"role": "user", "content": [{"text": "what is it?"}, image, image]}],
        guardrailConfig={**GUARDRAIL, "trace": "enabled"},
    )
    usage = response["trace"]["guardrail"]["inputAssessment"]["gr-stand-in"]["invocationMetrics"]["usage"]
    assert usage["contentPolicyImageUnits"] == 2
