"""The OpenAI Chat Completions surface: ``POST /v1/chat/completions`` and ``GET /v1/models``.

The official ``openai`` SDK works with ``base_url=<gateway>/v1`` and the tenant's key as its API key
(``Authorization: Bearer``). Messages (system/developer, user with text and ``image_url`` data URLs,
assistant with ``tool_calls``, tool results), ``tools``/``tool_choice``, ``max_tokens`` /
``max_completion_tokens``, ``stop``, ``temperature``/``top_p`` and ``stream`` (server-sent events, with
``stream_options.include_usage``) map onto the Converse content model. Errors answer in OpenAI's shape:
``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any

from cost_sentry.core.converse import (
    ConverseRequest,
    decode_base64,
    image_block,
    plain_json,
    sampling,
    stop_sequences,
    validate_conversation,
    whole,
)
from cost_sentry.core.errors import BadRequest, GatewayError, MethodNotAllowed
from cost_sentry.core.pricing import Usage
from cost_sentry.core.validation import parse_body
from cost_sentry.service.gateway import GatewayService
from cost_sentry.service.results import ApiCall, Completion, Done, StreamEvent, converse_event
from cost_sentry.surfaces import http
from cost_sentry.surfaces.surface import Exchange, Incoming, Surface, event_stream_headers

CHAT = "/v1/chat/completions"
MODELS = "/v1/models"
ROUTES = {CHAT: "POST", MODELS: "GET"}
FIELDS = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "stop",
        "stream",
        "stream_options",
        "tools",
        "tool_choice",
        "n",
        "user",
        "metadata",
        "store",
        "parallel_tool_calls",
        "service_tier",
    }
)
_DATA_URL = re.compile(r"^data:image/(?P<format>png|jpeg|jpg|gif|webp);base64,(?P<data>.+)$", re.DOTALL)
_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "content_filtered": "content_filter",
    "guardrail_intervened": "content_filter",
}
_SERVICE_TIERS = {"auto": None, "default": "default", "flex": "flex", "priority": "priority"}


def _type_for(status: int) -> str:
    if status == 401:
        return "invalid_request_error"
    if status == 403:
        return "permission_error"
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def error_response(error: GatewayError, request_id: str) -> http.HttpResponse:
    code = "invalid_api_key" if error.status == 401 else error.code
    if error.code == "budget_exhausted":
        code = "insufficient_quota"
    document = {
        "error": {
            "message": error.message,
            "type": _type_for(error.status),
            "param": None,
            "code": code,
            **error.details,
        }
    }
    return http.json_response(
        error.status, document, request_id, {"x-request-id": request_id, **http.error_headers(error)}
    )


# -- request ----------------------------------------------------------------------------------------


def _text_of(content: Any, where: str) -> str:
    """Content that may only be text: a string or a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for index, part in enumerate(content):
            if (
                not isinstance(part, dict)
                or part.get("type") != "text"
                or not isinstance(part.get("text"), str)
            ):
                raise BadRequest("invalid_content", f"{where}[{index}] must be a text part here")
            parts.append(part["text"])
        return "".join(parts)
    raise BadRequest("invalid_content", f"{where} must be a string or a list of content parts")


def _image(part: Mapping[str, Any], where: str) -> dict[str, Any]:
    url = part["image_url"].get("url") if isinstance(part.get("image_url"), dict) else None
    match = _DATA_URL.match(url) if isinstance(url, str) else None
    if match is None:
        raise BadRequest(
            "unsupported_content",
            f"{where}.image_url.url must be a data URL (data:image/png;base64,...): the gateway does not fetch "
            "remote images, so it can bound their cost",
        )
    data = decode_base64(match["data"], f"{where}.image_url.url's data")
    fmt = "jpeg" if match["format"] == "jpg" else match["format"]
    return image_block(fmt, data, f"{where}.image_url")


