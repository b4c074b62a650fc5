"""boto3 ``invoke_model`` / ``invoke_model_with_response_stream`` with Amazon Nova's own body
(``messages-v1``) against the local stack over HTTPS, the tenant's key as AWS_BEARER_TOKEN_BEDROCK.

Each test parses the answer as an SDK user would (``output.message.content[0].text``, ``usage``, the
stream's ``chunk`` bytes) and checks that the tenant's ledger moved by exactly the cost priced here from
the usage Nova reports and the catalog's published rates (written out, not read from the code under
test). A body of the wrong family is a 400 in Bedrock's shape with nothing reserved; an Anthropic body
still works beside it. The README's Nova snippet is run as it is written there.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from scripts.testbed.local_stack import LocalStack
from tests.integration.http_helpers import own_stack, period_item
from tests.integration.test_sdk_surfaces import (
    HAIKU,
    NOVA,
    NOVA_MICRO,
    NOVA_PRIORITY,
    README,
    TFVARS,
    WEATHER_SPEC,
    bedrock,
    held,
    png,
    run_snippet,
    spent,
)

pytestmark = pytest.mark.xdist_group("sdk_nova_invoke")

# nova-lite's cache rates (USD per million x 1000 = nano-dollars per token): read 0.015, 5-minute write 0.06.
NOVA_CACHE = {**NOVA, "cache_read": 15, "write_5m": 60}


def nova_price(usage: dict[str, Any], rates: dict[str, int]) -> int:
    """Nano-dollars for Nova's ``usage`` (its own names for the cache fields; writes are 5-minute ones)."""
    return (
        usage["inputTokens"] * rates["input"]
        + usage["outputTokens"] * rates["output"]
        + usage.get("cacheReadInputTokenCount", 0) * rates.get("cache_read", 0)
        + usage.get("cacheWriteInputTokenCount", 0) * rates.get("write_5m", 0)
    )


def nova_body(*content: dict[str, Any], **fields: Any) -> str:
    document = {
        "schemaVersion": "messages-v1",
        "messages": [{"role": "user", "content": list(content) or [{"text": "Invoke Nova, please."}]}],
        "inferenceConfig": {"maxTokens": 40},
        **fields,
    }
    return json.dumps(document)


def answer(response: dict[str, Any]) -> dict[str, Any]:
    return json.loads(response["body"].read())


def chunks(response: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(event["chunk"]["bytes"]) for event in response["body"]]


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with own_stack(TFVARS, https=True) as running:
        yield running


