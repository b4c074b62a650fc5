"""The real SDKs against the local stack over HTTPS: boto3 (converse, converse_stream, a tool-use round
trip, an image), langchain-aws ChatBedrockConverse, openai and anthropic (plain, streaming, tools).

Each test asserts the answer and that the tenant's ledger moved by exactly the priced cost, computed
here from the usage the SDK reports and the catalog's published rates (written out below, not read
from the code under test). The README's snippets are run as they are written there.
"""

from __future__ import annotations

import base64
import re
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import boto3
import openai
import pytest
from botocore.exceptions import ClientError

from scripts import REPO_ROOT
from scripts.testbed.local_stack import LocalStack
from tests.integration.http_helpers import own_stack, period_item

pytestmark = pytest.mark.xdist_group("sdk_surfaces")

TFVARS = """
environment = "test"
tenants = {
  alpha = {
    application_id = "alpha-app"
    cost_center    = "alpha"
    models         = ["claude-haiku-4-5", "nova-lite", "claude-3-haiku", "nova-micro"]
    model_aliases  = { fast = "nova-lite" }
    budget         = { limit_usd = 5 }
  }
  beta = {
    application_id = "beta-app"
    cost_center    = "beta"
    models         = ["nova-lite"]
    budget         = { limit_usd = 5 }
  }
}
"""
# USD per million tokens x 1000 = nano-dollars per token (lambda_src/cost_sentry/data/models.json):
# claude-haiku-4-5 through a global profile: input 1.00, output 5.00, cache read 0.10, writes 1.25 / 2.00.
HAIKU = {"input": 1000, "output": 5000, "cache_read": 100, "write_5m": 1250, "write_1h": 2000}
# claude-3-haiku, in-Region (the README's snippets: the workload account's tenants have it): 0.25, 1.25.
HAIKU3 = {"input": 250, "output": 1250}
# nova-micro, in-Region (the README's Nova snippet): input 0.035, output 0.14.
NOVA_MICRO = {"input": 35, "output": 140}
# nova-lite, in-Region: input 0.06, output 0.24 (priority tier x1.75).
NOVA = {"input": 60, "output": 240}
NOVA_PRIORITY = {"input": 105, "output": 420}
README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def bedrock_price(usage: dict[str, Any], rates: dict[str, int]) -> int:
    """Nano-dollars for a Converse ``usage`` document."""
    writes = {d["ttl"]: d["inputTokens"] for d in usage.get("cacheDetails", [])}
    return (
        usage["inputTokens"] * rates["input"]
        + usage["outputTokens"] * rates["output"]
        + usage.get("cacheReadInputTokens", 0) * rates.get("cache_read", 0)
        + writes.get("5m", 0) * rates.get("write_5m", 0)
        + writes.get("1h", 0) * rates.get("write_1h", 0)
    )


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with own_stack(TFVARS, https=True) as running:
        yield running


@pytest.fixture
def sdk_env(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    """What a developer exports: the gateway URL, the tenant's key, and trust in the local CA."""
    key = stack.tenants["alpha"].api_key
    monkeypatch.setenv("COST_SENTRY_URL", stack.gateway_https_url)
    monkeypatch.setenv("COST_SENTRY_KEY", key)
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", key)
    monkeypatch.setenv("AWS_CA_BUNDLE", stack.ca_file)
    monkeypatch.setenv("SSL_CERT_FILE", stack.ca_file)
    return stack


def spent(stack: LocalStack, tenant: str = "alpha") -> int:
    return int(period_item(stack, tenant).get("spent_nanos", 0))


def held(stack: LocalStack, tenant: str = "alpha") -> list[str]:
    return [name for name in period_item(stack, tenant) if name.startswith("hold_")]


def snippet(name: str) -> str:
    match = re.search(rf"<!-- snippet: {name} -->\n```python\n(.*?)```", README, re.DOTALL)
    assert match, f"README has no snippet {name!r}"
    return match.group(1)


def run_snippet(name: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(snippet(name), f"README:{name}", "exec"), namespace)  # noqa: S102 - our own README
    return namespace


def bedrock(stack: LocalStack) -> Any:
    return boto3.session.Session().client(
        "bedrock-runtime", region_name="us-east-1", endpoint_url=stack.gateway_https_url
    )


def png(width: int, height: int) -> bytes:
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + b"IHDR"
        + struct.pack(">II", width, height)
        + b"\x08\x02\0\0\0"
    )


