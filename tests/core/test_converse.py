"""The content model: Bedrock's Converse JSON and the seed's body map onto one ConverseRequest."""

from __future__ import annotations

import base64
import struct
import zlib

import pytest

from cost_sentry.core.catalog import default_catalog
from cost_sentry.core.converse import ConverseRequest, check_against_model, parse_converse
from cost_sentry.core.errors import BadRequest
from cost_sentry.core.estimate import image_dimensions, request_input_bound

CATALOG = default_catalog()


def png(width: int, height: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))


def user(*blocks):
    return {"role": "user", "content": list(blocks)}


def test_every_content_kind_parses_into_boto3_shape():
    image = base64.b64encode(png(100, 50)).decode()
    request = parse_converse(
        {
            "system": [{"text": "be brief"}, {"cachePoint": {"type": "default", "ttl": "1h"}}],
            "messages": [
                user({"text": "what is this?"}, {"image": {"format": "png", "source": {"bytes": image}}}),
                {
                    "role": "assistant",
                    "content": [{"toolUse": {"toolUseId": "t1", "name": "lookup", "input": {"q": "x"}}}],
                },
                user({"toolResult": {"toolUseId": "t1", "content": [{"json": {"answer": 1}}]}}),
            ],
            "toolConfig": {
                "tools": [{"toolSpec": {"name": "lookup", "inputSchema": {"json": {"type": "object"}}}}]
            },
            "inferenceConfig": {"maxTokens": 100, "temperature": 0.5},
            "serviceTier": {"type": "priority"},
            "requestMetadata": {"team": "blue"},
        },
        model="nova-lite",
    )
    assert request.messages[0]["content"][1]["image"]["source"]["bytes"] == png(100, 50)
    assert request.cache_ttls == frozenset({"1h"})
    assert request.service_tier == "priority"
    assert request.request_metadata == {"team": "blue"}


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        ({"messages": []}, "missing_messages", "messages must be a non-empty list"),
        ({"messages": [user({"video": {}})]}, "unsupported_content", "messages[0].content[0].video"),
        (
            {"messages": [user({"image": {"format": "png", "source": {"s3Location": {"uri": "s3://b/k"}}}})]},
            "unsupported_content",
            "s3Location",
        ),
        (
            {"messages": [user({"toolResult": {"toolUseId": "nope", "content": [{"text": "x"}]}})]},
            "invalid_content",
            "answers no toolUse",
        ),
        (
            {"messages": [user({"text": "x"})], "requestMetadata": {"tenantId": "b"}},
            "reserved_metadata",
            "tenantId",
        ),
        (
            {"messages": [user({"text": "x"})], "performanceConfig": {"latency": "optimized"}},
            "unsupported_field",
            "",
        ),
        (
            {"messages": [user({"text": "x"})], "serviceTier": {"type": "gold"}},
            "invalid_field",
            "serviceTier",
        ),
    ],
)
def test_refusals_say_what_to_fix(body, code, fragment):
    with pytest.raises(BadRequest) as caught:
        parse_converse(body, model=None)
    assert caught.value.code == code
    assert fragment in caught.value.message


def request_with(**fields) -> ConverseRequest:
    return ConverseRequest(model=None, messages=(user({"text": "hi"}),), **fields)


def test_model_checks_refuse_what_the_model_cannot_price():
    micro = CATALOG.get("nova-micro")
    with pytest.raises(BadRequest, match="ttl 1h"):
        check_against_model(
            ConverseRequest(
                model=None, messages=(user({"text": "a"}, {"cachePoint": {"type": "default", "ttl": "1h"}}),)
            ),
            micro,
        )
    with pytest.raises(BadRequest, match="no priority tier"):
        check_against_model(request_with(service_tier="priority"), CATALOG.get("claude-sonnet-4-5"))
    with pytest.raises(BadRequest, match="below max_tokens"):
        check_against_model(
            request_with(additional_fields={"thinking": {"type": "enabled", "budget_tokens": 2000}}),
            CATALOG.get("claude-sonnet-4-5"),
        )


def test_image_bound_comes_from_its_header_and_the_family_cap():
    haiku = CATALOG.get("claude-haiku-4-5")
    small = png(750, 10)  # 7 500 pixels / 750 = 10 tokens
    assert image_dimensions("png", small) == (750, 10)
    request = ConverseRequest(
        model=None, messages=(user({"image": {"format": "png", "source": {"bytes": small}}}),)
    )
    assert request_input_bound(haiku, request) == 64 + (10 + 16) + 16
    huge = ConverseRequest(
        model=None, messages=(user({"image": {"format": "png", "source": {"bytes": png(8000, 8000)}}}),)
    )
    assert request_input_bound(haiku, huge) == 64 + 1600 + 16


def test_a_binary_document_is_bounded_by_the_context_window():
    sonnet = CATALOG.get("claude-sonnet-4")
    request = ConverseRequest(
        model=None,
        messages=(user({"document": {"format": "pdf", "name": "a", "source": {"bytes": b"%PDF"}}}),),
    )
    assert request_input_bound(sonnet, request) == sonnet.context_tokens
