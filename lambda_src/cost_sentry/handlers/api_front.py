"""What API Gateway and the deployed authorizer do before the gateway function runs, for fronts that are
not API Gateway: the container's ASGI app (handlers/asgi.py) and the local stack's plain-HTTP front.

One request becomes: the credential check (cost_sentry.adapters.credentials, the authorizer's own: the
tenant's key, a per-user key or an OIDC token, from whichever header the caller's SDK uses), a REST API
(v1) proxy event carrying what the authorizer proved (``requestContext.authorizer``, ``identity.apiKeyId``),
and the gateway's streaming entry point (``handlers/gateway.respond`` or ``surfaces/router.respond``). A
missing or bad credential never reaches the function: it is the 401 API Gateway answers, in the error
shape of the surface the path belongs to (modules/gateway/api.tf and surfaces.tf set the same messages).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cost_sentry.core.log import default_logger

# What modules/gateway/api.tf makes API Gateway answer for a missing or invalid key (tested to agree).
INVALID_API_KEY_MESSAGE = "Missing or invalid API key: send the tenant's key in the x-api-key header."
# The same for the Bedrock, OpenAI and Anthropic surfaces (modules/gateway/surfaces.tf).
SURFACE_INVALID_KEY_MESSAGE = (
    "Missing or invalid API key: send the tenant's key as x-api-key or Authorization: Bearer <key>."
)
REGION = "us-east-1"
# The account and stage the events name when no API Gateway is there (moto's default account).
LOCAL_ACCOUNT_ID = "123456789012"
STAGE = "local"
# A handler that may stream: (proxy event, context) -> cost_sentry.surfaces.http.HttpResponse.
Responder = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True)
class LambdaContext:
    """The attributes of the Lambda context object a handler may read."""

    aws_request_id: str
    function_name: str = "cost-sentry-gateway"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    deadline_epoch_ms: int = 0
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{LOCAL_ACCOUNT_ID}:function:cost-sentry-gateway"
    log_group_name: str = "/aws/lambda/cost-sentry-gateway"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_epoch_ms - int(time.time() * 1000))


def proxy_event(
    method: str,
    raw_path: str,
    headers: Mapping[str, str],
    body: bytes,
    api_key_id: str | None,
    source_ip: str,
    authorizer: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The API Gateway REST (v1) proxy event for one HTTP request (``authorizer``: the authorizer's
    context, as API Gateway passes it)."""
    split = urlsplit(raw_path)
    query = parse_qs(split.query, keep_blank_values=True)
    try:
        text_body: str | None = body.decode("utf-8") if body else None
        is_base64 = False
    except UnicodeDecodeError:
        text_body, is_base64 = base64.b64encode(body).decode("ascii"), True
    now = time.time()
    request_id = str(uuid.uuid4())
    return {
        "resource": split.path,
        "path": split.path,
        "httpMethod": method,
        "headers": dict(headers),
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": LOCAL_ACCOUNT_ID,
            "apiId": "local",
            "stage": STAGE,
            "resourcePath": split.path,
            "path": f"/{STAGE}{split.path}",
            "httpMethod": method,
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "protocol": "HTTP/1.1",
            "identity": {
                "apiKeyId": api_key_id,
                "apiKey": headers.get("x-api-key") if api_key_id else None,
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent"),
            },
            **({"authorizer": dict(authorizer)} if authorizer is not None else {}),
        },
        "body": text_body,
        "isBase64Encoded": is_base64,
    }


@dataclass
class FrontAnswer:
    """What API Gateway and the function answer one request: a whole body, or chunks as they come."""

    status: int
    headers: dict[str, str]
    request_id: str
    body: bytes = b""
    chunks: Iterator[bytes] | None = None


@dataclass(frozen=True)
class ApiFront:
    """The deployed API's steps for one request. ``credentials`` is a CredentialChecker (the
    authorizer's); ``api_key_required`` is False only for tests that let keyless requests reach the
    function; ``timeout_seconds`` is the function timeout the context's deadline reports."""

    credentials: Any
    responder: Responder
    api_key_required: bool = True
    timeout_seconds: int = 300

    def answer(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, client_ip: str
    ) -> FrontAnswer:
        """Headers are lower-cased. The caller reads the chunks to the end, in the same thread, even
        when its client went away: the gateway then settles what Bedrock reported."""
        identity = self.credentials.identify(headers)
        api_key_id = identity.api_key_id if identity else None
        authorizer = {"principalId": identity.user or "api-key", **identity.context()} if identity else None
        event = proxy_event(method, path, dict(headers), body, api_key_id, client_ip, authorizer=authorizer)
        # API Gateway's identity.apiKey is the usage identifier: the tenant's key, never a per-user key
        # or a token.
        event["requestContext"]["identity"]["apiKey"] = identity.usage_key if identity else None
        request_id = event["requestContext"]["requestId"]
        if api_key_id is None and self.api_key_required:
            # The REST API's methods require a key: API Gateway itself refuses a missing, unknown or
            # disabled one and the function never runs.
            return unauthorized(event["path"], request_id)
        deadline = int(time.time() * 1000) + self.timeout_seconds * 1000
        context = LambdaContext(aws_request_id=str(uuid.uuid4()), deadline_epoch_ms=deadline)
        try:
            response = self.responder(event, context)
        except Exception as error:  # an unhandled exception is what API Gateway turns into a 502
            default_logger().exception("handler_raised", error=type(error).__name__, request_id=request_id)
            payload = json.dumps({"message": "Internal server error"}).encode()
            return FrontAnswer(502, {"Content-Type": "application/json"}, request_id, payload)
        return FrontAnswer(
            response.status, dict(response.headers), request_id, response.body, response.chunks
        )


def unauthorized(path: str, request_id: str) -> FrontAnswer:
    """API Gateway's 401 for a missing or bad credential, in the shape of the path's surface."""
    from cost_sentry.core.errors import Unauthorized
    from cost_sentry.surfaces import json_api
    from cost_sentry.surfaces.router import error_renderer_for, surface_for

    own_api = surface_for(path) is json_api.SURFACE
    message = INVALID_API_KEY_MESSAGE if own_api else SURFACE_INVALID_KEY_MESSAGE
    response = error_renderer_for(path)(Unauthorized("invalid_api_key", message), request_id)
    headers = {"x-amzn-ErrorType": "UnrecognizedClientException", **response.headers}
    if own_api:
        headers["x-amzn-ErrorType"] = "ForbiddenException"
    return FrontAnswer(401, headers, request_id, response.body)