WEATHER_SPEC = {
    "name": "get_weather",
    "description": "Current weather of a city",
    "inputSchema": {
        "json": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    },
}


# -- native Bedrock runtime ---------------------------------------------------------------------------


def test_readme_boto3_snippet_converses_and_the_ledger_moves_by_the_priced_cost(sdk_env: LocalStack) -> None:
    before = spent(sdk_env)
    namespace = run_snippet("bedrock")
    response = namespace["response"]
    assert namespace["answer"]
    assert response["stopReason"] in ("end_turn", "max_tokens")
    assert spent(sdk_env) - before == bedrock_price(response["usage"], HAIKU3)
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-cost-sentry-cost-usd"]
    assert held(sdk_env) == []


def test_boto3_converse_stream_streams_events_and_settles_exactly(sdk_env: LocalStack) -> None:
    before = spent(sdk_env)
    response = bedrock(sdk_env).converse_stream(
        modelId="fast",  # the tenant's alias for nova-lite
        messages=[{"role": "user", "content": [{"text": "Stream me a summary of the quarter."}]}],
        inferenceConfig={"maxTokens": 40},
    )
    events = list(response["stream"])
    assert "messageStart" in events[0]
    text = "".join(
        e["contentBlockDelta"]["delta"].get("text", "") for e in events if "contentBlockDelta" in e
    )
    assert text
    [metadata] = [e["metadata"] for e in events if "metadata" in e]
    assert spent(sdk_env) - before == bedrock_price(metadata["usage"], NOVA)


def test_boto3_tool_use_round_trip(sdk_env: LocalStack) -> None:
    client = bedrock(sdk_env)
    before = spent(sdk_env)
    question = {"role": "user", "content": [{"text": "Call get_weather for Oslo, please."}]}
    tools = {"tools": [{"toolSpec": WEATHER_SPEC}]}
    first = client.converse(modelId="claude-haiku-4-5", messages=[question], toolConfig=tools)
    assert first["stopReason"] == "tool_use"
    [use] = [b["toolUse"] for b in first["output"]["message"]["content"] if "toolUse" in b]
    assert use["name"] == "get_weather" and use["input"] == {"city": "value"}
    result = {"toolResult": {"toolUseId": use["toolUseId"], "content": [{"json": {"celsius": 4}}]}}
    second = client.converse(
        modelId="claude-haiku-4-5",
        messages=[question, first["output"]["message"], {"role": "user", "content": [result]}],
        toolConfig=tools,
    )
    assert second["stopReason"] == "end_turn"
    assert second["output"]["message"]["content"][0]["text"]
    priced = bedrock_price(first["usage"], HAIKU) + bedrock_price(second["usage"], HAIKU)
    assert spent(sdk_env) - before == priced


def test_boto3_image_is_priced_and_passes_through(sdk_env: LocalStack) -> None:
    before = spent(sdk_env)
    response = bedrock(sdk_env).converse(
        modelId="anthropic.claude-haiku-4-5-20251001-v1:0",  # the base model id maps to the tenant's profile
        messages=[
            {
                "role": "user",
                "content": [
                    {"text": "What is in this picture?"},
                    {"image": {"format": "png", "source": {"bytes": png(300, 200)}}},
                ],
            }
        ],
        inferenceConfig={"maxTokens": 50},
    )
    # The stand-in counts a PNG's pixels / 750: 60 000 / 750 = 80 tokens, plus the text.
    assert response["usage"]["inputTokens"] == 80 + 6
    assert spent(sdk_env) - before == bedrock_price(response["usage"], HAIKU)
    sent = sdk_env.bedrock.requests()[-1]["body"]
    assert sent["messages"][0]["content"][1]["image"]["format"] == "png"
    assert sent["requestMetadata"]["tenantId"] == "alpha"


