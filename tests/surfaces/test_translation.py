"""Each surface's wire format onto the Converse content model, and its refusals in its own words."""

from __future__ import annotations

import base64
import json

import pytest

from cost_sentry.core.errors import BadRequest
from cost_sentry.surfaces.anthropic import parse_messages_request
from cost_sentry.surfaces.openai import parse_chat_request

LIMIT = 1_000_000
PNG = (
    b"\x89PNG\r\n\x1a\n" + (13).to_bytes(4, "big") + b"IHDR" + (10).to_bytes(4, "big") * 2 + b"\x08\x02\0\0\0"
)


def body(document: dict) -> bytes:
    return json.dumps(document).encode()


def test_openai_messages_merge_into_alternating_converse_turns():
    request = parse_chat_request(
        body(
            {
                "model": "m",
                "max_completion_tokens": 10,
                "stop": "END",
                "messages": [
                    {"role": "developer", "content": "rules"},
                    {"role": "user", "content": "one"},
                    {"role": "user", "content": [{"type": "text", "text": "two"}]},
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "c1",
                                "type": "function",
                                "function": {"name": "f", "arguments": '{"x": 1}'},
                            }
                        ],
                    },
                    {"role": "tool", "tool_call_id": "c1", "content": "result"},
                    {"role": "user", "content": "and?"},
                ],
                "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
                "tool_choice": "required",
            }
        ),
        LIMIT,
    )
    assert request.system == ({"text": "rules"},)
    assert [m["role"] for m in request.messages] == ["user", "assistant", "user"]
    assert request.messages[0]["content"] == [{"text": "one"}, {"text": "two"}]
    assert request.messages[1]["content"] == [
        {"toolUse": {"toolUseId": "c1", "name": "f", "input": {"x": 1}}}
    ]
    assert request.messages[2]["content"][0]["toolResult"]["toolUseId"] == "c1"
    assert request.tool_config["toolChoice"] == {"any": {}}
    assert (request.parameters.max_tokens, request.stop_sequences) == (10, ("END",))


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model is required"),
        ({"model": "m", "n": 2, "messages": [{"role": "user", "content": "x"}]}, "n must be 1"),
        ({"model": "m", "logprobs": True, "messages": [{"role": "user", "content": "x"}]}, "logprobs"),
        ({"model": "m", "temperature": 1.5, "messages": [{"role": "user", "content": "x"}]}, "temperature"),
        (
            {"model": "m", "messages": [{"role": "tool", "tool_call_id": "nope", "content": "x"}]},
            "answers no toolUse",
        ),
        # Each of these was a 500 (AttributeError or TypeError) until a fuzzing pass found it.
        (
            {
                "model": "m",
                "messages": [{"role": "user", "content": "x"}],
                "tools": [{"type": "function", "function": {"name": "f"}}],
                "tool_choice": {"type": "function", "function": "f"},
            },
            "tool_choice names None",
        ),
        (
            {
                "model": "m",
                "messages": [{"role": "user", "content": "x"}],
                "tools": [{"type": "function", "function": {"name": "f"}}],
                "tool_choice": {"type": "function", "function": {"name": ["f"]}},
            },
            "which is not one of the tools",
        ),
        (
            {
                "model": "m",
                "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": 7}}]}],
            },
            "image_url.url must be a data URL",
        ),
        (
            {
                "model": "m",
                "messages": [
                    {"role": "user", "content": "x"},
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}
                        ],
                    },
                ],
            },
            "messages[1].tool_calls[0].function.arguments must be a string holding JSON",
        ),
        (
            {
                "model": "m",
                "messages": [
                    {"role": "user", "content": "x"},
                    {
                        "role": "assistant",
                        "tool_calls": [{"id": "c1", "type": "function", "function": {"arguments": "{}"}}],
                    },
                ],
            },
            "messages[1].tool_calls[0] must be {id, type: function, function: {name, arguments}}",
        ),
    ],
)
def test_openai_refusals_name_the_field(document, fragment):
    with pytest.raises(BadRequest) as caught:
        parse_chat_request(body(document), LIMIT)
    assert fragment in caught.value.message


def test_anthropic_cache_control_becomes_a_cache_point_after_its_block():
    image = base64.b64encode(PNG).decode()
    request = parse_messages_request(
        body(
            {
                "model": "m",
                "max_tokens": 100,
                "system": [
                    {
                        "type": "text",
                        "text": "long rules",
                        "cache_control": {"type": "ephemeral", "ttl": "1h"},
                    }
                ],
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "image",
                                "source": {"type": "base64", "media_type": "image/png", "data": image},
                            },
                            {"type": "text", "text": "what?", "cache_control": {"type": "ephemeral"}},
                        ],
                    }
                ],
                "tools": [
                    {"name": "f", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}
                ],
                "top_k": 5,
            }
        ),
        LIMIT,
    )
    assert request.system == ({"text": "long rules"}, {"cachePoint": {"type": "default", "ttl": "1h"}})
    content = request.messages[0]["content"]
    assert content[0] == {"image": {"format": "png", "source": {"bytes": PNG}}}
    assert content[2] == {"cachePoint": {"type": "default"}}
    assert request.tool_config["tools"][1] == {"cachePoint": {"type": "default"}}
    assert request.cache_ttls == frozenset({"5m", "1h"})
    assert request.parameters.top_k == 5


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ({"model": "m", "messages": [{"role": "user", "content": "x"}]}, "max_tokens: Field required"),
        (
            {
                "model": "m",
                "max_tokens": 5,
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image", "source": {"type": "url", "url": "https://x"}}],
                    }
                ],
            },
            "source.type must be base64",
        ),
        (
            {"model": "m", "max_tokens": 5, "messages": [{"role": "assistant", "content": "x"}]},
            "starts with a user message",
        ),
    ],
)
def test_anthropic_refusals_name_the_field(document, fragment):
    with pytest.raises(BadRequest) as caught:
        parse_messages_request(body(document), LIMIT)
    assert fragment in caught.value.message


def _with_redacted_thinking(data: object) -> dict:
    return {
        "model": "m",
        "max_tokens": 5,
        "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": [{"type": "redacted_thinking", "data": data}]},
            {"role": "user", "content": "y"},
        ],
    }


def test_an_earlier_redacted_thinking_block_goes_back_to_the_model_as_its_bytes():
    request = parse_messages_request(
        body(_with_redacted_thinking(base64.b64encode(b"opaque").decode())), LIMIT
    )
    assert request.messages[1]["content"] == [{"reasoningContent": {"redactedContent": b"opaque"}}]


@pytest.mark.parametrize(
    ("parse", "document", "fragment"),
    [
        (
            parse_messages_request,
            _with_redacted_thinking("abc"),
            "messages.1.content[0].data is not valid base64",
        ),
        (parse_messages_request, _with_redacted_thinking(7), "messages.1.content[0].data must be base64"),
        (
            parse_messages_request,
            {
                "model": "m",
                "max_tokens": 5,
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "image",
                                "source": {"type": "base64", "media_type": "image/png", "data": "a"},
                            }
                        ],
                    }
                ],
            },
            "messages.0.content[0].source.data is not valid base64",
        ),
        (
            parse_chat_request,
            {
                "model": "m",
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,a"}}],
                    }
                ],
            },
            "messages[0].content[0].image_url.url's data is not valid base64",
        ),
    ],
)
def test_bytes_that_are_not_base64_are_a_400_naming_the_field(parse, document, fragment):
    """Not a 500: every surface decodes inline bytes through core.converse.decode_base64."""
    with pytest.raises(BadRequest) as caught:
        parse(body(document), LIMIT)
    assert fragment in caught.value.message
