"""Lambda entry point of the gateway (API Gateway REST API, Lambda proxy integration, format 1.0).

Thin: parse the event, call the GatewayService, shape the proxy response. The service is built once per
container (the composition root below) from the environment; tests build their own with ``build_service``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from cost_sentry.bedrock import (
    BedrockClients,
    SharedBedrockClients,
    bedrock_client_config,
    bedrock_client_options,
)
from cost_sentry.config import ConfigStore
from cost_sentry.errors import BadRequest, GatewayError, MethodNotAllowed, NotFound
from cost_sentry.gateway import ApiCall, ApiResult, GatewayService, error_body, new_request_id
from cost_sentry.ledger import Ledger
from cost_sentry.log import RequestLogger
from cost_sentry.log import stdout_sink as log_stdout
from cost_sentry.metrics import MetricsEmitter
from cost_sentry.metrics import stdout_sink as metrics_stdout
from cost_sentry.resolvers import ProfileResolver, StaticResolver
from cost_sentry.settings import Settings

ROUTES = {
    "/v1/converse": ("POST", "converse"),
    "/v1/converse-stream": ("POST", "converse-stream"),
    "/v1/budget": ("GET", "budget"),
}
USER_HEADER = "x-cost-sentry-user"

logger = logging.getLogger(__name__)


class _AwsSession:
    """One boto3 Session for all of the gateway's default clients, created on first use.

    Clients of one Session share its loaded service models, which keeps the cold start short; the
    clients are created once, under the composition root's lock or the shared client's own lock,
    because a Session is not safe to create clients from concurrently.
    """

    def __init__(self) -> None:
        self._session: Any = None
        self._lock = threading.Lock()

    def client(self, service: Any, **config: Any) -> Any:
        """A client of ``service``; keyword arguments are botocore Config options."""
        from botocore.config import Config

        with self._lock:
            if self._session is None:
                import boto3

                self._session = boto3.session.Session()
            return self._session.client(service, config=Config(**config) if config else None)


def build_service(
    settings: Settings,
    *,
    dynamodb_client: Any = None,
    bedrock_clients: BedrockClients | None = None,
    resolver: ProfileResolver | None = None,
    metrics_sink: Callable[[str], None] = metrics_stdout,
    log_sink: Callable[[str], None] = log_stdout,
    clock: Callable[[], float] = time.time,
) -> GatewayService:
    """The composition root: every collaborator can be injected; the defaults talk to AWS."""
    aws = _AwsSession()
    if dynamodb_client is None:
        # The ledger is on the hot path: fail fast (a 503 the caller retries) rather than hang.
        dynamodb_client = aws.client(
            "dynamodb",
            connect_timeout=2,
            read_timeout=5,
            retries={"mode": "standard", "total_max_attempts": 3},
        )
    if resolver is None:
        if settings.profile_resolver == "dynamic":
            from cost_sentry.resolver_dynamic import TaggingApiResolver, emf_metric_sink

            resolver = TaggingApiResolver(
                aws.client("resourcegroupstaggingapi"),
                metric_sink=emf_metric_sink(settings.metrics_namespace),
            )
        else:
            resolver = StaticResolver()
    if bedrock_clients is None:
        options = bedrock_client_options(settings)
        shared = SharedBedrockClients(client_factory=lambda: aws.client("bedrock-runtime", **options))
        if settings.per_user_sessions:
            from cost_sentry.sessions import PerUserSessionClients, default_bedrock_client_factory

            bedrock_clients = PerUserSessionClients(
                aws.client("sts"),
                client_factory=default_bedrock_client_factory(bedrock_client_config(settings)),
                fallback=shared,
            )
        else:
            bedrock_clients = shared
    return GatewayService(
        settings=settings,
        config_store=ConfigStore(dynamodb_client, settings.config_table, settings.config_refresh_seconds),
        ledger=Ledger(
            dynamodb_client,
            settings.ledger_table,
            hold_lifetime_seconds=settings.hold_lifetime_seconds,
            call_record_retention_days=settings.call_record_retention_days,
            clock=clock,
        ),
        resolver=resolver,
        bedrock_clients=bedrock_clients,
        metrics=MetricsEmitter(settings.metrics_namespace, metrics_sink),
        request_logger=RequestLogger(settings.log_prompts, log_sink),
        clock=clock,
    )


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
    return {
        "statusCode": result.status,
        "headers": {"Content-Type": "application/json", "X-Request-Id": request_id, **result.headers},
        "body": json.dumps(result.body, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def _error_response(error: GatewayError, request_id: str) -> dict[str, Any]:
    return _json_response(
        ApiResult(error.status, error_body(error, request_id), dict(error.headers)), request_id
    )


def _sse(event: Mapping[str, Any]) -> str:
    return f"data: {json.dumps(event, separators=(',', ':'))}\n\n"


def _stream_response(service: GatewayService, call: ApiCall) -> dict[str, Any]:
    # The Python managed runtime cannot stream a proxy response: the events are collected and sent
    # as one text/event-stream body. A streaming front uses service.iter_stream_events directly.
    events: Iterator[dict[str, Any]] = service.iter_stream_events(call)
    try:
        first = next(events)
    except GatewayError as error:
        return _error_response(error, call.request_id)
    body = _sse(first) + "".join(_sse(event) for event in events)
    return {
        "statusCode": 200,
        "headers": {
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Request-Id": call.request_id,
        },
        "body": body,
        "isBase64Encoded": False,
    }


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
        logger.exception("unhandled error in request %s", request_id)
        return _error_response(GatewayError("internal_error", "the gateway failed unexpectedly"), request_id)


_service: GatewayService | None = None
_service_lock = threading.Lock()


def _default_service() -> GatewayService:
    global _service
    if _service is None:
        with _service_lock:
            if _service is None:
                _service = build_service(Settings.from_env())
    return _service


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        service = _default_service()
    except Exception as exc:
        # A misconfigured function answers every request with the reason instead of crashing.
        request_id = str((event.get("requestContext") or {}).get("requestId") or new_request_id())
        error = GatewayError("gateway_misconfigured", f"the gateway is misconfigured: {exc}")
        return _error_response(error, request_id)
    return handle_event(service, event)
