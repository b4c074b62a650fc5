"""The native Bedrock runtime surface: ``POST /model/{modelId}/converse`` and ``/converse-stream``.

Wire-compatible with bedrock-runtime's rest-json protocol, so boto3 / the AWS SDKs / LangChain's
ChatBedrockConverse work unchanged with ``endpoint_url`` set to the gateway and the tenant's key as
``AWS_BEARER_TOKEN_BEDROCK``. ``modelId`` may be a short name, an alias, a base model id, a system
inference profile id, or the tenant's own application inference profile ARN (percent-encoded in the
path). Errors answer in Bedrock's shape (``x-amzn-ErrorType`` + ``{"message"}``); ConverseStream answers
``application/vnd.amazon.eventstream`` frames, an error after the first frame as an exception frame.

``InvokeModel`` / ``InvokeModelWithResponseStream`` (``/invoke``, ``/invoke-with-response-stream``) take
Anthropic Messages bodies (``anthropic_version: bedrock-2023-05-31``) for Anthropic models: the body is
read by the Anthropic surface's parser and run through Converse, so its usage is metered exactly like
every other call, and the answer comes back in InvokeModel's Anthropic format (stream: ``chunk``
events whose ``bytes`` are the Messages stream events). Other bodies are refused with a 400 that
points at Converse, because the gateway could not meter them exactly.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import unquote

from cost_sentry.core.converse import ConverseRequest, parse_converse
from cost_sentry.core.errors import BadRequest, GatewayError, NotFound
from cost_sentry.core.pricing import Usage
from cost_sentry.core.validation import parse_body
from cost_sentry.service.gateway import ApiCall, GatewayService
from cost_sentry.surfaces import anthropic
from cost_sentry.surfaces.eventstream import encode_event, encode_exception
from cost_sentry.surfaces.http import (
    HttpRequest,
    HttpResponse,
    dumps,
    error_from_result,
    error_headers,
    json_response,
    money_headers,
    status_error,
)

PATH = re.compile(
    r"^/model/(?P<model>[^/]+)/(?P<action>converse|converse-stream|invoke|invoke-with-response-stream)$"
)
STREAMING_ACTIONS = ("converse-stream", "invoke-with-response-stream")
ANTHROPIC_VERSION = "bedrock-2023-05-31"
EVENTSTREAM = "application/vnd.amazon.eventstream"

# GatewayError status -> Bedrock's error type (botocore reads the error code from x-amzn-ErrorType).
_ERROR_TYPES = {
    400: "ValidationException",
    401: "UnrecognizedClientException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    405: "ValidationException",
    413: "ValidationException",
    429: "ThrottlingException",
    500: "InternalServerException",
    502: "InternalServerException",
    503: "ServiceUnavailableException",
    504: "ModelTimeoutException",
}
# An error after the first frame, as ConverseStream's modelled exception events name it.
_STREAM_EXCEPTIONS_BY_CODE = {
    "bedrock_throttled": "throttlingException",
    "bedrock_validation": "validationException",
    "bedrock_timeout": "modelStreamErrorException",
    "bedrock_stream_incomplete": "modelStreamErrorException",
}


def matches(path: str) -> bool:
    return PATH.match(path) is not None


def error_type(error: GatewayError) -> str:
    return _ERROR_TYPES.get(error.status, "InternalServerException")


def error_response(error: GatewayError, request_id: str) -> HttpResponse:
    response = json_response(
        error.status,
        {"message": error.message, "code": error.code},
        request_id,
        {"x-amzn-ErrorType": error_type(error), "x-amzn-RequestId": request_id, **error_headers(error)},
    )
    return response


def model_id_of(request: HttpRequest) -> tuple[str, str]:
    """(the decoded modelId, the action). API Gateway decodes path parameters itself."""
    match = PATH.match(request.path)
    if match is None:
        raise NotFound("not_found", f"no route {request.path!r}")
    model = request.path_parameters.get("modelId") or unquote(match["model"])
    return model, match["action"]


def _parser(model_id: str):
    def parse(body: bytes, max_body_bytes: int) -> ConverseRequest:
        return parse_converse(parse_body(body, max_body_bytes), model_id)

    return parse


def usage_document(usage: Usage | None, fallback: dict[str, Any]) -> dict[str, Any]:
    """Converse's ``usage`` as Bedrock reported it (the cache fields included)."""
    if usage is None:
        return {k: fallback[k] for k in ("inputTokens", "outputTokens", "totalTokens")}
    document: dict[str, Any] = {
        "inputTokens": usage.input_tokens,
        "outputTokens": usage.output_tokens,
        "totalTokens": usage.total_tokens,
    }
    if usage.cache_read_tokens or usage.cache_write_tokens:
        document["cacheReadInputTokens"] = usage.cache_read_tokens
        document["cacheWriteInputTokens"] = usage.cache_write_tokens
        details = [
            {"ttl": ttl, "inputTokens": tokens}
            for ttl, tokens in (("5m", usage.cache_write_5m_tokens), ("1h", usage.cache_write_1h_tokens))
            if tokens
        ]
        if details:
            document["cacheDetails"] = details
    return document


def _invoke_parser(model_id: str):
    def parse(body: bytes, max_body_bytes: int) -> ConverseRequest:
        document = parse_body(body, max_body_bytes)
        if document.get("anthropic_version") != ANTHROPIC_VERSION:
            raise BadRequest(
                "unsupported_body",
                f"InvokeModel bodies are metered for Anthropic models with anthropic_version "
                f"{ANTHROPIC_VERSION!r} only; use Converse (POST /model/{{modelId}}/converse) for any model",
            )
        fields = {
            key: value
            for key, value in document.items()
            if key not in ("anthropic_version", "anthropic_beta")
        }
        request = anthropic.messages_request({**fields, "model": model_id})
        if document.get("anthropic_beta"):
            extra = dict(request.additional_fields or {})
            extra["anthropic_beta"] = document["anthropic_beta"]
            request = replace(request, additional_fields=extra)
        return request

    return parse