def test_a_cached_prompt_is_priced_at_the_cache_rates(sdk_env: LocalStack) -> None:
    client = bedrock(sdk_env)
    system = [
        {"text": "You are the FinOps assistant. " * 40},
        {"cachePoint": {"type": "default", "ttl": "1h"}},
    ]
    messages = [{"role": "user", "content": [{"text": "What changed this week?"}]}]
    before = spent(sdk_env)
    first = client.converse(
        modelId="claude-haiku-4-5", system=system, messages=messages, inferenceConfig={"maxTokens": 20}
    )
    middle = spent(sdk_env)
    second = client.converse(
        modelId="claude-haiku-4-5", system=system, messages=messages, inferenceConfig={"maxTokens": 20}
    )
    assert first["usage"]["cacheWriteInputTokens"] > 0
    assert first["usage"]["cacheDetails"] == [
        {"ttl": "1h", "inputTokens": first["usage"]["cacheWriteInputTokens"]}
    ]
    assert second["usage"]["cacheReadInputTokens"] == first["usage"]["cacheWriteInputTokens"]
    assert middle - before == bedrock_price(first["usage"], HAIKU)
    assert spent(sdk_env) - middle == bedrock_price(second["usage"], HAIKU)
    # The read costs a tenth of input, the 1-hour write twice it: the second call is far cheaper.
    assert spent(sdk_env) - middle < (middle - before) / 5


def test_the_service_tier_that_served_sets_the_price(sdk_env: LocalStack) -> None:
    before = spent(sdk_env)
    response = bedrock(sdk_env).converse(
        modelId="nova-lite",
        messages=[{"role": "user", "content": [{"text": "Priority, please."}]}],
        inferenceConfig={"maxTokens": 20},
        serviceTier={"type": "priority"},
    )
    assert response["serviceTier"] == {"type": "priority"}
    assert spent(sdk_env) - before == bedrock_price(response["usage"], NOVA_PRIORITY)


def test_boto3_refusals_come_in_bedrocks_error_shape_and_reserve_nothing(sdk_env: LocalStack) -> None:
    client = bedrock(sdk_env)
    before = period_item(sdk_env, "alpha")
    with pytest.raises(ClientError) as unknown:
        client.converse(modelId="gpt-17", messages=[{"role": "user", "content": [{"text": "hi"}]}])
    assert unknown.value.response["Error"]["Code"] == "ValidationException"
    assert "unknown model" in unknown.value.response["Error"]["Message"]
    other = sdk_env.tenants["beta"].profile_arns["nova-lite"]
    with pytest.raises(ClientError) as foreign:
        client.converse(modelId=other, messages=[{"role": "user", "content": [{"text": "hi"}]}])
    assert foreign.value.response["Error"]["Code"] == "AccessDeniedException"
    with pytest.raises(ClientError) as s3:
        client.converse(
            modelId="claude-haiku-4-5",
            messages=[
                {
                    "role": "user",
                    "content": [{"image": {"format": "png", "source": {"s3Location": {"uri": "s3://b/k"}}}}],
                }
            ],
        )
    assert "source.bytes" in s3.value.response["Error"]["Message"]
    assert period_item(sdk_env, "alpha") == before


def test_boto3_with_a_wrong_key_gets_401(sdk_env: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "not-a-key")
    with pytest.raises(ClientError) as caught:
        bedrock(sdk_env).converse(
            modelId="nova-lite", messages=[{"role": "user", "content": [{"text": "hi"}]}]
        )
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401
    assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_the_tenants_own_profile_arn_percent_encoded_in_the_path(sdk_env: LocalStack) -> None:
    arn = sdk_env.tenants["alpha"].profile_arns["claude-3-haiku"]
    before = spent(sdk_env)
    response = bedrock(sdk_env).converse(
        modelId=arn, messages=[{"role": "user", "content": [{"text": "hello"}]}]
    )
    assert sdk_env.bedrock.requests()[-1]["modelId"] == arn
    assert spent(sdk_env) - before == bedrock_price(response["usage"], {"input": 250, "output": 1250})


def test_readme_langchain_snippet(sdk_env: LocalStack) -> None:
    before = spent(sdk_env)
    namespace = run_snippet("langchain")
    assert namespace["answer"]
    usage = sdk_env.bedrock.requests()[-1]["usage"]
    assert spent(sdk_env) - before == bedrock_price(usage, HAIKU3)


# -- OpenAI -------------------------------------------------------------------------------------------


def openai_client(stack: LocalStack, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=stack.gateway_https_url + "/v1", api_key=key or stack.tenants["alpha"].api_key
    )


