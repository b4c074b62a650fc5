"""Every surface's parser answers malformed input with a 4xx that names the field, never a 500.

Each case starts from one rich, valid document per wire format (tools, images, documents, cache points,
thinking), then replaces one member at a time (every path in the document) with a value of a wrong
type or shape, or removes it. The parser must either accept the result or raise a GatewayError below
500: an AttributeError or TypeError would reach the caller as an internal error. This pass found four
kinds of such 500 in the OpenAI translator and one in the Anthropic one.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cost_sentry.core.converse import ConverseRequest, parse_converse, parse_json_api, validate_conversation
from cost_sentry.core.errors import GatewayError
from cost_sentry.core.validation import parse_body
from cost_sentry.surfaces.anthropic import parse_messages_request
from cost_sentry.surfaces.bedrock_runtime import nova_request
from cost_sentry.surfaces.openai import parse_chat_request

LIMIT = 10_000_000
PNG = (
    b"\x89PNG\r\n\x1a\n" + (13).to_bytes(4, "big") + b"IHDR" + (10).to_bytes(4, "big") * 2 + b"\x08\x02\0\0\0"
)
IMAGE = base64.b64encode(PNG).decode()
TOOL = {"toolSpec": {"name": "f", "inputSchema": {"json": {"type": "object"}}}}
CONVERSE_TURNS = [
    {"role": "user", "content": [{"text": "hi"}, {"image": {"format": "png", "source": {"bytes": IMAGE}}}]},
    {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "f", "input": {"a": 1}}}]},
    {
        "role": "user",
        "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "r"}, {"json": {"a": 1}}]}}],
    },
]

DOCUMENTS: dict[str, tuple[Callable[[bytes], ConverseRequest], dict[str, Any]]] = {
    "openai": (
        lambda body: parse_chat_request(body, LIMIT),
        {
            "model": "m",
            "max_tokens": 10,
            "stop": ["x"],
            "temperature": 0.5,
            "stream": True,
            "stream_options": {"include_usage": True},
            "tools": [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {}}}],
            "tool_choice": {"type": "function", "function": {"name": "f"}},
            "messages": [
                {"role": "system", "content": "s"},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "hi"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + IMAGE}},
                    ],
                },
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "r"},
                {"role": "user", "content": "go"},
            ],
        },
    ),
    "anthropic": (
        lambda body: parse_messages_request(body, LIMIT),
        {
            "model": "m",
            "max_tokens": 100,
            "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
            "temperature": 0.5,
            "top_k": 5,
            "stop_sequences": ["x"],
            "thinking": {"type": "enabled", "budget_tokens": 50},
            "tools": [
                {"name": "f", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}
            ],
            "tool_choice": {"type": "auto"},
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "hi"},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": IMAGE},
                        },
                        {
                            "type": "document",
                            "source": {"type": "text", "media_type": "text/plain", "data": "d"},
                        },
                    ],
                },
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "t", "signature": "s"},
                        {"type": "redacted_thinking", "data": "b3BhcXVl"},
                        {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "t1",
                            "content": [{"type": "text", "text": "r"}],
                        }
                    ],
                },
            ],
        },
    ),
    "json_api": (
        lambda body: parse_json_api(body, LIMIT),
        {
            "model": "m",
            "prompt": {
                "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}],
                "parameters": {"max_tokens": 10, "temperature": 0.5, "top_p": 0.9, "top_k": 5},
            },
            "tags": {"applicationId": "a", "costCenter": "x"},
        },
    ),
    "converse": (
        lambda body: parse_converse(parse_body(body, LIMIT), "m"),
        {
            "messages": CONVERSE_TURNS,
            "system": [{"text": "s"}, {"cachePoint": {"type": "default"}}],
            "inferenceConfig": {"maxTokens": 10, "temperature": 0.5, "stopSequences": ["x"]},
            "toolConfig": {"tools": [TOOL, {"cachePoint": {"type": "default"}}], "toolChoice": {"auto": {}}},
            "additionalModelRequestFields": {"top_k": 5},
            "requestMetadata": {"a": "b"},
            "serviceTier": {"type": "default"},
            "guardrailConfig": {"guardrailIdentifier": "g", "guardrailVersion": "1"},
        },
    ),
    "nova_invoke": (
        lambda body: nova_request(parse_body(body, LIMIT), "m"),
        {
            "schemaVersion": "messages-v1",
            "system": [{"text": "s"}],
            "messages": CONVERSE_TURNS,
            "inferenceConfig": {"max_new_tokens": 10, "topK": 5, "reasoningConfig": {"type": "enabled"}},
            "toolConfig": {"tools": [TOOL]},
        },
    ),
}
WRONG = [None, 0, -1, 1.5, 10**20, "", "abc", True, [], {}, [None], {"a": None}, [{}], {"type": None}]
REMOVED = object()


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if path:
        yield path
    if isinstance(value, dict):
        for key, member in value.items():
            yield from _paths(member, (*path, key))
    elif isinstance(value, list):
        for index, member in enumerate(value):
            yield from _paths(member, (*path, index))


def _with(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    parent = changed
    for step in path[:-1]:
        parent = parent[step]
    if value is REMOVED:
        del parent[path[-1]]
    else:
        parent[path[-1]] = copy.deepcopy(value)
    return changed


@pytest.mark.parametrize("surface", sorted(DOCUMENTS))
def test_the_valid_document_parses(surface: str) -> None:
    parse, document = DOCUMENTS[surface]
    validate_conversation(parse(json.dumps(document).encode()))


@pytest.mark.parametrize("surface", sorted(DOCUMENTS))
def test_one_wrong_member_anywhere_is_a_4xx_never_a_500(surface: str) -> None:
    parse, document = DOCUMENTS[surface]
    crashes = []
    tried = 0
    for path in _paths(document):
        for value in [*WRONG, REMOVED]:
            body = json.dumps(_with(document, path, value)).encode()
            tried += 1
            try:
                validate_conversation(parse(body))
            except GatewayError as error:
                if error.status >= 500:
                    crashes.append((path, value, repr(error)))
            except Exception as error:  # what the caller would get as a 500
                crashes.append((path, value if value is not REMOVED else "<removed>", repr(error)))
    assert tried > 200
    assert crashes == []
