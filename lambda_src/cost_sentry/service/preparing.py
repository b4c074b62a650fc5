"""Before the ledger is asked: who is calling, what they sent, which model and profile, and the worst case.

Everything here can refuse a request, and nothing here spends: a refusal leaves the ledger untouched.
The tenant comes from the API key, never from the body; the worst case is bounded over the Converse
arguments as they will be sent (core/estimate.py), not over what a surface parsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cost_sentry.adapters import bedrock, sagemaker
from cost_sentry.adapters.bedrock import BedrockClients
from cost_sentry.adapters.config_store import ConfigStore
from cost_sentry.core import guardrails
from cost_sentry.core.catalog import Catalog, ModelSpec
from cost_sentry.core.converse import ConverseRequest, check_against_model
from cost_sentry.core.errors import BadRequest, Forbidden, Unauthorized
from cost_sentry.core.estimate import worst_case_for
from cost_sentry.core.resolvers import ProfileResolver, resolve_model_name
from cost_sentry.core.settings import Settings
from cost_sentry.core.tenants import TenantConfig
from cost_sentry.core.validation import parse_user
from cost_sentry.service.results import ApiCall
from cost_sentry.service.settling import PreparedCall
from cost_sentry.service.telemetry import Trace


@dataclass
class Preparer:
    settings: Settings
    config_store: ConfigStore
    catalog: Catalog
    resolver: ProfileResolver
    bedrock_clients: BedrockClients

    def authenticate(self, call: ApiCall, trace: Trace) -> TenantConfig:
        if not call.api_key_id:
            raise Unauthorized("missing_api_key", "an API key (x-api-key) is required")
        tenant = self.config_store.tenant_for_api_key(call.api_key_id)
        if tenant is None:
            raise Unauthorized("unknown_api_key", "the API key is not assigned to any tenant")
        trace.tenant = tenant
        return tenant

    def prepare(self, call: ApiCall, trace: Trace, *, stream: bool) -> PreparedCall:
        tenant = self.authenticate(call, trace)
        request = call.parser(call.body, self.settings.max_body_bytes)
        trace.request = request
        user = self._user(call, tenant)
        trace.user = user
        _check_tags(request, tenant)
        model = self._model_name(tenant, request.model)
        trace.model = model
        spec = self.catalog.get(model)
        if call.model_check is not None:
            call.model_check(spec)
        # Every model route runs in the streaming function in AWS (/v1/converse too, its body in one
        # piece), so each has the function's limit: a request is refused only if it cannot finish there.
        max_tokens = check_against_model(request, spec, self.settings.generation_limit_seconds())
        profile_arn = self.resolver.profile_arn(tenant, model)
        trace.profile_arn = profile_arn
        arguments = self._arguments(call, tenant, user, model, spec, profile_arn, request, max_tokens, stream)
        # Before reserving: a refused session (bad user, STS down) must not touch the ledger. A shared
        # SageMaker endpoint (adapters/sagemaker.py) gets its own Converse-shaped client.
        client = sagemaker.client_for(self.bedrock_clients, tenant, user, profile_arn, call.route)
        return PreparedCall(
            tenant=tenant,
            user=user,
            principal=self.bedrock_clients.principal_for(tenant, user),
            request=request,
            spec=spec,
            profile_arn=profile_arn,
            arguments=arguments,
            worst=worst_case_for(spec, request, max_tokens, stream=stream, sent=arguments),
            client=client,
            guardrail_trace_asked=guardrails.caller_wants_trace(request.guardrail_config),
        )

    def _user(self, call: ApiCall, tenant: TenantConfig) -> str | None:
        user = parse_user(call.user_header)
        if user is None and tenant.has_user_budgets and not tenant.allow_anonymous:
            # A request without a user would spend the tenant's budget past every per-user cap.
            raise Forbidden(
                "user_required",
                "this tenant has per-user budgets: send x-cost-sentry-user, or use a per-user key or "
                "an OIDC token (users.allow_anonymous lets requests without a user through)",
            )
        return user

    def _arguments(
        self,
        call: ApiCall,
        tenant: TenantConfig,
        user: str | None,
        model: str,
        spec: ModelSpec,
        profile_arn: str,
        request: ConverseRequest,
        max_tokens: int,
        stream: bool,
    ) -> dict[str, Any]:
        """The Converse arguments exactly as they will be sent: the worst case is bounded over these."""
        # Bedrock's invocation logs carry these, so a log line joins the ledger's call record and CUR 2.0;
        # the caller's own requestMetadata keys travel beside them (reserved names are refused).
        metadata = bedrock.request_metadata(tenant, user, call.request_id, model)
        arguments = bedrock.build_converse_request(profile_arn, spec, request, max_tokens, metadata)
        if request.guardrail_config is not None:
            guardrails.check_guardrail_config(request.guardrail_config, stream)
            if spec.guardrail_rates is None:
                raise BadRequest(
                    "guardrails_not_priced",
                    "the model catalog has no guardrail prices: remove guardrailConfig",
                )
            # Bedrock reports the units a guardrail billed only in its trace: always ask for it.
            arguments["guardrailConfig"] = guardrails.traced(request.guardrail_config)
        return arguments

    def _model_name(self, tenant: TenantConfig, requested: str | None) -> str:
        """Short name, alias, base model or system profile id, or one of the tenant's own profile ARNs."""
        if requested is not None and requested.startswith("arn:"):
            for name, arn in tenant.models.items():
                if arn == requested:
                    return name
            if ":application-inference-profile/" in requested:
                # Never another tenant's profile: only the key's own tenant's profiles are usable.
                raise Forbidden(
                    "profile_not_allowed", "the inference profile is not one of this API key's tenant's"
                )
        return resolve_model_name(tenant, requested, self.catalog)


def _check_tags(request: ConverseRequest, tenant: TenantConfig) -> None:
    """The tenant comes from the API key, never from the body: tags can only confirm it."""
    tags = request.tags
    for name, given, expected in (
        ("applicationId", tags.application_id if tags else None, tenant.application_id),
        ("costCenter", tags.cost_center if tags else None, tenant.cost_center),
        ("environment", tags.environment if tags else None, tenant.environment),
    ):
        if given is not None and given != expected:
            raise Forbidden("tag_mismatch", f"tags.{name} {given!r} does not belong to this API key's tenant")
