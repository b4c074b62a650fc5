"""What every surface shares: the HTTP request as the gateway sees it, and a response that may stream.

A surface (surfaces/surface.py) turns an ``HttpRequest`` into a service call and answers an
``HttpResponse``: a whole body, or ``chunks`` written as they come. The Lambda proxy integration
(``to_proxy``) collects the chunks into one body; a streaming front (the local stack, the streaming
runtime in cost_sentry.handlers.stream_runtime) writes each chunk at once.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cost_sentry.core.cost_report import CostBasis, CostReport
from cost_sentry.core.errors import (
    SHOULD_RETRY_HEADER,
    BadRequest,
    GatewayError,
    LimitExceeded,
    is_final,
)
from cost_sentry.core.money import nanos_to_usd
from cost_sentry.service.gateway import WOULD_DENY_HEADER, new_request_id

USER_HEADER = "x-cost-sentry-user"
# What a call cost and what is left (core/cost_report.py), on every surface's successful model answer.
# After the call (buffered answers):
COST_HEADER = "x-cost-sentry-cost-usd"
COST_BASIS_HEADER = "x-cost-sentry-cost-basis"  # settled | estimated | held
REMAINING_HEADER = "x-cost-sentry-remaining-usd"
USER_REMAINING_HEADER = "x-cost-sentry-user-remaining-usd"  # only when a per-user budget applied
PERIOD_HEADER = "x-cost-sentry-budget-period"
# Before the call (streams: the headers leave before the cost is known; the final event has the rest):
HELD_HEADER = "x-cost-sentry-held-usd"
REMAINING_AFTER_HOLD_HEADER = "x-cost-sentry-remaining-after-hold-usd"
USER_REMAINING_AFTER_HOLD_HEADER = "x-cost-sentry-user-remaining-after-hold-usd"
# The stream's final event member with the settled figures: costSentry (camelCase wire formats: the
# JSON API, Bedrock) or cost_sentry (snake_case ones: OpenAI, Anthropic).
COST_MEMBER = "costSentry"
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


def sse_data(document: Any) -> bytes:
    """One server-sent event carrying ``document`` as its data (the JSON API's and OpenAI's streams)."""
    return f"data: {dumps(document)}\n\n".encode()


def cost_headers(report: CostReport | None) -> dict[str, str]:
    """A buffered answer's cost headers: the cost as the ledger holds it, and what is left after it."""
    if report is None:
        return {}
    headers = {
        COST_HEADER: nanos_to_usd(report.cost_nanos),
        COST_BASIS_HEADER: report.basis.value,
        REMAINING_HEADER: nanos_to_usd(report.remaining_nanos),
        PERIOD_HEADER: report.period,
    }
    if report.user_remaining_nanos is not None:
        headers[USER_REMAINING_HEADER] = nanos_to_usd(report.user_remaining_nanos)
    return headers | would_deny_header(report)


def hold_headers(report: CostReport | None) -> dict[str, str]:
    """A stream's cost headers, sent before the call: the worst case held, what is left with it held."""
    if report is None:
        return {}
    if report.basis is not CostBasis.HELD:
        raise ValueError("a stream's opening headers carry the hold, not a settled cost")
    headers = {
        HELD_HEADER: nanos_to_usd(report.cost_nanos),
        REMAINING_AFTER_HOLD_HEADER: nanos_to_usd(report.remaining_nanos),
        PERIOD_HEADER: report.period,
    }
    if report.user_remaining_nanos is not None:
        headers[USER_REMAINING_AFTER_HOLD_HEADER] = nanos_to_usd(report.user_remaining_nanos)
    return headers | would_deny_header(report)


def would_deny_header(report: CostReport) -> dict[str, str]:
    """Shadow mode: the limit that would have refused the call, on buffered answers and streams alike
    (a stream's headers leave after its hold, which knows it)."""
    return {WOULD_DENY_HEADER: report.would_deny} if report.would_deny else {}


def cost_member(report: CostReport, *, snake_case: bool = False) -> dict[str, Any]:
    """The settled figures as a stream's final event carries them, ``{"costSentry": {"costUsd",
    "costBasis", "remainingUsd", "budgetPeriod", "userRemainingUsd"}}`` (the cost headers' values),
    spelled as the wire format spells its own fields. An extension member the SDKs ignore."""
    figures: dict[str, Any] = {
        "costUsd": nanos_to_usd(report.cost_nanos),
        "costBasis": report.basis.value,
        "remainingUsd": nanos_to_usd(report.remaining_nanos),
        "budgetPeriod": report.period,
    }
    if report.user_remaining_nanos is not None:
        figures["userRemainingUsd"] = nanos_to_usd(report.user_remaining_nanos)
    if snake_case:
        return {_snake(COST_MEMBER): {_snake(name): value for name, value in figures.items()}}
    return {COST_MEMBER: figures}


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


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


def bearer_token(headers: Mapping[str, str]) -> str | None:
    authorization = headers.get("authorization") or ""
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def presented_api_key(headers: Mapping[str, str]) -> str | None:
    """The tenant's key, however the caller's SDK sends it: ``x-api-key`` (the gateway's JSON API, the Anthropic
    SDK) or ``Authorization: Bearer`` (AWS_BEARER_TOKEN_BEDROCK in botocore, the OpenAI SDK). The
    API Gateway authorizer (handlers/authorizer.py) and the local front both read it with this."""
    return headers.get("x-api-key") or bearer_token(headers)
