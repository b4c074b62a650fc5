"""Cost on every answer, read by the real SDKs over HTTPS from the local stack (``make serve``'s stack):
boto3 (Converse, ConverseStream, InvokeModel, InvokeModelWithResponseStream), openai and anthropic (raw
responses, plain and streamed), and the JSON API over plain HTTP.

A buffered answer's ``x-cost-sentry-cost-usd`` is exactly the ledger's call record of that request and
``x-cost-sentry-remaining-usd`` what the ledger has left; a stream's headers carry the worst case held,
and its final event the settled figures, which every SDK parses without noticing (botocore drops the
metadata event's extra member; openai and anthropic keep it in the model's extra fields).
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import anthropic
import boto3
import httpx
import openai
import pytest
from botocore.eventstream import EventStreamBuffer

from scripts.testbed.local_stack import LocalStack
from tests.integration.http_helpers import call, call_records, own_stack, period_item

pytestmark = pytest.mark.xdist_group("sdk_cost_headers")

TFVARS = """
environment = "test"
tenants = {
  alpha = {
    application_id = "alpha-app"
    cost_center    = "alpha"
    models         = ["claude-3-haiku", "nova-micro"]
    budget         = { limit_usd = 5, shards = 1 }
  }
  team = {
    application_id = "team-app"
    cost_center    = "team"
    models         = ["claude-3-haiku"]
    budget         = { limit_usd = 5, shards = 1 }
    users          = { default_limit_usd = 0.01 }
  }
}
"""
LIMIT_NANOS = 5_000_000_000
USER_LIMIT_NANOS = 10_000_000
PROMPT = "Summarise our cloud spend in one line."


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with own_stack(TFVARS, https=True) as running:
        yield running


def nanos(usd: str) -> int:
    value = Decimal(usd) * 1_000_000_000
    assert value == value.to_integral_value(), f"{usd} is not whole nano-dollars"
    return int(value)


def record_of(stack: LocalStack, request_id: str, tenant: str = "alpha") -> dict[str, Any]:
    # The openai surface's buffered answers repeat X-Request-Id in two spellings, which httpx joins.
    request_id = request_id.split(",")[0].strip()
    [record] = [r for r in call_records(stack, tenant) if r["requestId"] == request_id]
    return record


def available(stack: LocalStack, tenant: str = "alpha") -> int:
    return int(period_item(stack, tenant)["available_nanos"])


def assert_settled(
    stack: LocalStack, headers: Mapping[str, str], request_id: str, tenant: str = "alpha"
) -> int:
    """The buffered answer's headers against the ledger; returns the cost."""
    record = record_of(stack, request_id, tenant)
    assert nanos(headers["x-cost-sentry-cost-usd"]) == int(record["cost_nanos"]) > 0
    assert headers["x-cost-sentry-cost-basis"] == "settled" and "estimated" not in record
    assert nanos(headers["x-cost-sentry-remaining-usd"]) == available(stack, tenant)
    assert headers["x-cost-sentry-budget-period"] == record["period"].removeprefix("PERIOD#")
    return int(record["cost_nanos"])


def assert_streamed(
    stack: LocalStack, headers: Mapping[str, str], final: Mapping[str, Any], request_id: str
) -> None:
    """A stream's hold headers and its final event's settled figures against the ledger."""
    record = record_of(stack, request_id)
    cost = int(record["cost_nanos"])
    held = nanos(headers["x-cost-sentry-held-usd"])
    assert held > cost > 0
    assert "x-cost-sentry-cost-usd" not in headers
    # What was left with the hold taken, and after the settle gave back held - cost.
    assert nanos(headers["x-cost-sentry-remaining-after-hold-usd"]) + held - cost == available(stack)
    assert nanos(final["costUsd"]) == cost
    assert final["costBasis"] == "settled"
    assert nanos(final["remainingUsd"]) == available(stack)


def snake_to_camel(member: Mapping[str, Any]) -> dict[str, Any]:
    def name(snake: str) -> str:
        head, *rest = snake.split("_")
        return head + "".join(part.title() for part in rest)

    return {name(key): value for key, value in member.items()}


# -- boto3 --------------------------------------------------------------------------------------------


def bedrock(stack: LocalStack) -> Any:
    session = boto3.session.Session(aws_access_key_id="unused", aws_secret_access_key="unused")
    return session.client(
        "bedrock-runtime", region_name="us-east-1", endpoint_url=stack.gateway_https_url, verify=stack.ca_file
    )