def openai_price(usage: Any, rates: dict[str, int]) -> int:
    cached = usage.prompt_tokens_details.cached_tokens if usage.prompt_tokens_details else 0
    return (
        (usage.prompt_tokens - cached) * rates["input"]
        + cached * rates.get("cache_read", 0)
        + usage.completion_tokens * rates["output"]
    )


def test_readme_openai_snippet(sdk_env: LocalStack) -> None:
    before = spent(sdk_env)
    namespace = run_snippet("openai")
    assert namespace["answer"]
    assert spent(sdk_env) - before == openai_price(namespace["completion"].usage, HAIKU3)


def test_openai_streams_with_usage(sdk_env: LocalStack) -> None:
    before = spent(sdk_env)
    stream = openai_client(sdk_env).chat.completions.create(
        model="nova-lite",
        max_tokens=30,
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Stream a haiku about budgets."},
        ],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens > 0
    assert spent(sdk_env) - before == openai_price(usage, NOVA)


def test_openai_tools_and_an_image_data_url(sdk_env: LocalStack) -> None:
    client = openai_client(sdk_env)
    tools = [
        {
            "type": "function",
            "function": {"name": "get_weather", "parameters": WEATHER_SPEC["inputSchema"]["json"]},
        }
    ]
    image = "data:image/png;base64," + base64.b64encode(png(150, 100)).decode()
    before = spent(sdk_env)
    first = client.chat.completions.create(
        model="claude-haiku-4-5",
        max_completion_tokens=60,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Where was this taken? Use get_weather."},
                    {"type": "image_url", "image_url": {"url": image}},
                ],
            }
        ],
        tools=tools,
    )
    [call] = first.choices[0].message.tool_calls
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    second = client.chat.completions.create(
        model="claude-haiku-4-5",
        max_completion_tokens=60,
        messages=[
            {"role": "user", "content": "Use get_weather for Oslo."},
            first.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "4 degrees, rain"},
        ],
        tools=tools,
    )
    assert second.choices[0].message.content
    priced = openai_price(first.usage, HAIKU) + openai_price(second.usage, HAIKU)
    assert spent(sdk_env) - before == priced


def test_openai_lists_the_callers_models_and_refuses_a_wrong_key(sdk_env: LocalStack) -> None:
    models = [m.id for m in openai_client(sdk_env).models.list()]
    # The default model first, then the others and the aliases.
    assert models[0] == "claude-haiku-4-5"
    assert set(models) == {"claude-haiku-4-5", "nova-lite", "claude-3-haiku", "nova-micro", "fast", "alpha"}
    with pytest.raises(openai.AuthenticationError) as caught:
        openai_client(sdk_env, key="sk-wrong").chat.completions.create(
            model="nova-lite", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"


def test_openai_bad_input_is_a_400_that_says_what_to_fix(sdk_env: LocalStack) -> None:
    before = period_item(sdk_env, "alpha")
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client(sdk_env).chat.completions.create(
            model="claude-haiku-4-5",
            messages=[
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}
            ],
        )
    assert "data URL" in caught.value.message
    assert period_item(sdk_env, "alpha") == before
    # The SDK passes a dict tool_choice through as given: a malformed one is a 400, not a 500.
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client(sdk_env).chat.completions.create(
            model="claude-haiku-4-5",
            messages=[{"role": "user", "content": "hi"}],
            tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            tool_choice={"type": "function", "function": "f"},
        )
    assert caught.value.status_code == 400
    assert "tool_choice names None, which is not one of the tools" in caught.value.message
    assert period_item(sdk_env, "alpha") == before


# -- Anthropic ----------------------------------------------------------------------------------------


def anthropic_client(stack: LocalStack, key: str | None = None) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=stack.gateway_https_url, api_key=key or stack.tenants["alpha"].api_key
    )


def anthropic_price(usage: Any, rates: dict[str, int] = HAIKU) -> int:
    creation = usage.cache_creation
    # A streamed message's accumulated usage has only the total: every write is then a 5-minute one.
    write_5m = creation.ephemeral_5m_input_tokens if creation else (usage.cache_creation_input_tokens or 0)
    write_1h = creation.ephemeral_1h_input_tokens if creation else 0
    return (
        usage.input_tokens * rates["input"]
        + usage.output_tokens * rates["output"]
        + (usage.cache_read_input_tokens or 0) * rates.get("cache_read", 0)
        + write_5m * rates.get("write_5m", 0)
        + write_1h * rates.get("write_1h", 0)
    )


