"""The Anthropic Messages surface: ``POST /v1/messages``.

The official ``anthropic`` SDK works with ``base_url=<gateway>`` and the tenant's key as its API key
(``x-api-key``; ``Authorization: Bearer`` works too). System text blocks, multi-turn messages with
text, image and document blocks (base64), ``tool_use`` / ``tool_result``, earlier ``thinking`` blocks,
``tools`` / ``tool_choice``, ``cache_control`` (mapped to a Converse ``cachePoint`` after the block, with
its ``ttl``), ``thinking`` (to ``additionalModelRequestFields``), ``stop_sequences``, ``top_k`` and
``stream`` (events ``message_start`` ... ``message_stop``) map onto the Converse content model. Errors
answer in Anthropic's shape: ``{"type": "error", "error": {"type", "message"}}``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from typing import Any

from cost_sentry.core.converse import (
    ConverseRequest,
    cache_point,
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
from cost_sentry.core.validation import TOP_K_MAX, parse_body
from cost_sentry.service.gateway import GatewayService
from cost_sentry.service.results import Completion, Done, StreamEvent, converse_event
from cost_sentry.surfaces import http
from cost_sentry.surfaces.surface import Exchange, Incoming, Surface, event_stream_headers

MESSAGES = "/v1/messages"
ROUTES = {MESSAGES: "POST"}
FIELDS = frozenset(
    {
        "model",
        "messages",
        "system",
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "stream",
        "tools",
        "tool_choice",
        "thinking",
        "metadata",
        "service_tier",
    }
)
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
}
_DOCUMENT_TYPES = {
    "application/pdf": "pdf",
    "text/plain": "txt",
    "text/csv": "csv",
    "text/html": "html",
    "text/markdown": "md",
}
_IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}


def error_type(error: GatewayError) -> str:
    return _ERROR_TYPES.get(error.status, "api_error")


def error_document(error: GatewayError) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": error_type(error), "message": error.message, **error.details},
    }


def error_response(error: GatewayError, request_id: str) -> http.HttpResponse:
    return http.json_response(
        error.status,
        error_document(error),
        request_id,
        {"request-id": request_id, **http.error_headers(error)},
    )


# -- request ----------------------------------------------------------------------------------------


def _base64_source(source: Any, where: str, types: Mapping[str, str]) -> tuple[str, bytes]:
    if not isinstance(source, dict):
        raise BadRequest("invalid_content", f"{where}.source must be an object")
    if source.get("type") == "text" and "text/plain" in types:
        data = source.get("data")
        if not isinstance(data, str):
            raise BadRequest("invalid_content", f"{where}.source.data must be a string")
        return "txt", data.encode("utf-8")
    if source.get("type") != "base64":
        raise BadRequest(
            "unsupported_content",
            f"{where}.source.type must be base64: the gateway does not fetch URLs or files, so it can bound their cost",
        )
    media_type = source.get("media_type")
    if not isinstance(media_type, str) or media_type not in types:
        raise BadRequest("invalid_content", f"{where}.source.media_type must be one of {', '.join(types)}")
    return types[media_type], decode_base64(source.get("data") or "", f"{where}.source.data")


def _cache_control(block: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    control = block.get("cache_control")
    if control is None:
        return []
    if not isinstance(control, dict) or control.get("type") != "ephemeral":
        raise BadRequest("invalid_content", f'{where}.cache_control must be {{"type": "ephemeral"}}')
    point: dict[str, Any] = {"type": "default"}
    if "ttl" in control:
        point["ttl"] = control["ttl"]
    return [cache_point(point, f"{where}.cache_control")]


def _blocks(content: Any, where: str, role: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        if not content:
            raise BadRequest("empty_content", f"{where} must not be empty")
        return [{"text": content}]
    if not isinstance(content, list) or not content:
        raise BadRequest("empty_content", f"{where} must be a non-empty string or list of content blocks")
    blocks: list[dict[str, Any]] = []
    for index, block in enumerate(content):
        inner = f"{where}[{index}]"
        blocks.append(_block(block, inner, index, role))
        blocks.extend(_cache_control(block, inner))
    return blocks


def _block(block: Any, inner: str, index: int, role: str) -> dict[str, Any]:
    """One Messages content block as a Converse content block."""
    kind = block.get("type") if isinstance(block, dict) else None
    if kind == "text":
        if not isinstance(block.get("text"), str) or not block["text"]:
            raise BadRequest("empty_content", f"{inner}.text must be a non-empty string")
        return {"text": block["text"]}
    if kind == "image":
        fmt, data = _base64_source(block.get("source"), inner, _IMAGE_TYPES)
        return image_block(fmt, data, inner)
    if kind == "document":
        fmt, data = _base64_source(block.get("source"), inner, _DOCUMENT_TYPES)
        name = str(block.get("title") or f"document-{index}")
        name = "".join(c if c.isalnum() or c in " -()[]" else "-" for c in name)[:200]
        return {"document": {"format": fmt, "name": name, "source": {"bytes": data}}}
    if kind == "tool_use":
        if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
            raise BadRequest("invalid_content", f"{inner} needs id and name")
        use = {"toolUseId": block["id"], "name": block["name"], "input": plain_json(block.get("input") or {})}
        return {"toolUse": use}
    if kind == "tool_result":
        return {"toolResult": _tool_result(block, inner, role)}
    if kind == "thinking":
        text = {"text": str(block.get("thinking", "")), "signature": str(block.get("signature", ""))}
        return {"reasoningContent": {"reasoningText": text}}
    if kind == "redacted_thinking":
        return {"reasoningContent": {"redactedContent": decode_base64(block.get("data"), f"{inner}.data")}}
    raise BadRequest(
        "unsupported_content",
        f"{inner}.type must be text, image, document, tool_use, tool_result or thinking, got {kind!r}",
    )


def _tool_result(block: dict[str, Any], inner: str, role: str) -> dict[str, Any]:
    content = block.get("content")
    if isinstance(content, str) or content is None:
        inner_blocks: list[dict[str, Any]] = [{"text": content or ""}]
    else:
        inner_blocks = _blocks(content, f"{inner}.content", role)
    result: dict[str, Any] = {"toolUseId": str(block.get("tool_use_id") or ""), "content": inner_blocks}
    if block.get("is_error"):
        result["status"] = "error"
    return result


def _system(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [{"text": raw}] if raw else []
    if not isinstance(raw, list):
        raise BadRequest("invalid_field", "system must be a string or a list of text blocks")
    blocks = []
    for index, block in enumerate(raw):
        where = f"system[{index}]"
        if (
            not isinstance(block, dict)
            or block.get("type") != "text"
            or not isinstance(block.get("text"), str)
        ):
            raise BadRequest("invalid_field", f"{where} must be a text block")
        blocks.append({"text": block["text"]})
        blocks.extend(_cache_control(block, where))
    return blocks


def _tools(raw: Any, choice: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw:
        raise BadRequest("invalid_tools", "tools must be a non-empty list")
    tools: list[dict[str, Any]] = []
    for index, tool in enumerate(raw):
        if (
            not isinstance(tool, dict)
            or not isinstance(tool.get("name"), str)
            or tool.get("type") not in (None, "custom")
        ):
            raise BadRequest("invalid_tools", f"tools[{index}] must be a custom tool {{name, input_schema}}")
        spec: dict[str, Any] = {
            "name": tool["name"],
            "inputSchema": {"json": plain_json(tool.get("input_schema") or {})},
        }
        if tool.get("description"):
            spec["description"] = str(tool["description"])
        tools.append({"toolSpec": spec})
        tools.extend(_cache_control(tool, f"tools[{index}]"))
    config: dict[str, Any] = {"tools": tools}
    if isinstance(choice, dict):
        kind = choice.get("type")
        if kind == "any":
            config["toolChoice"] = {"any": {}}
        elif kind == "tool":
            config["toolChoice"] = {"tool": {"name": str(choice.get("name"))}}
        elif kind == "none":
            raise BadRequest(
                "invalid_tools", 'tool_choice "none" is not supported: leave the tools out instead'
            )
        elif kind != "auto":
            raise BadRequest("invalid_tools", "tool_choice.type must be auto, any or tool")
    return config


def parse_messages_request(body: bytes, max_body_bytes: int) -> ConverseRequest:
    return messages_request(parse_body(body, max_body_bytes))


def messages_request(document: Mapping[str, Any]) -> ConverseRequest:
    """A Messages API body (already parsed, exact decimals) as the content model."""
    unknown = sorted(set(document) - FIELDS)
    if unknown:
        raise BadRequest("unknown_field", f"unsupported field(s): {', '.join(unknown)}")
    model = document.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("invalid_model", "model: Field required")
    max_tokens = whole(document.get("max_tokens"), "max_tokens", 1, None)
    if max_tokens is None:
        raise BadRequest("invalid_parameter", "max_tokens: Field required")
    raw = document.get("messages")
    if not isinstance(raw, list) or not raw:
        raise BadRequest("missing_messages", "messages: a non-empty list is required")
    messages = []
    for index, message in enumerate(raw):
        where = f"messages.{index}"
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("user", "assistant"):
            raise BadRequest("invalid_role", f"{where}.role must be user or assistant")
        messages.append({"role": role, "content": _blocks(message.get("content"), f"{where}.content", role)})
    extra: dict[str, Any] = {}
    thinking = document.get("thinking")
    if thinking is not None:
        extra["thinking"] = plain_json(thinking)
    top_k = whole(document.get("top_k"), "top_k", 1, TOP_K_MAX)
    request = ConverseRequest(
        model=model,
        messages=tuple(messages),
        system=tuple(_system(document.get("system"))),
        parameters=sampling(document, max_tokens, top_k),
        stop_sequences=stop_sequences(document.get("stop_sequences"), "stop_sequences"),
        tool_config=_tools(document.get("tools"), document.get("tool_choice")),
        additional_fields=extra or None,
    )
    validate_conversation(request)
    return request


# -- response ---------------------------------------------------------------------------------------

_STOP = {
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "tool_use": "tool_use",
}


def usage_document(usage: Usage) -> dict[str, Any]:
    undetailed = usage.cache_write_tokens - usage.cache_write_5m_tokens - usage.cache_write_1h_tokens
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.cache_write_5m_tokens + undetailed,
            "ephemeral_1h_input_tokens": usage.cache_write_1h_tokens,
        },
    }


def message_document(completion: Completion, message_id: str, model: str) -> dict[str, Any]:
    """A Messages API response (also the body InvokeModel answers for an Anthropic model)."""
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": _content(completion.content),
        "stop_reason": _STOP.get(completion.stop_reason or "", "end_turn"),
        "stop_sequence": None,
        "usage": usage_document(completion.usage),
    }


def _content(blocks: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for block in blocks:
        if "text" in block:
            out.append({"type": "text", "text": block["text"]})
        elif "toolUse" in block:
            use = block["toolUse"]
            out.append(
                {"type": "tool_use", "id": use["toolUseId"], "name": use["name"], "input": use["input"]}
            )
        elif "reasoningContent" in block:
            reasoning = block["reasoningContent"]
            if "redactedContent" in reasoning:
                out.append(
                    {
                        "type": "redacted_thinking",
                        "data": base64.b64encode(reasoning["redactedContent"]).decode(),
                    }
                )
            else:
                text = reasoning.get("reasoningText", {})
                out.append(
                    {
                        "type": "thinking",
                        "thinking": text.get("text", ""),
                        "signature": text.get("signature", ""),
                    }
                )
    return out


def _event(name: str, document: dict[str, Any]) -> dict[str, Any]:
    return {"type": name, **document}


def sse(documents: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    """Messages stream events as server-sent events (``event: <type>`` + ``data: <json>``)."""
    return map(_sse_event, documents)


def _sse_event(document: dict[str, Any]) -> bytes:
    return f"event: {document['type']}\ndata: {http.dumps(document)}\n\n".encode()


def failure_event(error: GatewayError) -> dict[str, Any]:
    """A failure after the stream began, as the Messages stream reports one."""
    return _event("error", {"error": {"type": "api_error", "message": error.message}})


class MessageStream:
    """Converse stream events as Messages stream events. Converse opens only tool-use blocks
    explicitly; text and reasoning blocks start with their first delta, so a block is opened here on
    the first event that names its index."""

    def __init__(self, message_id: str, model: str) -> None:
        self.message_id = message_id
        self.model = model
        self.open_block: int | None = None
        self.stop_reason: str | None = None

    def events(self, events: Iterator[StreamEvent]) -> Iterator[dict[str, Any]]:
        yield self._message_start()
        for event in events:
            if isinstance(event, Done):
                yield from self._end(event)
            else:
                yield from self._converse(converse_event(event))

    def _message_start(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return _event("message_start", {"message": message})

    def _start(self, index: int, block: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if self.open_block == index:
            return
        yield from self._stop()
        self.open_block = index
        yield _event("content_block_start", {"index": index, "content_block": block})

    def _stop(self) -> Iterator[dict[str, Any]]:
        if self.open_block is not None:
            yield _event("content_block_stop", {"index": self.open_block})
            self.open_block = None

    def _converse(self, converse: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if "contentBlockStart" in converse:
            begin = converse["contentBlockStart"]
            tool = begin.get("start", {}).get("toolUse")
            if tool is not None:
                block = {"type": "tool_use", "id": tool["toolUseId"], "name": tool["name"], "input": {}}
                yield from self._start(begin["contentBlockIndex"], block)
        elif "contentBlockDelta" in converse:
            yield from self._delta(converse["contentBlockDelta"])
        elif "contentBlockStop" in converse:
            if self.open_block == converse["contentBlockStop"]["contentBlockIndex"]:
                yield from self._stop()
        elif "messageStop" in converse:
            self.stop_reason = converse["messageStop"].get("stopReason")

    def _delta(self, block: dict[str, Any]) -> Iterator[dict[str, Any]]:
        index, delta = block["contentBlockIndex"], block.get("delta", {})
        payload: dict[str, Any]
        if "text" in delta:
            yield from self._start(index, {"type": "text", "text": ""})
            payload = {"type": "text_delta", "text": delta["text"]}
        elif "toolUse" in delta:
            payload = {"type": "input_json_delta", "partial_json": delta["toolUse"]["input"]}
        elif "reasoningContent" in delta:
            reasoning = delta["reasoningContent"]
            yield from self._start(index, {"type": "thinking", "thinking": "", "signature": ""})
            if "text" in reasoning:
                payload = {"type": "thinking_delta", "thinking": reasoning["text"]}
            else:
                payload = {"type": "signature_delta", "signature": reasoning.get("signature", "")}
        else:
            return
        yield _event("content_block_delta", {"index": index, "delta": payload})

    def _end(self, done: Done) -> Iterator[dict[str, Any]]:
        yield from self._stop()
        stop = {"stop_reason": _STOP.get(self.stop_reason or "", "end_turn"), "stop_sequence": None}
        # The settled cost as an extension field of usage (the SDK's models keep it).
        usage = {**usage_document(done.usage), **http.cost_member(done.cost, snake_case=True)}
        yield _event("message_delta", {"delta": stop, "usage": usage})
        yield _event("message_stop", {})


def parse(incoming: Incoming, service: GatewayService) -> Exchange:
    if incoming.http.method != "POST":
        raise MethodNotAllowed("method_not_allowed", f"{incoming.http.path} accepts POST only")
    request_id = incoming.request_id
    message_id = f"msg_{request_id.replace('-', '')}"
    model = str(incoming.peek.get("model") or "")
    if incoming.peek.get("stream") is not True:

        def answer(completion: Completion) -> http.HttpResponse:
            headers = {"request-id": request_id, **http.cost_headers(completion.cost)}
            return http.json_response(
                200, message_document(completion, message_id, model), request_id, headers
            )

        return Exchange(incoming.call("anthropic-messages", parser=parse_messages_request), answer=answer)
    return Exchange(
        incoming.call("anthropic-messages-stream", parser=parse_messages_request),
        events=lambda events: sse(MessageStream(message_id, model).events(events)),
        failure=lambda error: _sse_event(failure_event(error)),
        stream_headers=event_stream_headers("request-id", request_id),
    )


SURFACE = Surface("anthropic", ROUTES.__contains__, parse, error_response)
