"""Which application inference profile serves a tenant's model (the ``modelId`` sent to Bedrock)."""

from __future__ import annotations

from typing import Protocol

from cost_sentry.core.catalog import Catalog
from cost_sentry.core.errors import BadRequest
from cost_sentry.core.tenants import TenantConfig


class ProfileResolver(Protocol):
    def profile_arn(self, tenant: TenantConfig, model: str) -> str: ...


class StaticResolver:
    """The profile ARNs Terraform wrote into the tenant's config."""

    def profile_arn(self, tenant: TenantConfig, model: str) -> str:
        try:
            return tenant.models[model]
        except KeyError:
            raise BadRequest("model_not_allowed", f"{model} is not one of the tenant's models") from None


def resolve_model_name(tenant: TenantConfig, requested: str | None, catalog: Catalog) -> str:
    """Short name, full model id or alias (the cost center included) -> the tenant's short name."""
    if requested is None:
        return tenant.default_model
    if requested in catalog.models:
        name = requested
    elif requested in tenant.model_aliases:
        name = tenant.model_aliases[requested]
    else:
        name = catalog.short_name_for_model_id(requested) or ""
    allowed = sorted(tenant.models)
    allowed_text = ", ".join(allowed)
    aliases = ", ".join(sorted(tenant.model_aliases))
    if not name:
        raise BadRequest(
            "unknown_model", f"unknown model {requested!r}; allowed: {allowed_text} (aliases: {aliases})"
        )
    if name not in tenant.models or name not in catalog.models:
        raise BadRequest(
            "model_not_allowed",
            f"model {requested!r} is not enabled for this tenant; allowed: {allowed_text}",
        )
    return name