def test_readme_anthropic_snippet(sdk_env: LocalStack) -> None:
    before = spent(sdk_env)
    namespace = run_snippet("anthropic")
    assert namespace["answer"]
    assert spent(sdk_env) - before == anthropic_price(namespace["message"].usage, HAIKU3)


def test_anthropic_streams_message_events(sdk_env: LocalStack) -> None:
    before = spent(sdk_env)
    with anthropic_client(sdk_env).messages.stream(
        model="claude-haiku-4-5",
        max_tokens=40,
        system=[{"type": "text", "text": "You write tersely. " * 30, "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "Stream a line about budgets."}],
    ) as stream:
        kinds = [event.type for event in stream]
        message = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "content_block_delta" in kinds
    assert message.content[0].text
    assert message.usage.cache_creation_input_tokens > 0
    assert spent(sdk_env) - before == anthropic_price(message.usage)


def test_anthropic_tools_round_trip(sdk_env: LocalStack) -> None:
    client = anthropic_client(sdk_env)
    tools = [{"name": "get_weather", "input_schema": WEATHER_SPEC["inputSchema"]["json"]}]
    question = {"role": "user", "content": "Use get_weather for Oslo."}
    before = spent(sdk_env)
    first = client.messages.create(model="claude-haiku-4-5", max_tokens=60, messages=[question], tools=tools)
    assert first.stop_reason == "tool_use"
    [use] = [b for b in first.content if b.type == "tool_use"]
    second = client.messages.create(
        model="claude-haiku-4-5",
        max_tokens=60,
        tools=tools,
        messages=[
            question,
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "4 degrees"}],
            },
        ],
    )
    assert second.stop_reason == "end_turn" and second.content[0].text
    assert spent(sdk_env) - before == anthropic_price(first.usage) + anthropic_price(second.usage)