@pytest.fixture
def bearer(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", stack.tenants["alpha"].api_key)
    return stack


MESSAGES = [{"role": "user", "content": [{"text": PROMPT}]}]


def test_boto3_converse_and_invoke_model_answer_with_their_settled_cost(bearer: LocalStack) -> None:
    client = bedrock(bearer)
    response = client.converse(modelId="claude-3-haiku", messages=MESSAGES, inferenceConfig={"maxTokens": 40})
    assert response["output"]["message"]["content"][0]["text"]
    metadata = response["ResponseMetadata"]
    assert_settled(bearer, metadata["HTTPHeaders"], metadata["RequestId"])

    body = {"schemaVersion": "messages-v1", "messages": MESSAGES, "inferenceConfig": {"max_new_tokens": 40}}
    invoked = client.invoke_model(modelId="nova-micro", body=json.dumps(body))
    assert json.loads(invoked["body"].read())["output"]["message"]["content"][0]["text"]
    metadata = invoked["ResponseMetadata"]
    assert_settled(bearer, metadata["HTTPHeaders"], metadata["RequestId"])


def test_boto3_converse_stream_sends_the_hold_and_parses_its_metadata_unchanged(bearer: LocalStack) -> None:
    response = bedrock(bearer).converse_stream(
        modelId="claude-3-haiku", messages=MESSAGES, inferenceConfig={"maxTokens": 40}
    )
    events = list(response["stream"])
    [metadata] = [event["metadata"] for event in events if "metadata" in event]
    # botocore reads the modelled members only: the extension member is not there, nothing else changed.
    assert "costSentry" not in metadata and {"usage", "metrics"} <= set(metadata)
    assert metadata["usage"]["outputTokens"] > 0
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    record = record_of(bearer, response["ResponseMetadata"]["RequestId"])
    assert nanos(headers["x-cost-sentry-held-usd"]) > int(record["cost_nanos"])


def eventstream(stack: LocalStack, path: str, body: Mapping[str, Any]) -> tuple[httpx.Headers, list[Any]]:
    """The raw frames of a Bedrock stream, as a client that reads past the SDK's model sees them."""
    context = ssl.create_default_context(cafile=stack.ca_file)
    with httpx.Client(verify=context, timeout=30) as client:
        response = client.post(
            stack.gateway_https_url + path,
            json=body,
            headers={"authorization": f"Bearer {stack.tenants['alpha'].api_key}"},
        )
    assert response.status_code == 200, response.text
    buffer = EventStreamBuffer()
    buffer.add_data(response.content)
    return response.headers, [(m.headers[":event-type"], json.loads(m.payload)) for m in buffer]


def test_converse_streams_final_metadata_event_carries_the_settled_cost(stack: LocalStack) -> None:
    body = {"messages": MESSAGES, "inferenceConfig": {"maxTokens": 40}}
    headers, frames = eventstream(stack, "/model/claude-3-haiku/converse-stream", body)
    [metadata] = [payload for name, payload in frames if name == "metadata"]
    assert_streamed(stack, headers, metadata["costSentry"], headers["x-amzn-requestid"])


def test_boto3_invoke_model_with_response_stream_ends_with_the_settled_cost(bearer: LocalStack) -> None:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 40,
        "messages": [{"role": "user", "content": PROMPT}],
    }
    response = bedrock(bearer).invoke_model_with_response_stream(
        modelId="claude-3-haiku", body=json.dumps(body)
    )
    chunks = [json.loads(event["chunk"]["bytes"]) for event in response["body"]]
    [delta] = [chunk for chunk in chunks if chunk["type"] == "message_delta"]
    metadata = response["ResponseMetadata"]
    assert_streamed(
        bearer, metadata["HTTPHeaders"], snake_to_camel(delta["usage"]["cost_sentry"]), metadata["RequestId"]
    )


# -- openai -------------------------------------------------------------------------------------------


def openai_client(stack: LocalStack, tenant: str = "alpha", user: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=stack.gateway_https_url + "/v1",
        api_key=stack.tenants[tenant].api_key,
        default_headers={"x-cost-sentry-user": user} if user else None,
        http_client=openai.DefaultHttpxClient(verify=ssl.create_default_context(cafile=stack.ca_file)),
    )


CHAT = [{"role": "user", "content": PROMPT}]


