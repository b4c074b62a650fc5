"""Shared SageMaker real-time endpoints behind the gateway's Converse path.

Several tenants can share one endpoint (a model server speaking an OpenAI-style chat body). The gateway
treats it like any other model: the tenant's budget is reserved and settled at the endpoint's configured
per-token rate, the call record names the tenant, the user and the tokens, and the chargeback report
later splits the endpoint's real CUR 2.0 instance-hour cost by those tokens.

Configuration: the gateway function's ``SAGEMAKER_ENDPOINTS`` (Terraform's
``sagemaker_shared_endpoints``), a JSON object ``short name -> {endpointName, endpointArn,
inputPerMillionUsd, outputPerMillionUsd, maxOutputTokens, tenants, servedModel?}``. Composition
(handlers/gateway.py) adds each endpoint to the catalog (its rate), to the entitled tenants' models
(short name -> endpoint ARN) and wraps the Bedrock clients in ``SageMakerRouting``; the service's
``_prepare`` asks ``client_for`` which client serves the call.

``SageMakerConverseClient.converse(**arguments)`` takes the Converse arguments the service built,
calls ``InvokeEndpoint`` with an OpenAI chat body and answers in Converse's shape (text, stopReason,
usage), so ``adapters.bedrock.converse`` reads it, and maps its errors, unchanged.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from cost_sentry.adapters.bedrock import BedrockClients, UnreadableResponse
from cost_sentry.core.catalog import Catalog, ModelSpec
from cost_sentry.core.errors import BadRequest
from cost_sentry.core.pricing import DEFAULT_TIER, ModelPrices, Rates, usd_per_million_to_femtos
from cost_sentry.core.tenants import TenantConfig

ENVIRONMENT_VARIABLE = "SAGEMAKER_ENDPOINTS"
FAMILY = "sagemaker-openai-chat"

# SageMaker runtime error codes -> the Bedrock codes adapters.bedrock maps (same meaning, same answer).
_ERROR_CODES = {
    "ValidationError": "ValidationException",
    "ThrottlingException": "ThrottlingException",
    "ServiceUnavailable": "ServiceUnavailableException",
    "ModelNotReadyException": "ServiceUnavailableException",
    "ModelError": "ModelErrorException",
    "InternalFailure": "InternalServerException",
    "InternalDependencyException": "InternalServerException",
}
# OpenAI finish_reason -> Converse stopReason.
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "content_filter": "content_filtered"}


class SageMakerConfigError(ValueError):
    """SAGEMAKER_ENDPOINTS does not describe the shared endpoints correctly."""


@dataclass(frozen=True)
class SharedEndpoint:
    short_name: str
    endpoint_name: str
    endpoint_arn: str
    tenants: frozenset[str]
    spec: ModelSpec
    # The model name the server expects in the body's "model" (many servers ignore it).
    served_model: str


def is_endpoint_arn(model_arn: str) -> bool:
    return model_arn.startswith("arn:") and ":sagemaker:" in model_arn and ":endpoint/" in model_arn


def parse_endpoints(document: Mapping[str, Any]) -> dict[str, SharedEndpoint]:
    endpoints: dict[str, SharedEndpoint] = {}
    for name, entry in document.items():
        where = f"{ENVIRONMENT_VARIABLE}.{name}"
        if not isinstance(entry, Mapping):
            raise SageMakerConfigError(f"{where} must be an object")
        try:
            endpoint_name = str(entry["endpointName"])
            endpoint_arn = str(entry["endpointArn"])
            tenants = entry.get("tenants") or []
            max_output = int(entry["maxOutputTokens"])
            # The configured per-token rates, exact (femto-dollars per token), at the default tier: a
            # shared endpoint has no cache, no tiers and no cross-Region premium.
            prices = ModelPrices(
                tiers=MappingProxyType(
                    {
                        DEFAULT_TIER: Rates(
                            input=usd_per_million_to_femtos(
                                entry["inputPerMillionUsd"], f"{where}.inputPerMillionUsd"
                            ),
                            output=usd_per_million_to_femtos(
                                entry["outputPerMillionUsd"], f"{where}.outputPerMillionUsd"
                            ),
                        )
                    }
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SageMakerConfigError(f"{where}: {exc}") from exc
        if not is_endpoint_arn(endpoint_arn) or not endpoint_arn.endswith(
            f":endpoint/{endpoint_name.lower()}"
        ):
            raise SageMakerConfigError(
                f"{where}.endpointArn {endpoint_arn!r} is not the ARN of {endpoint_name}"
            )
        if max_output < 1 or not isinstance(tenants, list) or not all(isinstance(t, str) for t in tenants):
            raise SageMakerConfigError(f"{where}: maxOutputTokens >= 1 and tenants a list of tenant ids")
        endpoints[name] = SharedEndpoint(
            short_name=name,
            endpoint_name=endpoint_name,
            endpoint_arn=endpoint_arn,
            tenants=frozenset(tenants),
            spec=ModelSpec(
                short_name=name,
                model_id=endpoint_arn,
                family=FAMILY,
                max_output_tokens=max_output,
                top_k_path=None,
                prices=prices,
            ),
            served_model=str(entry.get("servedModel") or name),
        )
    return endpoints


def endpoints_from_env(environ: Mapping[str, str] | None = None) -> dict[str, SharedEndpoint]:
    text = (os.environ if environ is None else environ).get(ENVIRONMENT_VARIABLE, "").strip()
    if not text:
        return {}
    try:
        # JSON numbers are read as Decimal: a rate is money, never a float.
        document = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise SageMakerConfigError(f"{ENVIRONMENT_VARIABLE} is not JSON: {exc}") from exc
    if not isinstance(document, Mapping):
        raise SageMakerConfigError(f"{ENVIRONMENT_VARIABLE} must be a JSON object")
    return parse_endpoints(document)


def extend_catalog(catalog: Catalog, endpoints: Mapping[str, SharedEndpoint]) -> Catalog:
    """The catalog plus each shared endpoint, priced at its configured per-token rate."""
    clash = sorted(set(endpoints) & set(catalog.models))
    if clash:
        raise SageMakerConfigError(f"shared endpoint names clash with catalog models: {', '.join(clash)}")
    return Catalog(models=MappingProxyType({**catalog.models, **{n: e.spec for n, e in endpoints.items()}}))


class SharedEndpointTenants:
    """The config store, with each tenant's shared endpoints among its models (short name -> ARN)."""

    def __init__(self, store: Any, endpoints: Mapping[str, SharedEndpoint]) -> None:
        self._store = store
        self._endpoints = endpoints

    def _with_endpoints(self, tenant: TenantConfig | None) -> TenantConfig | None:
        if tenant is None:
            return None
        extra = {n: e.endpoint_arn for n, e in self._endpoints.items() if tenant.tenant_id in e.tenants}
        if not extra:
            return tenant
        return replace(tenant, models=MappingProxyType({**tenant.models, **extra}))

    def tenant_for_api_key(self, api_key_id: str) -> TenantConfig | None:
        return self._with_endpoints(self._store.tenant_for_api_key(api_key_id))

    def reload_tenant(self, tenant_id: str) -> TenantConfig | None:
        return self._with_endpoints(self._store.reload_tenant(tenant_id))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class SageMakerConverseClient:
    """Converse in, InvokeEndpoint (OpenAI chat body) out, Converse shape back."""

    def __init__(self, runtime_client: Any, endpoint: SharedEndpoint) -> None:
        self._runtime = runtime_client
        self.endpoint = endpoint

    def converse(self, **arguments: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        body = chat_body(arguments, self.endpoint.served_model)
        metadata = arguments.get("requestMetadata") or {}
        extra: dict[str, Any] = {}
        if metadata:
            # The model server's own logs can then name the tenant and request, like Bedrock's do.
            extra["CustomAttributes"] = ";".join(
                f"{k}={metadata[k]}" for k in ("tenantId", "requestId") if k in metadata
            )
        try:
            answer = self._runtime.invoke_endpoint(
                EndpointName=self.endpoint.endpoint_name,
                ContentType="application/json",
                Accept="application/json",
                Body=json.dumps(body).encode("utf-8"),
                **extra,
            )
        except ClientError as exc:
            raise _as_bedrock_error(exc) from exc
        return converse_result(answer["Body"].read())

    def converse_stream(self, **arguments: Any) -> Any:
        raise BadRequest(
            "stream_not_supported", f"{self.endpoint.short_name} does not stream; use /v1/converse"
        )


def chat_body(arguments: Mapping[str, Any], served_model: str) -> dict[str, Any]:
    """The OpenAI chat completion body for the Converse arguments (system first, then the turns)."""
    messages = [{"role": "system", "content": block["text"]} for block in arguments.get("system") or []]
    for message in arguments.get("messages") or []:
        text = "".join(block.get("text", "") for block in message.get("content") or [])
        messages.append({"role": message["role"], "content": text})
    config = arguments.get("inferenceConfig") or {}
    body: dict[str, Any] = {"model": served_model, "messages": messages, "max_tokens": config["maxTokens"]}
    if "temperature" in config:
        body["temperature"] = config["temperature"]
    if "topP" in config:
        body["top_p"] = config["topP"]
    user = (arguments.get("requestMetadata") or {}).get("userId")
    if user:
        body["user"] = user
    return body


def converse_result(raw: bytes) -> dict[str, Any]:
    """The server's chat completion as Converse's response; an unreadable one is billed worst case."""
    try:
        document = json.loads(raw)
        choice = document["choices"][0]
        text = choice["message"]["content"] or ""
        usage = document["usage"]
        input_tokens, output_tokens = int(usage["prompt_tokens"]), int(usage["completion_tokens"])
    except (ValueError, KeyError, IndexError, TypeError):
        raise UnreadableResponse("the SageMaker endpoint returned an unreadable chat completion") from None
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": str(text)}]}},
        "stopReason": _STOP_REASONS.get(str(choice.get("finish_reason")), "end_turn"),
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
        },
    }