def test_anthropic_wrong_key_gets_its_authentication_error(sdk_env: LocalStack) -> None:
    with pytest.raises(anthropic.AuthenticationError) as caught:
        anthropic_client(sdk_env, key="wrong").messages.create(
            model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.status_code == 401
    assert caught.value.body["error"]["type"] == "authentication_error"


def test_anthropic_bytes_that_are_not_base64_are_a_400_and_hold_nothing(sdk_env: LocalStack) -> None:
    # An earlier turn's redacted_thinking block goes back to the model as bytes: broken ones are the
    # caller's mistake (it was a 500 before decode_base64 served every surface).
    before = period_item(sdk_env, "alpha")
    with pytest.raises(anthropic.BadRequestError) as caught:
        anthropic_client(sdk_env).messages.create(
            model="claude-haiku-4-5",
            max_tokens=10,
            messages=[
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": [{"type": "redacted_thinking", "data": "abc"}]},
                {"role": "user", "content": "go on"},
            ],
        )
    assert caught.value.status_code == 400
    assert caught.value.body["error"]["type"] == "invalid_request_error"
    assert "messages.1.content[0].data is not valid base64" in caught.value.body["error"]["message"]
    assert period_item(sdk_env, "alpha") == before


def test_readme_snippets_are_the_ones_tested() -> None:
    assert Path(__file__).name in README
    for name in ("bedrock", "langchain", "openai", "anthropic"):
        assert snippet(name)


# -- beyond the basics: guardrails, end users, thinking, a stream that breaks ------------------------


def test_guardrails_pass_through_and_request_metadata_names_tenant_user_and_request(
    sdk_env: LocalStack,
) -> None:
    client = bedrock(sdk_env)

    def add_user(request: Any, **kwargs: Any) -> None:
        request.headers["x-cost-sentry-user"] = "alice"

    client.meta.events.register("before-sign.bedrock-runtime.Converse", add_user)
    response = client.converse(
        modelId="nova-lite",
        messages=[{"role": "user", "content": [{"text": "hello"}]}],
        guardrailConfig={"guardrailIdentifier": "gr-123", "guardrailVersion": "1"},
        requestMetadata={"team": "blue"},
    )
    sent = sdk_env.bedrock.requests()[-1]["body"]
    # Passed through, with the trace on: it carries the units the guardrail bills (test_guardrails.py).
    assert sent["guardrailConfig"] == {
        "guardrailIdentifier": "gr-123",
        "guardrailVersion": "1",
        "trace": "enabled",
    }
    request_id = response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert sent["requestMetadata"] == {
        "team": "blue",
        "tenantId": "alpha",
        "applicationId": "alpha-app",
        "costCenter": "alpha",
        "environment": "test",
        "model": "nova-lite",
        "userId": "alice",
        "requestId": request_id,
    }


def test_anthropic_extended_thinking_counts_inside_max_tokens(sdk_env: LocalStack) -> None:
    before = spent(sdk_env)
    message = anthropic_client(sdk_env).messages.create(
        model="claude-haiku-4-5",
        max_tokens=2000,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "Think, then answer."}],
    )
    assert [block.type for block in message.content] == ["thinking", "text"]
    sent = sdk_env.bedrock.requests()[-1]["body"]
    assert sent["additionalModelRequestFields"]["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert spent(sdk_env) - before == anthropic_price(message.usage)
    with pytest.raises(anthropic.BadRequestError) as caught:
        anthropic_client(sdk_env).messages.create(
            model="claude-haiku-4-5",
            max_tokens=1000,
            thinking={"type": "enabled", "budget_tokens": 1024},
            messages=[{"role": "user", "content": "Think."}],
        )
    assert "below max_tokens" in caught.value.body["error"]["message"]


def test_a_bedrock_stream_that_breaks_midway_ends_with_an_exception_frame(sdk_env: LocalStack) -> None:
    from botocore.exceptions import EventStreamError

    sdk_env.bedrock.inject_fault("stream-error")
    response = bedrock(sdk_env).converse_stream(
        modelId="nova-lite", messages=[{"role": "user", "content": [{"text": "go on and on"}]}]
    )
    with pytest.raises(EventStreamError) as caught:
        list(response["stream"])
    assert caught.value.response["Error"]["Code"] in {"modelStreamErrorException", "internalServerException"}
    assert held(sdk_env) == []  # settled (the worst case: Bedrock may have billed), never left held


# -- InvokeModel with Anthropic bodies -----------------------------------------------------------------


def anthropic_body(**fields: Any) -> bytes:
    import json

    document = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 40,
        "messages": [{"role": "user", "content": "Invoke me."}],
        **fields,
    }
    return json.dumps(document).encode()


def test_boto3_invoke_model_with_an_anthropic_body_is_metered_exactly(sdk_env: LocalStack) -> None:
    import json

    before = spent(sdk_env)
    response = bedrock(sdk_env).invoke_model(modelId="claude-haiku-4-5", body=anthropic_body(temperature=0.5))
    document = json.loads(response["body"].read())
    assert document["type"] == "message" and document["content"][0]["text"]
    usage = document["usage"]
    assert (
        spent(sdk_env) - before
        == usage["input_tokens"] * HAIKU["input"] + usage["output_tokens"] * HAIKU["output"]
    )


def test_boto3_invoke_model_with_response_stream_sends_message_events(sdk_env: LocalStack) -> None:
    import json

    before = spent(sdk_env)
    response = bedrock(sdk_env).invoke_model_with_response_stream(
        modelId="claude-haiku-4-5", body=anthropic_body()
    )
    events = [json.loads(event["chunk"]["bytes"]) for event in response["body"]]
    assert events[0]["type"] == "message_start" and events[-1]["type"] == "message_stop"
    metrics = events[-1]["amazon-bedrock-invocationMetrics"]
    assert (
        spent(sdk_env) - before
        == metrics["inputTokenCount"] * HAIKU["input"] + metrics["outputTokenCount"] * HAIKU["output"]
    )


def test_invoke_model_refuses_a_body_it_cannot_meter(sdk_env: LocalStack) -> None:
    before = period_item(sdk_env, "alpha")
    with pytest.raises(ClientError) as caught:
        bedrock(sdk_env).invoke_model(modelId="nova-lite", body=b'{"inputText": "hello"}')
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "use Converse" in caught.value.response["Error"]["Message"]
    assert period_item(sdk_env, "alpha") == before
