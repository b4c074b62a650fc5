"""The SDK surfaces through the buffered Lambda proxy handler (the seed's function): the stream is
collected into one body, binary eventstream frames base64-encoded as API Gateway expects."""

from __future__ import annotations

import base64
import json

from botocore.eventstream import EventStreamBuffer

from tests.service.conftest import load_event
from tests.service.fakes import FakeBedrock


def surface_event(path: str, body: dict, method: str = "POST") -> dict:
    event = load_event("converse", body=body, request_id="req-s")
    event.update({"path": path, "resource": path, "httpMethod": method})
    return event


def test_native_bedrock_converse(gateway_factory):
    gateway = gateway_factory(bedrock=FakeBedrock(reply="Hi there.", input_tokens=12, output_tokens=4))
    body = {
        "messages": [{"role": "user", "content": [{"text": "hello"}]}],
        "inferenceConfig": {"maxTokens": 50},
    }
    response = gateway.handle(surface_event("/model/claude-3-haiku/converse", body))
    assert response["statusCode"] == 200, response["body"]
    document = json.loads(response["body"])
    assert document["output"]["message"]["content"] == [{"text": "Hi there."}]
    assert document["usage"] == {"inputTokens": 12, "outputTokens": 4, "totalTokens": 16}
    assert response["headers"]["x-cost-sentry-cost-usd"] == "0.000008"  # 12 x 250 + 4 x 1250 nanos


def test_native_bedrock_converse_stream_frames_parse_in_botocore(gateway_factory):
    gateway = gateway_factory(bedrock=FakeBedrock(reply="one two", input_tokens=5, output_tokens=2))
    body = {"messages": [{"role": "user", "content": [{"text": "hello"}]}]}
    response = gateway.handle(surface_event("/model/claude-3-haiku/converse-stream", body))
    assert response["statusCode"] == 200
    assert response["isBase64Encoded"] is True
    buffer = EventStreamBuffer()
    buffer.add_data(base64.b64decode(response["body"]))
    events = [(m.headers[":event-type"], json.loads(m.payload)) for m in buffer]
    assert "metadata" in dict(events)
    assert dict(events)["metadata"]["usage"] == {"inputTokens": 5, "outputTokens": 2, "totalTokens": 7}


def test_a_bedrock_error_comes_in_bedrocks_shape(gateway_factory):
    gateway = gateway_factory(bedrock=FakeBedrock())
    response = gateway.handle(surface_event("/model/claude-3-haiku/converse", {"messages": []}))
    assert response["statusCode"] == 400
    assert response["headers"]["x-amzn-ErrorType"] == "ValidationException"
    assert json.loads(response["body"])["message"] == "messages must be a non-empty list"


def test_openai_and_anthropic_shapes(gateway_factory):
    gateway = gateway_factory(bedrock=FakeBedrock(reply="Hello!", input_tokens=3, output_tokens=2))
    chat = gateway.handle(
        surface_event(
            "/v1/chat/completions",
            {"model": "claude-3-haiku", "messages": [{"role": "user", "content": "hi"}]},
        )
    )
    assert json.loads(chat["body"])["choices"][0]["message"]["content"] == "Hello!"
    messages = gateway.handle(
        surface_event(
            "/v1/messages",
            {"model": "claude-3-haiku", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
        )
    )
    assert json.loads(messages["body"])["content"] == [{"type": "text", "text": "Hello!"}]
    refused = gateway.handle(surface_event("/v1/messages", {"model": "claude-3-haiku", "messages": []}))
    assert refused["statusCode"] == 400
    assert json.loads(refused["body"])["error"]["type"] == "invalid_request_error"
