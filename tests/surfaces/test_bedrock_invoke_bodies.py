"""InvokeModel bodies onto the Converse content model: Nova's ``messages-v1`` through parse_converse,
Anthropic's through the Anthropic surface, each only for its own model family, and InvokeModel's
headers. Every refusal is a BadRequest that says what to send."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from cost_sentry.core.catalog import default_catalog
from cost_sentry.core.cost_report import CostBasis, CostReport
from cost_sentry.core.errors import BadRequest
from cost_sentry.core.pricing import Usage
from cost_sentry.service.results import Attribution, Completion
from cost_sentry.surfaces.bedrock_runtime import InvokeBody, nova_document

LIMIT = 1_000_000
CATALOG = default_catalog()
PNG = (
    b"\x89PNG\r\n\x1a\n" + (13).to_bytes(4, "big") + b"IHDR" + (10).to_bytes(4, "big") * 2 + b"\x08\x02\0\0\0"
)


def nova(**fields: Any) -> dict[str, Any]:
    return {
        "schemaVersion": "messages-v1",
        "messages": [{"role": "user", "content": [{"text": "hi"}]}],
        **fields,
    }


def parse(model: str, document: dict[str, Any], headers: dict[str, str] | None = None):
    body = InvokeBody(model, CATALOG, headers or {})
    return body, body.parse(json.dumps(document).encode(), LIMIT)


def refusal(model: str, document: dict[str, Any], headers: dict[str, str] | None = None) -> BadRequest:
    with pytest.raises(BadRequest) as caught:
        parse(model, document, headers)
    return caught.value


def test_a_nova_body_maps_onto_converse_with_its_own_inference_fields():
    body, request = parse(
        "nova-lite",
        nova(
            system=[{"text": "be brief"}, {"cachePoint": {"type": "default"}}],
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"text": "look"},
                        {"image": {"format": "png", "source": {"bytes": base64.b64encode(PNG).decode()}}},
                    ],
                }
            ],
            inferenceConfig={
                "max_new_tokens": 30,
                "temperature": 0.5,
                "topP": 0.9,
                "topK": 40,
                "stopSequences": ["END"],
            },
        ),
    )
    assert body.family == "nova"
    assert request.model == "nova-lite"
    assert request.system == ({"text": "be brief"}, {"cachePoint": {"type": "default"}})
    assert request.messages[0]["content"][1] == {"image": {"format": "png", "source": {"bytes": PNG}}}
    assert (request.parameters.max_tokens, request.parameters.top_k) == (30, 40)
    assert str(request.parameters.temperature) == "0.5" and str(request.parameters.top_p) == "0.9"
    assert request.stop_sequences == ("END",)


def test_nova_tool_use_and_results_and_reasoning_config():
    tools = {"tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {"type": "object"}}}}]}
    _, request = parse(
        "amazon.nova-2-lite-v1:0",
        {
            "messages": [
                {"role": "user", "content": [{"text": "call f"}]},
                {
                    "role": "assistant",
                    "content": [{"toolUse": {"toolUseId": "t1", "name": "f", "input": {"a": 1}}}],
                },
                {
                    "role": "user",
                    "content": [{"toolResult": {"toolUseId": "t1", "content": [{"json": {"ok": True}}]}}],
                },
            ],
            "toolConfig": tools,
            "inferenceConfig": {
                "maxTokens": 100,
                "reasoningConfig": {"type": "enabled", "maxReasoningEffort": "low"},
            },
        },
    )
    assert request.tool_config == tools
    assert request.messages[1]["content"][0]["toolUse"]["input"] == {"a": 1}
    assert request.additional_fields == {"reasoningConfig": {"type": "enabled", "maxReasoningEffort": "low"}}
    assert request.parameters.max_tokens == 100


def test_an_anthropic_body_still_reads_through_the_anthropic_surface():
    body, request = parse(
        "claude-haiku-4-5",
        {
            "anthropic_version": "bedrock-2023-05-31",
            "anthropic_beta": ["token-efficient-tools-2025-02-19"],
            "max_tokens": 20,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    assert body.family == "anthropic"
    assert request.parameters.max_tokens == 20
    assert request.additional_fields == {"anthropic_beta": ["token-efficient-tools-2025-02-19"]}


@pytest.mark.parametrize(
    ("model", "document", "code", "says"),
    [
        (
            "nova-lite",
            {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": []},
            "body_does_not_match_model",
            "send an Amazon Nova body",
        ),
        ("claude-haiku-4-5", nova(), "body_does_not_match_model", "it has no anthropic_version"),
        ("nova-lite", {"inputText": "hello"}, "unsupported_body", "use Converse"),
        ("llama3-3-70b", nova(), "unsupported_body", "is a meta model"),
        ("fast", {"prompt": "hello"}, "unsupported_body", "this body is neither"),
        ("nova-lite", nova(schemaVersion="messages-v2"), "invalid_field", "messages-v1"),
        ("nova-lite", nova(additionalModelRequestFields={}), "unknown_field", "additionalModelRequestFields"),
        (
            "nova-lite",
            nova(inferenceConfig={"maxTokens": 1, "max_new_tokens": 1}),
            "invalid_parameter",
            "not both",
        ),
        ("nova-lite", nova(inferenceConfig={"topK": 0}), "invalid_parameter", "inferenceConfig.topK"),
        ("nova-lite", nova(inferenceConfig={"seed": 1}), "unknown_field", "seed"),
        ("nova-lite", nova(inferenceConfig=[]), "invalid_field", "inferenceConfig must be an object"),
        (
            "nova-lite",
            nova(
                messages=[
                    {"role": "user", "content": [{"video": {"format": "mp4", "source": {"bytes": "AA=="}}}]}
                ]
            ),
            "unsupported_content",
            "messages[0].content[0].video is not supported: the gateway cannot bound",
        ),
        (
            "nova-lite",
            nova(
                messages=[
                    {"role": "user", "content": [{"audio": {"format": "mp3", "source": {"bytes": "AA=="}}}]}
                ]
            ),
            "unsupported_content",
            "audio is not supported",
        ),
        (
            "nova-lite",
            nova(
                messages=[
                    {
                        "role": "user",
                        "content": [
                            {"image": {"format": "png", "source": {"s3Location": {"uri": "s3://b/k"}}}}
                        ],
                    }
                ]
            ),
            "unsupported_content",
            "source.bytes",
        ),
        (
            "nova-lite",
            nova(messages=[{"role": "assistant", "content": [{"text": "x"}]}]),
            "role_order",
            "starts with a user",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 30 else None,
)
def test_refusals_say_what_to_send(model, document, code, says):
    error = refusal(model, document)
    assert error.code == code
    assert error.status == 400
    assert says in error.message


def test_a_video_inside_a_tool_result_is_refused_too():
    tools = {"tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {"type": "object"}}}}]}
    error = refusal(
        "nova-lite",
        {
            "messages": [
                {"role": "user", "content": [{"text": "call f"}]},
                {
                    "role": "assistant",
                    "content": [{"toolUse": {"toolUseId": "t1", "name": "f", "input": {}}}],
                },
                {
                    "role": "user",
                    "content": [
                        {"toolResult": {"toolUseId": "t1", "content": [{"video": {"format": "mp4"}}]}}
                    ],
                },
            ],
            "toolConfig": tools,
        },
    )
    assert "messages[2].content[0].toolResult.content[0].video" in error.message


def test_the_resolved_model_must_be_of_the_bodys_family():
    body, _ = parse("fast", nova())  # an alias names no family: the body's shape decides
    body.check(CATALOG.get("nova-lite"))
    with pytest.raises(BadRequest) as caught:
        body.check(CATALOG.get("claude-haiku-4-5"))
    assert caught.value.code == "body_does_not_match_model"
    assert "'fast' (claude-haiku-4-5) is an Anthropic model" in caught.value.message
    with pytest.raises(BadRequest) as other:
        body.check(CATALOG.get("llama3-3-70b"))
    assert "use Converse" in other.value.message


def test_invoke_models_headers_set_the_tier_and_the_guardrail_and_refuse_optimized_latency():
    _, request = parse(
        "nova-lite",
        nova(),
        {
            "x-amzn-bedrock-service-tier": "flex",
            "x-amzn-bedrock-guardrailidentifier": "gr-1",
            "x-amzn-bedrock-guardrailversion": "2",
            "x-amzn-bedrock-trace": "ENABLED",
        },
    )
    assert request.service_tier == "flex"
    assert request.guardrail_config == {
        "guardrailIdentifier": "gr-1",
        "guardrailVersion": "2",
        "trace": "enabled",
    }
    assert (
        "latency-optimized"
        in refusal("nova-lite", nova(), {"x-amzn-bedrock-performanceconfig-latency": "optimized"}).message
    )
    assert (
        "GuardrailVersion"
        in refusal("nova-lite", nova(), {"x-amzn-bedrock-guardrailidentifier": "gr-1"}).message
    )
    assert "serviceTier" in refusal("nova-lite", nova(), {"x-amzn-bedrock-service-tier": "turbo"}).message


def test_novas_answer_names_its_cache_fields_its_own_way():
    usage = Usage(input_tokens=10, output_tokens=5, cache_read_tokens=7, cache_write_tokens=3)
    completion = Completion(
        request_id="r1",
        model="nova-micro",
        model_id="amazon.nova-micro-v1:0",
        usage=usage,
        cost=CostReport(1, CostBasis.SETTLED, 0, None, "2026-12"),
        stop_reason="end_turn",
        trace=None,
        limit_nanos=1,
        period_label="2026-12",
        period_type="MONTHLY",
        attribution=Attribution("app", "cc", "dev", None, "2026-12-05T00:00:00Z"),
        text="hi",
        content=({"text": "hi"},),
        additional_fields=None,
    )
    document = nova_document(completion)
    assert document == {
        "output": {"message": {"role": "assistant", "content": [{"text": "hi"}]}},
        "stopReason": "end_turn",
        "usage": {
            "inputTokens": 10,
            "outputTokens": 5,
            "totalTokens": 25,
            "cacheReadInputTokenCount": 7,
            "cacheWriteInputTokenCount": 3,
        },
    }
