"""Lambda entry point of the gateway (API Gateway REST API, Lambda proxy integration, format 1.0).

Thin: the composition root builds the GatewayService once per container from the environment; the
router (cost_sentry.surfaces.router) picks the surface by path (the gateway's JSON API, Bedrock's runtime,
OpenAI, Anthropic), which turns the event into service calls and shapes the response. ``handler`` is
the buffered proxy integration; ``respond`` answers with a stream, for the streaming runtime
(cost_sentry.handlers.stream_runtime) and the local stack's front. Tests build their own service
with ``build_service``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from cost_sentry.adapters import sagemaker
from cost_sentry.adapters.aws import AwsSession
from cost_sentry.adapters.bedrock import (
    BedrockClients,
    SharedBedrockClients,
    bedrock_client_config,
    bedrock_client_options,
)
from cost_sentry.adapters.config_store import ConfigStore
from cost_sentry.adapters.ledger import Ledger
from cost_sentry.adapters.user_budget import UserBudgetReader
from cost_sentry.core.catalog import default_catalog
from cost_sentry.core.errors import GatewayError
from cost_sentry.core.log import RequestLogger, default_logger
from cost_sentry.core.log import stdout_sink as log_stdout
from cost_sentry.core.metrics import MetricsEmitter
from cost_sentry.core.metrics import stdout_sink as metrics_stdout
from cost_sentry.core.once import built_once
from cost_sentry.core.resolvers import ProfileResolver, StaticResolver
from cost_sentry.core.settings import Settings
from cost_sentry.service.gateway import GatewayService, new_request_id
from cost_sentry.surfaces.http import HttpResponse
from cost_sentry.surfaces.json_api import error_response
from cost_sentry.surfaces.router import handle_event
from cost_sentry.surfaces.router import respond as respond_with

__all__ = ["build_service", "handle_event", "handler", "respond"]


def build_service(
    settings: Settings,
    *,
    dynamodb_client: Any = None,
    bedrock_clients: BedrockClients | None = None,
    resolver: ProfileResolver | None = None,
    metrics_sink: Callable[[str], None] = metrics_stdout,
    log_sink: Callable[[str], None] = log_stdout,
    clock: Callable[[], float] = time.time,
    shared_endpoints: Mapping[str, sagemaker.SharedEndpoint] | None = None,
    sagemaker_runtime_client: Any = None,
    max_pool_connections: int | None = None,
) -> GatewayService:
    """The composition root: every collaborator can be injected; the defaults talk to AWS.
    ``max_pool_connections``: HTTP connections per default client, for a process serving that many
    requests at once (the container, handlers/asgi.py); botocore's default otherwise."""
    aws = AwsSession(**({"max_pool_connections": max_pool_connections} if max_pool_connections else {}))
    # One request logger for the request lines and the session warnings alike.
    request_logger = RequestLogger(settings.log_prompts, log_sink)
    ledger_client = dynamodb_client
    if dynamodb_client is None:
        dynamodb_client, ledger_client = _dynamodb_clients(aws)
    if resolver is None:
        resolver = _default_resolver(settings, aws)
    if bedrock_clients is None:
        bedrock_clients = _default_bedrock_clients(settings, aws, request_logger)
    config_store: Any = ConfigStore(dynamodb_client, settings.config_table, settings.config_refresh_seconds)
    catalog = default_catalog()
    if shared_endpoints is None:
        shared_endpoints = sagemaker.endpoints_from_env()
    if shared_endpoints:
        # Shared SageMaker endpoints: priced like models, among their tenants' models, own client.
        catalog = sagemaker.extend_catalog(catalog, shared_endpoints)
        config_store = sagemaker.SharedEndpointTenants(config_store, shared_endpoints)
        bedrock_clients = sagemaker.SageMakerRouting(
            bedrock_clients,
            shared_endpoints,
            runtime_client=sagemaker_runtime_client,
            client_factory=lambda: aws.client("sagemaker-runtime", **bedrock_client_options(settings)),
        )
    return GatewayService(
        settings=settings,
        config_store=config_store,
        catalog=catalog,
        ledger=Ledger.for_settings(ledger_client, settings, clock=clock),
        resolver=resolver,
        bedrock_clients=bedrock_clients,
        metrics=MetricsEmitter(settings.metrics_namespace, metrics_sink),
        request_logger=request_logger,
        clock=clock,
        user_budgets=UserBudgetReader(ledger_client, settings.ledger_table, clock=clock),
    )