def _user_blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        if not content:
            raise BadRequest("empty_content", f"{where} must not be empty")
        return [{"text": content}]
    if not isinstance(content, list) or not content:
        raise BadRequest("empty_content", f"{where} must be a non-empty string or list of content parts")
    blocks = []
    for index, part in enumerate(content):
        inner = f"{where}[{index}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str) and part["text"]:
            blocks.append({"text": part["text"]})
        elif kind == "image_url":
            blocks.append(_image(part, inner))
        else:
            raise BadRequest("unsupported_content", f"{inner}.type must be text or image_url, got {kind!r}")
    return blocks


def _tool_calls(raw: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise BadRequest("invalid_content", f"{where} must be a list")
    blocks = []
    for index, call in enumerate(raw):
        inner = f"{where}[{index}]"
        function = call.get("function") if isinstance(call, dict) else None
        if (
            not isinstance(function, dict)
            or not isinstance(call.get("id"), str)
            or not isinstance(function.get("name"), str)
        ):
            raise BadRequest(
                "invalid_content", f"{inner} must be {{id, type: function, function: {{name, arguments}}}}"
            )
        arguments = _arguments(function.get("arguments") or "{}", f"{inner}.function.arguments")
        blocks.append({"toolUse": {"toolUseId": call["id"], "name": function["name"], "input": arguments}})
    return blocks


def _arguments(raw: Any, where: str) -> Any:
    """A tool call's arguments, which OpenAI sends as a string holding JSON."""
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            pass
    raise BadRequest("invalid_content", f"{where} must be a string holding JSON")


def _messages(raw: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if not isinstance(raw, list) or not raw:
        raise BadRequest("missing_messages", "messages must be a non-empty list")
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        # OpenAI allows consecutive messages of a role (and tool results before a user message):
        # Converse wants one message per turn, so they merge.
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})

    for index, message in enumerate(raw):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise BadRequest("invalid_message", f"{where} must be an object")
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "developer"):
            if turns:
                raise BadRequest("role_order", f"{where}: system messages must come before the conversation")
            text = _text_of(content, f"{where}.content")
            if text:
                system.append({"text": text})
        elif role == "user":
            add("user", _user_blocks(content, f"{where}.content"))
        elif role == "assistant":
            blocks: list[dict[str, Any]] = []
            if content:
                text = _text_of(content, f"{where}.content")
                if text:
                    blocks.append({"text": text})
            if message.get("tool_calls"):
                blocks.extend(_tool_calls(message["tool_calls"], f"{where}.tool_calls"))
            if not blocks:
                raise BadRequest("empty_content", f"{where} needs content or tool_calls")
            add("assistant", blocks)
        elif role == "tool":
            tool_call_id = message.get("tool_call_id")
            if not isinstance(tool_call_id, str) or not tool_call_id:
                raise BadRequest("invalid_message", f"{where}.tool_call_id is required")
            text = _text_of(content, f"{where}.content")
            add("user", [{"toolResult": {"toolUseId": tool_call_id, "content": [{"text": text}]}}])
        else:
            raise BadRequest(
                "invalid_role", f"{where}.role must be system, developer, user, assistant or tool"
            )
    return system, turns


def _tools(raw: Any, choice: Any) -> dict[str, Any] | None:
    if raw is None:
        if choice not in (None, "none", "auto"):
            raise BadRequest("invalid_tools", "tool_choice needs tools")
        return None
    if not isinstance(raw, list) or not raw:
        raise BadRequest("invalid_tools", "tools must be a non-empty list")
    tools = []
    for index, tool in enumerate(raw):
        function = tool.get("function") if isinstance(tool, dict) and tool.get("type") == "function" else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise BadRequest(
                "invalid_tools", f"tools[{index}] must be {{type: function, function: {{name, parameters}}}}"
            )
        spec: dict[str, Any] = {
            "name": function["name"],
            "inputSchema": {
                "json": plain_json(function.get("parameters") or {"type": "object", "properties": {}})
            },
        }
        if function.get("description"):
            spec["description"] = str(function["description"])
        tools.append({"toolSpec": spec})
    config: dict[str, Any] = {"tools": tools}
    if choice == "required":
        config["toolChoice"] = {"any": {}}
    elif isinstance(choice, dict):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str) or name not in {t["toolSpec"]["name"] for t in tools}:
            raise BadRequest("invalid_tools", f"tool_choice names {name!r}, which is not one of the tools")
        config["toolChoice"] = {"tool": {"name": name}}
    elif choice == "none":
        raise BadRequest("invalid_tools", 'tool_choice "none" is not supported: leave the tools out instead')
    elif choice not in (None, "auto"):
        raise BadRequest(
            "invalid_tools", 'tool_choice must be "auto", "required" or {"type": "function", ...}'
        )
    return config


