"""The stand-in speaks tools, images, the prompt cache, service tiers, thinking and paced streams."""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from scripts.testbed.emulators.bedrock_runtime import BedrockRuntimeStub

MODEL = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/content"


def png(width: int, height: int) -> bytes:
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + b"IHDR"
        + struct.pack(">II", width, height)
        + b"\x08\x02\0\0\0"
    )


@pytest.fixture(scope="module")
def stub() -> Iterator[BedrockRuntimeStub]:
    with BedrockRuntimeStub() as running:
        yield running


def client(stub: BedrockRuntimeStub) -> Any:
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=stub.url,
        region_name="us-east-1",
        aws_access_key_id="AKIDSTUBTEST",
        aws_secret_access_key="secret",
    )


WEATHER = {
    "tools": [
        {
            "toolSpec": {
                "name": "get_weather",
                "inputSchema": {"json": {"type": "object", "properties": {"city": {}}, "required": ["city"]}},
            }
        }
    ]
}


def test_a_named_tool_is_called_and_its_result_answered(stub: BedrockRuntimeStub) -> None:
    bedrock = client(stub)
    question = {"role": "user", "content": [{"text": "Use get_weather for Oslo"}]}
    first = bedrock.converse(modelId=MODEL, messages=[question], toolConfig=WEATHER)
    assert first["stopReason"] == "tool_use"
    [block] = first["output"]["message"]["content"]
    assert block["toolUse"]["name"] == "get_weather"
    assert block["toolUse"]["input"] == {"city": "value"}
    result = {"toolResult": {"toolUseId": block["toolUse"]["toolUseId"], "content": [{"text": "sunny"}]}}
    second = bedrock.converse(
        modelId=MODEL,
        messages=[question, first["output"]["message"], {"role": "user", "content": [result]}],
        toolConfig=WEATHER,
    )
    assert second["stopReason"] == "end_turn"
    assert second["output"]["message"]["content"][0]["text"]


def test_an_image_counts_its_pixels(stub: BedrockRuntimeStub) -> None:
    bedrock = client(stub)
    text = {"text": "abcd"}  # 1 token
    image = {"image": {"format": "png", "source": {"bytes": png(75, 20)}}}  # 1500 px / 750 = 2 tokens
    response = bedrock.converse(modelId=MODEL, messages=[{"role": "user", "content": [text, image]}])
    assert response["usage"]["inputTokens"] == 3


def test_the_prompt_cache_is_written_once_then_read(stub: BedrockRuntimeStub) -> None:
    bedrock = client(stub)
    system = [{"text": "s" * 400}, {"cachePoint": {"type": "default", "ttl": "1h"}}]  # 100 tokens cached
    messages = [{"role": "user", "content": [{"text": "abcdefgh"}]}]
    first = bedrock.converse(modelId=MODEL, system=system, messages=messages)["usage"]
    assert (first["cacheWriteInputTokens"], first["cacheReadInputTokens"], first["inputTokens"]) == (
        100,
        0,
        2,
    )
    assert first["cacheDetails"] == [{"ttl": "1h", "inputTokens": 100}]
    second = bedrock.converse(modelId=MODEL, system=system, messages=messages)["usage"]
    assert (second["cacheWriteInputTokens"], second["cacheReadInputTokens"], second["inputTokens"]) == (
        0,
        100,
        2,
    )


def test_the_service_tier_is_echoed(stub: BedrockRuntimeStub) -> None:
    bedrock = client(stub)
    messages = [{"role": "user", "content": [{"text": "hi"}]}]
    assert bedrock.converse(modelId=MODEL, messages=messages, serviceTier={"type": "flex"})[
        "serviceTier"
    ] == {"type": "flex"}


def test_thinking_comes_first_and_counts_as_output(stub: BedrockRuntimeStub) -> None:
    bedrock = client(stub)
    response = bedrock.converse(
        modelId=MODEL,
        messages=[{"role": "user", "content": [{"text": "think"}]}],
        inferenceConfig={"maxTokens": 40},
        additionalModelRequestFields={"thinking": {"type": "enabled", "budget_tokens": 1024}},
    )
    reasoning, text = response["output"]["message"]["content"]
    assert "reasoningContent" in reasoning and text["text"]
    # 16 reasoning tokens + the usual 16-token minimum answer, both inside maxTokens.
    assert response["usage"]["outputTokens"] == 32


def test_a_paced_stream_sends_its_first_token_late_then_one_token_per_interval() -> None:
    with BedrockRuntimeStub(reply_tokens=10, first_token_ms=300, token_interval_ms=20) as paced:
        started = time.monotonic()
        stream = client(paced).converse_stream(
            modelId=MODEL, messages=[{"role": "user", "content": [{"text": "go"}]}]
        )
        events = iter(stream["stream"])
        first = next(events)
        first_at = time.monotonic() - started
        rest = list(events)
    assert "messageStart" in first
    assert first_at >= 0.3
    deltas = [e for e in rest if "contentBlockDelta" in e]
    assert len(deltas) == 10
