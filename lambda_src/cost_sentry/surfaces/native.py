"""The seed's JSON API (docs/design.md section 5) over an API Gateway REST proxy event (format 1.0).

Routes, body decoding and response shapes; the enforcement itself is the GatewayService's.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from cost_sentry.core.errors import BadRequest, GatewayError, MethodNotAllowed, NotFound
from cost_sentry.core.log import default_logger
from cost_sentry.service.gateway import ApiCall, ApiResult, GatewayService, error_body, new_request_id
from cost_sentry.surfaces.http import HttpRequest, HttpResponse, OpenedStream, cost_headers, open_stream

ROUTES = {
    "/v1/converse": ("POST", "converse"),
    "/v1/converse-stream": ("POST", "converse-stream"),
    "/v1/budget": ("GET", "budget"),
}
USER_HEADER = "x-cost-sentry-user"


def _headers(event: Mapping[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, values in (event.get("multiValueHeaders") or {}).items():
        if values:
            headers[name.lower()] = str(values[-1])
    for name, value in (event.get("headers") or {}).items():
        if value is not None:
            headers[name.lower()] = str(value)
    return headers


def _body(event: Mapping[str, Any]) -> bytes:
    body = event.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise BadRequest("invalid_body_encoding", "the event body must be a string")
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("invalid_body_encoding", "the body is marked base64 but is not") from None
    return body.encode("utf-8")


def _json_response(result: ApiResult, request_id: str) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", "X-Request-Id": request_id, **result.headers}
    return {
        "statusCode": result.status,
        "headers": {**headers, **cost_headers(result.cost)},
        "body": json.dumps(result.body, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def error_response(error: GatewayError, request_id: str) -> dict[str, Any]:
    return _json_response(
        ApiResult(error.status, error_body(error, request_id), dict(error.headers)), request_id
    )


def _sse(event: Mapping[str, Any]) -> str:
    return f"data: {json.dumps(event, separators=(',', ':'))}\n\n"


def _stream_headers(call: ApiCall, opened: OpenedStream) -> dict[str, str]:
    return {
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-store",
        "X-Request-Id": call.request_id,
        **opened.headers,
    }


def _stream_response(service: GatewayService, call: ApiCall) -> dict[str, Any]:
    # The Python managed runtime cannot stream a proxy response: the events are collected and sent
    # as one text/event-stream body. A streaming front uses stream_converse.
    try:
        opened = open_stream(service, call)
    except GatewayError as error:
        return error_response(error, call.request_id)
    body = _sse(opened.first) + "".join(_sse(event) for event in opened.events)
    return {
        "statusCode": 200,
        "headers": _stream_headers(call, opened),
        "body": body,
        "isBase64Encoded": False,
    }


def stream_converse(service: GatewayService, event: Mapping[str, Any]) -> HttpResponse | None:
    """``POST /v1/converse-stream`` for a front that can stream: each event is written as it comes.
    None for anything else (the front then answers with ``handle_event``)."""
    if event.get("resource") != "/v1/converse-stream" or (event.get("httpMethod") or "").upper() != "POST":
        return None
    request = HttpRequest.from_event(event)
    call = ApiCall(
        request_id=request.request_id,
        api_key_id=request.api_key_id,
        user_header=request.user_header,
        route="converse-stream",
        body=request.body,
    )
    try:
        opened = open_stream(service, call)
    except GatewayError as error:
        proxy = error_response(error, call.request_id)
        return HttpResponse(proxy["statusCode"], proxy["headers"], proxy["body"].encode("utf-8"))

    def chunks() -> Iterator[bytes]:
        events = opened.events
        try:
            yield _sse(opened.first).encode("utf-8")
            for event in events:
                yield _sse(event).encode("utf-8")
        finally:
            events.close()

    return HttpResponse(200, _stream_headers(call, opened), chunks=chunks())


def handle_event(service: GatewayService, event: Mapping[str, Any]) -> dict[str, Any]:
    """API Gateway REST v1 proxy event -> proxy response."""
    context = event.get("requestContext") or {}
    request_id = str(context.get("requestId") or new_request_id())
    resource = event.get("resource") or event.get("path") or ""
    method, route = ROUTES.get(resource, ("", "unknown"))
    headers = _headers(event)
    call = ApiCall(
        request_id=request_id,
        api_key_id=(context.get("identity") or {}).get("apiKeyId") or None,
        user_header=headers.get(USER_HEADER),
        route=route,
    )
    try:
        if not method:
            raise NotFound("not_found", f"no route {resource!r}; routes: {', '.join(ROUTES)}")
        if (event.get("httpMethod") or "").upper() != method:
            raise MethodNotAllowed("method_not_allowed", f"{resource} accepts {method} only")
        if method == "POST":
            call = replace(call, body=_body(event))
    except GatewayError as error:
        return _json_response(service.reject(call, error), request_id)
    try:
        if route == "converse":
            return _json_response(service.converse(call), request_id)
        if route == "converse-stream":
            return _stream_response(service, call)
        return _json_response(service.budget(call), request_id)
    except Exception:
        # The service answers its own errors; this is a bug, and the hold (if any) expires.
        default_logger().exception("unhandled_error", requestId=request_id)
        return error_response(GatewayError("internal_error", "the gateway failed unexpectedly"), request_id)