def _as_bedrock_error(exc: Any) -> Any:
    from botocore.exceptions import ClientError

    error = dict(exc.response.get("Error", {}))
    code = str(error.get("Code", ""))
    error["Code"] = _ERROR_CODES.get(code, code)
    error["Message"] = f"SageMaker: {error.get('Message', '')}"
    return ClientError({**exc.response, "Error": error}, "InvokeEndpoint")


class SageMakerRouting:
    """The Bedrock clients, plus one Converse-shaped client per shared endpoint (created on first use).

    SageMaker calls run as the function's own role: the endpoint is billed per instance-hour, not per
    caller, so a per-user session would attribute nothing more (the call record names the user).
    """

    def __init__(
        self,
        inner: BedrockClients,
        endpoints: Mapping[str, SharedEndpoint],
        *,
        runtime_client: Any = None,
        client_factory: Callable[[], Any] | None = None,
    ) -> None:
        self._inner = inner
        self._by_arn = {e.endpoint_arn: e for e in endpoints.values()}
        self._runtime = runtime_client
        self._factory = client_factory
        self._lock = threading.Lock()

    def client_for(self, tenant: TenantConfig, user: str | None) -> Any:
        return self._inner.client_for(tenant, user)

    def principal_for(self, tenant: TenantConfig, user: str | None) -> str | None:
        return self._inner.principal_for(tenant, user)

    def endpoint_client(self, endpoint_arn: str) -> SageMakerConverseClient:
        endpoint = self._by_arn.get(endpoint_arn)
        if endpoint is None:
            raise BadRequest("model_not_allowed", "the model's SageMaker endpoint is not configured")
        if self._runtime is None:
            with self._lock:
                if self._runtime is None:
                    self._runtime = self._factory() if self._factory else _default_runtime()
        return SageMakerConverseClient(self._runtime, endpoint)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _default_runtime() -> Any:
    import boto3

    return boto3.session.Session().client("sagemaker-runtime")


def client_for(
    clients: BedrockClients, tenant: TenantConfig, user: str | None, model_arn: str, route: str
) -> Any:
    """The client that serves this call: a shared endpoint's, or the tenant's Bedrock client.

    Refused before anything is reserved: streaming from a SageMaker endpoint, or an endpoint ARN the
    gateway has no SageMaker configuration for.
    """
    if not is_endpoint_arn(model_arn):
        return clients.client_for(tenant, user)
    if route != "converse":
        raise BadRequest("stream_not_supported", "this model is a SageMaker endpoint: use POST /v1/converse")
    if not isinstance(clients, SageMakerRouting):
        raise BadRequest("model_not_allowed", "the model's SageMaker endpoint is not configured")
    return clients.endpoint_client(model_arn)