def parse_chat_request(body: bytes, max_body_bytes: int) -> ConverseRequest:
    document = parse_body(body, max_body_bytes)
    unknown = sorted(set(document) - FIELDS)
    if unknown:
        raise BadRequest("unknown_field", f"unsupported field(s): {', '.join(unknown)}")
    model = document.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("invalid_model", "model is required: one of GET /v1/models")
    if document.get("n") not in (None, 1):
        raise BadRequest("invalid_parameter", "n must be 1: the gateway returns one choice")
    max_tokens = whole(document.get("max_completion_tokens"), "max_completion_tokens", 1, None)
    if max_tokens is None:
        max_tokens = whole(document.get("max_tokens"), "max_tokens", 1, None)
    tier = document.get("service_tier")
    if tier is not None and tier not in _SERVICE_TIERS:
        raise BadRequest("invalid_parameter", f"service_tier must be one of {', '.join(_SERVICE_TIERS)}")
    system, messages = _messages(document.get("messages"))
    request = ConverseRequest(
        model=model,
        messages=tuple(messages),
        system=tuple(system),
        parameters=sampling(document, max_tokens),
        stop_sequences=stop_sequences(document.get("stop"), "stop"),
        tool_config=_tools(document.get("tools"), document.get("tool_choice")),
        service_tier=_SERVICE_TIERS.get(tier) if tier else None,
    )
    validate_conversation(request)
    return request


# -- response ---------------------------------------------------------------------------------------


def _usage(usage: Usage) -> dict[str, Any]:
    prompt, completion = usage.total_input_tokens, usage.output_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
    }


def _message(completion: Completion) -> dict[str, Any]:
    text = "".join(b["text"] for b in completion.content if "text" in b)
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    calls = [
        {
            "id": b["toolUse"]["toolUseId"],
            "type": "function",
            "function": {"name": b["toolUse"]["name"], "arguments": json.dumps(b["toolUse"]["input"])},
        }
        for b in completion.content
        if "toolUse" in b
    ]
    if calls:
        message["tool_calls"] = calls
    return message