def _dynamodb_clients(aws: AwsSession) -> tuple[Any, Any]:
    """The config reads' client, and the ledger's."""
    # The ledger is on the hot path: fail fast (a 503 the caller retries) rather than hang.
    config_client = aws.client(
        "dynamodb",
        connect_timeout=2,
        read_timeout=5,
        retries={"mode": "standard", "total_max_attempts": 3},
    )
    # The ledger retries its own writes, only those DynamoDB guarantees it did not apply: botocore
    # resending a counter write after a timeout could apply it twice (docs/design.md section 4).
    # Its requests are built by code (never from caller input) and covered by the tests against the
    # emulator, so botocore's per-call parameter validation (a sixth of its CPU) is skipped.
    ledger_client = aws.client(
        "dynamodb",
        connect_timeout=2,
        read_timeout=5,
        retries={"total_max_attempts": 1},
        parameter_validation=False,
    )
    return config_client, ledger_client


def _default_resolver(settings: Settings, aws: AwsSession) -> ProfileResolver:
    if settings.profile_resolver != "dynamic":
        return StaticResolver()
    from cost_sentry.adapters.tagging_resolver import TaggingApiResolver, emf_metric_sink

    return TaggingApiResolver(
        aws.client("resourcegroupstaggingapi"), metric_sink=emf_metric_sink(settings.metrics_namespace)
    )


def _default_bedrock_clients(
    settings: Settings, aws: AwsSession, request_logger: RequestLogger
) -> BedrockClients:
    options = bedrock_client_options(settings)
    shared = SharedBedrockClients(
        client_factory=lambda: aws.client("bedrock-runtime", **options),
        own_principal=settings.own_principal,
    )
    if not settings.per_user_sessions:
        return shared
    from cost_sentry.adapters.sessions import PerUserSessionClients, default_bedrock_client_factory

    return PerUserSessionClients(
        aws.client("sts"),
        client_factory=default_bedrock_client_factory(bedrock_client_config(settings)),
        fallback=shared,
        new_sessions_per_minute=settings.new_sessions_per_minute,
        warn=request_logger.warn,
    )


@built_once
def _default_service() -> GatewayService:
    return build_service(Settings.from_env())


def _misconfigured(event: dict[str, Any], exc: Exception) -> HttpResponse:
    # A misconfigured function answers every request instead of crashing; the reason (which can name
    # tables, variables and values) goes to the function's log, never to the caller.
    request_id = str((event.get("requestContext") or {}).get("requestId") or new_request_id())
    default_logger().warning(
        "gateway_misconfigured", event="gateway_misconfigured", error=f"{type(exc).__name__}: {exc}"
    )
    error = GatewayError(
        "gateway_misconfigured", "the gateway is misconfigured; its operators have the details in its log"
    )
    return error_response(error, request_id)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # API Gateway's request id is the gateway's (X-Request-Id): every line of the request carries it.
    default_logger().start_invocation(context, (event.get("requestContext") or {}).get("requestId"))
    try:
        service = _default_service()
    except Exception as exc:
        return _misconfigured(event, exc).to_proxy()
    return handle_event(service, event)


def respond(event: dict[str, Any], context: Any) -> HttpResponse:
    """The same request, answered as a stream where the surface streams."""
    try:
        service = _default_service()
    except Exception as exc:
        return _misconfigured(event, exc)
    return respond_with(service, event)