def handle(service: GatewayService, request: HttpRequest) -> HttpResponse:
    started = time.monotonic()
    model_id, action = model_id_of(request)
    stream = action in STREAMING_ACTIONS
    invoke = action.startswith("invoke")
    call = ApiCall(
        request_id=request.request_id,
        api_key_id=request.api_key_id,
        body=request.body,
        user_header=request.user_header,
        route=f"bedrock-{action}",
        parser=_invoke_parser(model_id) if invoke else _parser(model_id),
        raw_events=True,
    )
    if request.method != "POST":
        return error_response(
            status_error(405, "method_not_allowed", f"{request.path} accepts POST only"), request.request_id
        )
    if invoke:
        return _invoke(service, call, stream, model_id)
    if stream:
        return _stream(service, call, started)
    result = service.converse(call)
    if result.status != 200 or result.reply is None:
        return error_response(error_from_result(result), request.request_id)
    reply = result.reply
    document: dict[str, Any] = {
        "output": {"message": {"role": "assistant", "content": list(reply.content)}},
        "stopReason": reply.stop_reason,
        "usage": usage_document(result.usage, result.body["usage"]),
        "metrics": {"latencyMs": max(1, round((time.monotonic() - started) * 1000))},
    }
    if reply.additional_fields:
        document["additionalModelResponseFields"] = reply.additional_fields
    if result.usage is not None and result.usage.service_tier:
        document["serviceTier"] = {"type": result.usage.service_tier}
    headers = {"x-amzn-RequestId": request.request_id, **money_headers(result)}
    return json_response(200, document, request.request_id, headers)


def _stream(service: GatewayService, call: ApiCall, started: float) -> HttpResponse:
    events = service.iter_stream_events(replace(call))
    try:
        first = next(events)
    except GatewayError as error:
        return error_response(error, call.request_id)
    headers = {
        "Content-Type": EVENTSTREAM,
        "X-Request-Id": call.request_id,
        "x-amzn-RequestId": call.request_id,
    }
    return HttpResponse(200, headers, chunks=_frames(first, events, started))


def _frames(first: dict[str, Any], events: Iterator[dict[str, Any]], started: float) -> Iterator[bytes]:
    try:
        for event in _with_first(first, events):
            if event["type"] == "event":
                ((name, body),) = event["event"].items()
                yield encode_event(name, body)
            elif event["type"] == "done":
                metadata: dict[str, Any] = {
                    "usage": usage_document(event.get("usageDetail"), event["usage"]),
                    "metrics": {"latencyMs": max(1, round((time.monotonic() - started) * 1000))},
                }
                usage = event.get("usageDetail")
                if usage is not None and usage.service_tier:
                    metadata["serviceTier"] = {"type": usage.service_tier}
                yield encode_event("metadata", metadata)
            elif event["type"] == "error":
                error = event["error"]
                name = _STREAM_EXCEPTIONS_BY_CODE.get(error["code"], "internalServerException")
                yield encode_exception(name, error["message"])
    finally:
        events.close()


def _invoke(service: GatewayService, call: ApiCall, stream: bool, model_id: str) -> HttpResponse:
    message_id = f"msg_bdrk_{call.request_id.replace('-', '')}"
    if not stream:
        result = service.converse(call)
        if result.status != 200 or result.reply is None:
            return error_response(error_from_result(result), call.request_id)
        document = anthropic.message_document(
            result.reply, result.usage, result.body["usage"], message_id, model_id
        )
        headers = {
            "x-amzn-RequestId": call.request_id,
            "X-Amzn-Bedrock-Input-Token-Count": str(result.body["usage"]["inputTokens"]),
            "X-Amzn-Bedrock-Output-Token-Count": str(result.body["usage"]["outputTokens"]),
            **money_headers(result),
        }
        return json_response(200, document, call.request_id, headers)
    events = service.iter_stream_events(call)
    try:
        first = next(events)
    except GatewayError as error:
        return error_response(error, call.request_id)
    headers = {
        "Content-Type": EVENTSTREAM,
        "X-Request-Id": call.request_id,
        "x-amzn-RequestId": call.request_id,
    }
    return HttpResponse(
        200, headers, chunks=_chunk_frames(anthropic.message_events(first, events, message_id, model_id))
    )


def _chunk_frames(events: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    """InvokeModelWithResponseStream: each Messages stream event as a ``chunk`` whose bytes are its JSON;
    message_stop carries Bedrock's invocation metrics, as Bedrock sends them."""
    usage: dict[str, Any] = {}
    try:
        for event in events:
            if event["type"] == "message_delta":
                usage = event.get("usage", {})
            if event["type"] == "message_stop":
                event = {
                    **event,
                    "amazon-bedrock-invocationMetrics": {
                        "inputTokenCount": usage.get("input_tokens", 0),
                        "outputTokenCount": usage.get("output_tokens", 0),
                        "cacheReadInputTokenCount": usage.get("cache_read_input_tokens", 0),
                        "cacheWriteInputTokenCount": usage.get("cache_creation_input_tokens", 0),
                    },
                }
            if event["type"] == "error":
                yield encode_exception("internalServerException", event["error"]["message"])
                continue
            payload = base64.b64encode(dumps(event).encode("utf-8")).decode("ascii")
            yield encode_event("chunk", {"bytes": payload})
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()


def _with_first(first: dict[str, Any], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield first
    yield from rest