def test_openai_raw_response_headers_carry_the_settled_cost(stack: LocalStack) -> None:
    raw = openai_client(stack).chat.completions.with_raw_response.create(
        model="claude-3-haiku", max_tokens=40, messages=CHAT
    )
    completion = raw.parse()
    assert completion.choices[0].message.content
    assert_settled(stack, raw.headers, raw.headers["x-request-id"])


@pytest.mark.parametrize("include_usage", [True, False])
def test_openai_stream_ends_with_a_chunk_carrying_the_settled_cost(
    stack: LocalStack, include_usage: bool
) -> None:
    options = {"stream_options": {"include_usage": True}} if include_usage else {}
    raw = openai_client(stack).chat.completions.with_raw_response.create(
        model="claude-3-haiku", max_tokens=40, messages=CHAT, stream=True, **options
    )
    chunks = list(raw.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert (chunks[-1].usage is not None) is include_usage
    final = chunks[-1].model_extra["cost_sentry"]
    assert_streamed(stack, raw.headers, snake_to_camel(final), raw.headers["x-request-id"])


def test_a_users_own_remaining_budget_comes_with_their_answers(stack: LocalStack) -> None:
    raw = openai_client(stack, "team", user="alice").chat.completions.with_raw_response.create(
        model="claude-3-haiku", max_tokens=40, messages=CHAT
    )
    raw.parse()
    cost = assert_settled(stack, raw.headers, raw.headers["x-request-id"], "team")
    assert nanos(raw.headers["x-cost-sentry-user-remaining-usd"]) == USER_LIMIT_NANOS - cost


# -- anthropic ----------------------------------------------------------------------------------------


def anthropic_client(stack: LocalStack) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=stack.gateway_https_url,
        api_key=stack.tenants["alpha"].api_key,
        http_client=anthropic.DefaultHttpxClient(verify=ssl.create_default_context(cafile=stack.ca_file)),
    )


def test_anthropic_raw_response_headers_carry_the_settled_cost(stack: LocalStack) -> None:
    raw = anthropic_client(stack).messages.with_raw_response.create(
        model="claude-3-haiku", max_tokens=40, messages=CHAT
    )
    assert raw.parse().content[0].text
    assert_settled(stack, raw.headers, raw.headers["request-id"])


def test_anthropic_stream_message_delta_carries_the_settled_cost(stack: LocalStack) -> None:
    raw = anthropic_client(stack).messages.with_raw_response.create(
        model="claude-3-haiku", max_tokens=40, messages=CHAT, stream=True
    )
    events = list(raw.parse())
    assert events[0].type == "message_start" and events[-1].type == "message_stop"
    [delta] = [event for event in events if event.type == "message_delta"]
    assert delta.usage.output_tokens > 0
    final = snake_to_camel(delta.usage.model_extra["cost_sentry"])
    assert_streamed(stack, raw.headers, final, raw.headers["request-id"])


def test_anthropic_stream_helper_accumulates_the_message_unchanged(stack: LocalStack) -> None:
    with anthropic_client(stack).messages.stream(
        model="claude-3-haiku", max_tokens=40, messages=CHAT
    ) as stream:
        message = stream.get_final_message()
    assert message.content[0].text and message.usage.output_tokens > 0


# -- the JSON API -------------------------------------------------------------------------------------


def test_json_api_answers_and_streams_with_the_cost(stack: LocalStack) -> None:
    tenant = stack.tenants["alpha"]
    body = tenant.request_body(PROMPT, "claude-3-haiku", 40)
    answer = call(stack, "/v1/converse", api_key=tenant.api_key, body=body)
    assert answer.status == 200, answer.text
    headers = {name.lower(): value for name, value in answer.headers.items()}
    cost = assert_settled(stack, headers, answer.json()["requestId"])
    assert answer.json()["cost"] == {"usd": headers["x-cost-sentry-cost-usd"], "basis": "settled"}
    assert nanos(answer.json()["cost"]["usd"]) == cost

    streamed = call(stack, "/v1/converse-stream", api_key=tenant.api_key, body=body)
    assert streamed.status == 200, streamed.text
    headers = {name.lower(): value for name, value in streamed.headers.items()}
    done = streamed.sse_events()[-1]
    final = {"costUsd": done["cost"]["usd"], "costBasis": done["cost"]["basis"], **done["budget"]}
    assert_streamed(stack, headers, final, done["requestId"])