@pytest.fixture
def sdk_env(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    """What a developer exports: the gateway URL, the tenant's key, and trust in the local CA."""
    monkeypatch.setenv("COST_SENTRY_URL", stack.gateway_https_url)
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", stack.tenants["alpha"].api_key)
    monkeypatch.setenv("AWS_CA_BUNDLE", stack.ca_file)
    return stack


def test_readme_nova_invoke_snippet_answers_in_novas_format_and_is_metered_exactly(
    sdk_env: LocalStack,
) -> None:
    before = spent(sdk_env)
    namespace = run_snippet("bedrock-nova-invoke")
    document = namespace["document"]
    assert namespace["answer"] == document["output"]["message"]["content"][0]["text"]
    assert namespace["answer"]
    assert document["output"]["message"]["role"] == "assistant"
    assert document["stopReason"] in ("end_turn", "max_tokens")
    usage = document["usage"]
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert usage["cacheReadInputTokenCount"] == usage["cacheWriteInputTokenCount"] == 0
    assert spent(sdk_env) - before == nova_price(usage, NOVA_MICRO)
    headers = namespace["response"]["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-bedrock-input-token-count"] == str(usage["inputTokens"])
    assert headers["x-cost-sentry-cost-usd"]
    # What reached Bedrock is Converse, with Nova's max_new_tokens and topK where Converse takes them.
    sent = sdk_env.bedrock.requests()[-1]["body"]
    assert sent["inferenceConfig"]["maxTokens"] == 64
    assert sent["additionalModelRequestFields"] == {"inferenceConfig": {"topK": 50}}
    assert sent["system"] == [{"text": "You answer in one line."}]
    assert held(sdk_env) == []


def test_nova_invoke_model_with_response_stream_streams_novas_events_and_settles_exactly(
    sdk_env: LocalStack,
) -> None:
    before = spent(sdk_env)
    response = bedrock(sdk_env).invoke_model_with_response_stream(
        modelId="amazon.nova-lite-v1:0",  # the base model id of a Nova model
        body=nova_body(inferenceConfig={"max_new_tokens": 30, "temperature": 0.2}),
    )
    events = chunks(response)
    assert events[0] == {"messageStart": {"role": "assistant"}}
    text = "".join(
        e["contentBlockDelta"]["delta"].get("text", "") for e in events if "contentBlockDelta" in e
    )
    assert text
    assert any("contentBlockStop" in e for e in events)
    [stop] = [e["messageStop"] for e in events if "messageStop" in e]
    assert stop["stopReason"] in ("end_turn", "max_tokens")
    last = events[-1]
    usage = last["metadata"]["usage"]
    metrics = last["amazon-bedrock-invocationMetrics"]
    assert (metrics["inputTokenCount"], metrics["outputTokenCount"]) == (
        usage["inputTokens"],
        usage["outputTokens"],
    )
    assert metrics["invocationLatency"] >= metrics["firstByteLatency"] > 0
    assert usage["outputTokens"] <= 30
    assert spent(sdk_env) - before == nova_price(usage, NOVA)
    assert held(sdk_env) == []


def test_nova_invoke_with_an_image_passes_the_bytes_and_is_priced(sdk_env: LocalStack) -> None:
    image = png(300, 200)
    before = spent(sdk_env)
    response = bedrock(sdk_env).invoke_model(
        modelId="nova-lite",
        body=nova_body(
            {"text": "What is in this picture?"},
            {"image": {"format": "png", "source": {"bytes": base64.b64encode(image).decode()}}},
        ),
    )
    document = answer(response)
    # The stand-in counts a PNG's pixels / 750: 60 000 / 750 = 80 tokens, plus the text's 6.
    assert document["usage"]["inputTokens"] == 80 + 6
    assert spent(sdk_env) - before == nova_price(document["usage"], NOVA)
    sent = sdk_env.bedrock.requests()[-1]
    block = sent["body"]["messages"][0]["content"][1]["image"]
    assert block["format"] == "png" and base64.b64decode(block["source"]["bytes"]) == image
    assert sent["body"]["requestMetadata"]["tenantId"] == "alpha"


def test_nova_invoke_tool_round_trip(sdk_env: LocalStack) -> None:
    client = bedrock(sdk_env)
    tools = {"tools": [{"toolSpec": WEATHER_SPEC}]}
    question = {"role": "user", "content": [{"text": "Call get_weather for Oslo, please."}]}
    before = spent(sdk_env)
    first = answer(
        client.invoke_model(
            modelId="fast",  # the tenant's alias for nova-lite: the body decides, the check confirms
            body=json.dumps({"messages": [question], "toolConfig": tools}),
        )
    )
    assert first["stopReason"] == "tool_use"
    [use] = [b["toolUse"] for b in first["output"]["message"]["content"] if "toolUse" in b]
    assert use["name"] == "get_weather" and use["input"] == {"city": "value"}
    result = {"toolResult": {"toolUseId": use["toolUseId"], "content": [{"json": {"celsius": 4}}]}}
    messages = [question, first["output"]["message"], {"role": "user", "content": [result]}]
    stream = client.invoke_model_with_response_stream(
        modelId="nova-lite", body=json.dumps({"messages": messages, "toolConfig": tools})
    )
    events = chunks(stream)
    assert [e["messageStop"]["stopReason"] for e in events if "messageStop" in e] == ["end_turn"]
    second = events[-1]["metadata"]["usage"]
    assert spent(sdk_env) - before == nova_price(first["usage"], NOVA) + nova_price(second, NOVA)


def test_nova_invoke_streams_a_tool_use_as_nova_does(sdk_env: LocalStack) -> None:
    response = bedrock(sdk_env).invoke_model_with_response_stream(
        modelId="nova-lite",
        body=nova_body(
            {"text": "Weather in Oslo?"},
            toolConfig={
                "tools": [{"toolSpec": WEATHER_SPEC}],
                "toolChoice": {"tool": {"name": "get_weather"}},
            },
        ),
    )
    events = chunks(response)
    [start] = [e["contentBlockStart"] for e in events if "contentBlockStart" in e]
    assert start["start"]["toolUse"]["name"] == "get_weather"
    deltas = [
        e["contentBlockDelta"]["delta"]["toolUse"]["input"]
        for e in events
        if "contentBlockDelta" in e and "toolUse" in e["contentBlockDelta"]["delta"]
    ]
    assert json.loads("".join(deltas)) == {"city": "value"}
    assert [e["messageStop"]["stopReason"] for e in events if "messageStop" in e] == ["tool_use"]


def test_a_cached_nova_prompt_is_priced_at_the_cache_rates(sdk_env: LocalStack) -> None:
    client = bedrock(sdk_env)
    body = nova_body(
        {"text": "What changed this week?"},
        system=[{"text": "You are the FinOps assistant. " * 40}, {"cachePoint": {"type": "default"}}],
    )
    before = spent(sdk_env)
    first = answer(client.invoke_model(modelId="nova-lite", body=body))
    middle = spent(sdk_env)
    second = answer(client.invoke_model(modelId="nova-lite", body=body))
    assert first["usage"]["cacheWriteInputTokenCount"] > 0
    assert second["usage"]["cacheReadInputTokenCount"] == first["usage"]["cacheWriteInputTokenCount"]
    assert middle - before == nova_price(first["usage"], NOVA_CACHE)
    assert spent(sdk_env) - middle == nova_price(second["usage"], NOVA_CACHE)
    assert spent(sdk_env) - middle < middle - before


def test_the_service_tier_header_sets_the_tier_and_its_price(sdk_env: LocalStack) -> None:
    before = spent(sdk_env)
    response = bedrock(sdk_env).invoke_model(modelId="nova-lite", body=nova_body(), serviceTier="priority")
    assert response["serviceTier"] == "priority"
    assert sdk_env.bedrock.requests()[-1]["body"]["serviceTier"] == {"type": "priority"}
    assert spent(sdk_env) - before == nova_price(answer(response)["usage"], NOVA_PRIORITY)


def test_an_anthropic_body_still_works_beside_nova(sdk_env: LocalStack) -> None:
    before = spent(sdk_env)
    response = bedrock(sdk_env).invoke_model(
        modelId="claude-haiku-4-5",
        body=json.dumps(
            {
                "anthropic_version": "bedrock-2023-05-31",
                "max_tokens": 30,
                "messages": [{"role": "user", "content": "Invoke Claude."}],
            }
        ),
    )
    document = answer(response)
    assert document["type"] == "message" and document["content"][0]["text"]
    usage = document["usage"]
    priced = usage["input_tokens"] * HAIKU["input"] + usage["output_tokens"] * HAIKU["output"]
    assert spent(sdk_env) - before == priced


REFUSALS = [
    pytest.param(
        "nova-lite",
        json.dumps(
            {
                "anthropic_version": "bedrock-2023-05-31",
                "max_tokens": 9,
                "messages": [{"role": "user", "content": "hi"}],
            }
        ),
        "send an Amazon Nova body",
        id="anthropic-to-nova",
    ),
    pytest.param("claude-haiku-4-5", nova_body(), "send an Anthropic Messages body", id="nova-to-claude"),
    # The alias names no family: the body is read as Nova's, then the resolved model refuses it.
    pytest.param(
        "fast",
        json.dumps(
            {
                "anthropic_version": "bedrock-2023-05-31",
                "max_tokens": 9,
                "messages": [{"role": "user", "content": "hi"}],
            }
        ),
        "nova-lite",
        id="anthropic-to-alias",
    ),
    pytest.param("llama3-3-70b", nova_body(), "use Converse", id="another-family"),
    pytest.param(
        "nova-lite",
        nova_body({"video": {"format": "mp4", "source": {"bytes": "AAAA"}}}),
        "cannot bound a video",
        id="video",
    ),
    pytest.param("nova-lite", nova_body(schemaVersion="messages-v2"), "messages-v1", id="schema-version"),
    pytest.param(
        "nova-lite",
        nova_body(inferenceConfig={"maxTokens": 10, "max_new_tokens": 10}),
        "not both",
        id="both-max-tokens",
    ),
]


@pytest.mark.parametrize(("model", "body", "says"), REFUSALS)
def test_a_body_the_model_does_not_take_is_a_400_in_bedrocks_shape_with_nothing_reserved(
    sdk_env: LocalStack, model: str, body: str, says: str
) -> None:
    before = period_item(sdk_env, "alpha")
    calls = len(sdk_env.bedrock.requests())
    with pytest.raises(ClientError) as caught:
        bedrock(sdk_env).invoke_model(modelId=model, body=body)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert says in caught.value.response["Error"]["Message"]
    assert period_item(sdk_env, "alpha") == before
    assert len(sdk_env.bedrock.requests()) == calls


def test_a_wrong_body_on_the_stream_is_refused_before_the_stream(sdk_env: LocalStack) -> None:
    before = period_item(sdk_env, "alpha")
    with pytest.raises(ClientError) as caught:
        bedrock(sdk_env).invoke_model_with_response_stream(modelId="claude-haiku-4-5", body=nova_body())
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "anthropic_version" in caught.value.response["Error"]["Message"]
    assert period_item(sdk_env, "alpha") == before


def test_the_readme_names_this_file_beside_its_snippet() -> None:
    assert Path(__file__).name in README