class _Chat:
    """One Chat Completions request: its id and the model it named, for the answer or the chunks."""

    def __init__(self, incoming: Incoming) -> None:
        self.request_id = incoming.request_id
        self.completion_id = f"chatcmpl-{incoming.request_id}"
        self.model = str(incoming.peek.get("model") or "")
        options = incoming.peek.get("stream_options")
        self.include_usage = isinstance(options, dict) and options.get("include_usage") is True
        self.created = int(time.time())

    def answer(self, completion: Completion) -> http.HttpResponse:
        document: dict[str, Any] = {
            "id": self.completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model or completion.model,
            "choices": [
                {
                    "index": 0,
                    "message": _message(completion),
                    "finish_reason": _FINISH.get(completion.stop_reason or "", "stop"),
                }
            ],
            "usage": _usage(completion.usage),
        }
        if completion.usage.service_tier:
            document["service_tier"] = completion.usage.service_tier
        headers = {"x-request-id": self.request_id, **http.cost_headers(completion.cost)}
        return http.json_response(200, document, self.request_id, headers)

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    def events(self, events: Iterator[StreamEvent]) -> Iterator[bytes]:
        tool_indexes: dict[int, int] = {}  # Converse block index -> OpenAI tool_calls index
        stop_reason: str | None = None
        yield http.sse_data(self._chunk({"role": "assistant", "content": ""}))
        for event in events:
            if isinstance(event, Done):
                yield from self._last(event, _FINISH.get(stop_reason or event.stop_reason or "", "stop"))
                continue
            converse = converse_event(event)
            if "messageStop" in converse:
                stop_reason = converse["messageStop"].get("stopReason")
            delta = _delta(converse, tool_indexes)
            if delta is not None:
                yield http.sse_data(self._chunk(delta))
        yield b"data: [DONE]\n\n"

    def _last(self, done: Done, finish: str) -> Iterator[bytes]:
        # The settled cost rides on the last chunk as an extension field (the SDK's models keep unknown
        # fields): the usage chunk when the caller asked for it, else the finish chunk.
        cost = http.cost_member(done.cost, snake_case=True)
        if not self.include_usage:
            yield http.sse_data({**self._chunk({}, finish), **cost})
            return
        yield http.sse_data(self._chunk({}, finish))
        yield http.sse_data({**self._chunk({}), "choices": [], "usage": _usage(done.usage), **cost})

    def failure(self, error: GatewayError) -> bytes:
        document = {
            "error": {"message": error.message, "type": "server_error", "param": None, "code": error.code}
        }
        return http.sse_data(document) + b"data: [DONE]\n\n"


def _delta(converse: dict[str, Any], tool_indexes: dict[int, int]) -> dict[str, Any] | None:
    """A Converse stream event as a chunk's delta: text, or a tool call's start or arguments."""
    if "contentBlockStart" in converse:
        start = converse["contentBlockStart"]
        tool = start.get("start", {}).get("toolUse")
        if tool is None:
            return None
        position = tool_indexes.setdefault(start["contentBlockIndex"], len(tool_indexes))
        call = {
            "index": position,
            "id": tool["toolUseId"],
            "type": "function",
            "function": {"name": tool["name"], "arguments": ""},
        }
        return {"tool_calls": [call]}
    if "contentBlockDelta" in converse:
        block = converse["contentBlockDelta"]
        delta = block.get("delta", {})
        if "text" in delta:
            return {"content": delta["text"]}
        if "toolUse" in delta:
            position = tool_indexes.setdefault(block["contentBlockIndex"], len(tool_indexes))
            return {"tool_calls": [{"index": position, "function": {"arguments": delta["toolUse"]["input"]}}]}
    return None


def _models(service: GatewayService, call: ApiCall) -> http.HttpResponse:
    listed = service.models(call)
    data = [
        {"id": name, "object": "model", "created": 0, "owned_by": family} for name, family in listed.models
    ]
    data += [{"id": alias, "object": "model", "created": 0, "owned_by": "alias"} for alias in listed.aliases]
    headers = {"x-request-id": call.request_id}
    return http.json_response(200, {"object": "list", "data": data}, call.request_id, headers)


def parse(incoming: Incoming, service: GatewayService) -> Exchange:
    path, method = incoming.http.path, incoming.http.method
    if method != ROUTES[path]:
        raise MethodNotAllowed("method_not_allowed", f"{path} accepts {ROUTES[path]} only")
    if path == MODELS:
        return Exchange(incoming.call("openai-models", body=b""), direct=_models)
    chat = _Chat(incoming)
    if incoming.peek.get("stream") is not True:
        return Exchange(incoming.call("openai-chat", parser=parse_chat_request), answer=chat.answer)
    return Exchange(
        incoming.call("openai-chat-stream", parser=parse_chat_request),
        events=chat.events,
        failure=chat.failure,
        stream_headers=event_stream_headers("x-request-id", incoming.request_id),
    )


SURFACE = Surface("openai", ROUTES.__contains__, parse, error_response)
