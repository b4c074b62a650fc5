"""The composition root picks the resolver and the Bedrock clients from the settings."""

from __future__ import annotations

import json
import sys

import pytest

from cost_sentry.adapters.bedrock import SharedBedrockClients, bedrock_client_config
from cost_sentry.core.resolvers import StaticResolver
from cost_sentry.core.settings import Settings
from cost_sentry.handlers.gateway import build_service

BASE = {"ledger_table": "l", "config_table": "c"}


def test_defaults_are_static_resolver_and_one_shared_client():
    service = build_service(Settings(**BASE), dynamodb_client=object())
    assert isinstance(service.resolver, StaticResolver)
    assert isinstance(service.bedrock_clients, SharedBedrockClients)


def test_dynamic_resolver_and_per_user_sessions_are_imported_lazily():
    service = build_service(
        Settings(**BASE, profile_resolver="dynamic", per_user_sessions=True), dynamodb_client=object()
    )
    assert type(service.resolver).__name__ == "TaggingApiResolver"
    assert type(service.bedrock_clients).__name__ == "PerUserSessionClients"


def test_the_dynamic_resolver_counts_failures_in_the_configured_namespace(capsys):
    service = build_service(
        Settings(**BASE, profile_resolver="dynamic", metrics_namespace="Team"), dynamodb_client=object()
    )
    service.resolver._metric("ProfileResolverRefreshFailed", "sales")
    document = json.loads(capsys.readouterr().out)
    assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Team"


def test_the_gateway_imports_without_the_optional_modules(monkeypatch):
    # Simulate the attribution modules being absent: only the branches that need them may fail.
    monkeypatch.setitem(sys.modules, "cost_sentry.adapters.tagging_resolver", None)
    monkeypatch.setitem(sys.modules, "cost_sentry.adapters.sessions", None)
    service = build_service(Settings(**BASE), dynamodb_client=object())
    assert isinstance(service.resolver, StaticResolver)
    with pytest.raises(ImportError):
        build_service(Settings(**BASE, profile_resolver="dynamic"), dynamodb_client=object())


def test_bedrock_client_timeouts_and_retries_come_from_settings():
    config = bedrock_client_config(
        Settings(**BASE, bedrock_timeout_seconds=42, bedrock_connect_timeout_seconds=3)
    )
    assert (config.read_timeout, config.connect_timeout) == (42, 3)
    # The SDK never retries on its own (a timed-out call may still be billed); the gateway decides.
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}


def test_default_clients_share_one_session_and_use_the_settings(aws_endpoint_env):
    service = build_service(Settings(**BASE, bedrock_timeout_seconds=42))
    bedrock = service.bedrock_clients.client_for(None, None)
    assert bedrock.meta.config.read_timeout == 42
    assert bedrock.meta.config.retries["total_max_attempts"] == 1
    assert bedrock.meta.endpoint_url == aws_endpoint_env
    assert service.bedrock_clients.client_for(None, None) is bedrock


def test_a_container_gives_every_default_client_one_connection_per_request_thread(aws_endpoint_env):
    # The container (handlers/asgi.py) serves GATEWAY_THREADS requests at once; botocore keeps 10.
    service = build_service(Settings(**BASE), max_pool_connections=48)
    assert service.bedrock_clients.client_for(None, None).meta.config.max_pool_connections == 48
    assert service.user_budgets._client.meta.config.max_pool_connections == 48
    lambda_default = build_service(Settings(**BASE))
    assert lambda_default.bedrock_clients.client_for(None, None).meta.config.max_pool_connections == 10
