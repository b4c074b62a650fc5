"""What every surface shares: the HTTP request as the gateway sees it, and a response that may stream.

A surface turns an ``HttpRequest`` into service calls (cost_sentry.service.gateway) and answers an
``HttpResponse``: a whole body, or ``chunks`` written as they come. The Lambda proxy integration
(``to_proxy``) collects the chunks into one body; a streaming front (the local stack, the streaming
runtime in cost_sentry.handlers.stream_runtime) writes each chunk at once.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cost_sentry.core.errors import (
    SHOULD_RETRY_HEADER,
    BadRequest,
    GatewayError,
    LimitExceeded,
    is_final,
)
from cost_sentry.service.gateway import WOULD_DENY_HEADER, ApiResult, new_request_id

USER_HEADER = "x-cost-sentry-user"
COST_HEADER = "x-cost-sentry-cost-usd"
REMAINING_HEADER = "x-cost-sentry-remaining-usd"
TEXT_TYPES = ("application/json", "text/")


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str  # as sent, percent-encoding kept (a Bedrock modelId may hold an encoded ARN)
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    request_id: str
    api_key_id: str | None
    # Path parameters API Gateway already decoded (the deployed API's {modelId}); None locally.
    path_parameters: Mapping[str, str] = field(default_factory=dict)

    @property
    def user_header(self) -> str | None:
        return self.headers.get(USER_HEADER)

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> HttpRequest:
        """An API Gateway REST (v1) proxy event."""
        context = event.get("requestContext") or {}
        headers: dict[str, str] = {}
        for name, values in (event.get("multiValueHeaders") or {}).items():
            if values:
                headers[name.lower()] = str(values[-1])
        for name, value in (event.get("headers") or {}).items():
            if value is not None:
                headers[name.lower()] = str(value)
        return cls(
            method=(event.get("httpMethod") or "").upper(),
            path=urlsplit(event.get("path") or event.get("resource") or "").path,
            headers=headers,
            body=event_body(event),
            request_id=str(context.get("requestId") or new_request_id()),
            api_key_id=(context.get("identity") or {}).get("apiKeyId") or None,
            path_parameters=dict(event.get("pathParameters") or {}),
        )


def event_body(event: Mapping[str, Any]) -> bytes:
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


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    chunks: Iterator[bytes] | None = None

    def iter_bytes(self) -> Iterator[bytes]:
        if self.body:
            yield self.body
        if self.chunks is not None:
            yield from self.chunks

    def to_proxy(self) -> dict[str, Any]:
        """The Lambda proxy response: the stream collected into one body (base64 when binary)."""
        payload = b"".join(self.iter_bytes())
        content_type = self.headers.get("Content-Type", "application/json")
        if content_type.startswith(TEXT_TYPES):
            return {
                "statusCode": self.status,
                "headers": dict(self.headers),
                "body": payload.decode("utf-8"),
                "isBase64Encoded": False,
            }
        return {
            "statusCode": self.status,
            "headers": dict(self.headers),
            "body": base64.b64encode(payload).decode("ascii"),
            "isBase64Encoded": True,
        }


def json_response(
    status: int, document: Any, request_id: str, headers: Mapping[str, str] | None = None
) -> HttpResponse:
    return HttpResponse(
        status,
        {"Content-Type": "application/json", "X-Request-Id": request_id, **(headers or {})},
        json.dumps(document, separators=(",", ":"), default=_json_default).encode("utf-8"),
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"), default=_json_default)


def money_headers(result: ApiResult | Mapping[str, Any]) -> dict[str, str]:
    """What the call cost and what is left of the budget, on every surface's success (and in shadow mode
    the limit that would have denied it)."""
    body = result.body if isinstance(result, ApiResult) else result
    headers = {}
    if "cost" in body:
        headers[COST_HEADER] = str(body["cost"]["usd"])
    if "budget" in body:
        headers[REMAINING_HEADER] = str(body["budget"]["remainingUsd"])
        if body["budget"].get("wouldDeny"):
            headers[WOULD_DENY_HEADER] = str(body["budget"]["wouldDeny"])
    return headers


def error_headers(error: GatewayError) -> dict[str, str]:
    """The error's headers; a final denial (core/errors.FINAL_DENIALS) never asks for a retry, however
    the error was built."""
    headers = dict(error.headers)
    if is_final(error):
        for name in [n for n in headers if n.lower() in ("retry-after", "retry-after-ms")]:
            del headers[name]
        headers[SHOULD_RETRY_HEADER] = "false"
    elif isinstance(error, LimitExceeded):
        headers.setdefault("Retry-After", str(error.retry_after_seconds))
    return headers


def error_from_result(result: ApiResult) -> GatewayError:
    """The service's error answer back as an error a surface renders in its own shape."""
    document = result.body["error"]
    details = {k: v for k, v in document.items() if k not in ("code", "message", "requestId")}
    error = GatewayError(document["code"], document["message"], headers=result.headers, details=details)
    error.status = result.status
    return error


def status_error(status: int, code: str, message: str) -> GatewayError:
    error = GatewayError(code, message)
    error.status = status
    return error


def bearer_token(headers: Mapping[str, str]) -> str | None:
    authorization = headers.get("authorization") or ""
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def presented_api_key(headers: Mapping[str, str]) -> str | None:
    """The tenant's key, however the caller's SDK sends it: ``x-api-key`` (the seed API, the Anthropic
    SDK) or ``Authorization: Bearer`` (AWS_BEARER_TOKEN_BEDROCK in botocore, the OpenAI SDK). The
    API Gateway authorizer (handlers/authorizer.py) and the local front both read it with this."""
    return headers.get("x-api-key") or bearer_token(headers)


ErrorRenderer = Callable[[GatewayError, str], HttpResponse]
