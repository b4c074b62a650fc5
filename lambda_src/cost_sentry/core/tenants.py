"""Runtime tenant config (docs/design.md section 3): the typed TenantConfig, parsed from its document.

Pure: the config table's reader is cost_sentry.adapters.config_store. A ``limit#<tenant>`` item
overrides the tenant's budget amount.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from cost_sentry.core.log import default_logger
from cost_sentry.core.money import parse_decimal, usd_to_nanos_floor

PERIODS = ("MONTHLY", "DAILY")


class ConfigError(ValueError):
    """A tenant document that does not follow the contract."""


@dataclass(frozen=True)
class TenantConfig:
    tenant_id: str
    application_id: str
    cost_center: str
    environment: str
    api_key_ids: tuple[str, ...]
    budget_limit_nanos: int
    budget_period: str
    block_at_actual_percent: Decimal | None
    requests_per_minute: int | None
    tokens_per_period: int | None
    models: Mapping[str, str]
    default_model: str
    model_aliases: Mapping[str, str]
    invoker_role_arn: str | None = None
    # Concurrent admitted requests of the tenant (the ledger's in_flight counters); None = unlimited.
    max_in_flight: int | None = None
    # How many shard items the period's budget is spread over (docs/design.md section 4).
    ledger_shards: int = 1
    # Per end user (x-cost-sentry-user) budget per period: the default and per-user overrides.
    user_default_limit_nanos: int | None = None
    user_limit_nanos: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    # Where the budget amount came from: "config" (Terraform) or the limit# item's source.
    budget_source: str = field(default="config", compare=False)

    def user_limit_for(self, user: str | None) -> int | None:
        """The period budget of one end user, or None when the tenant sets none for them."""
        if user is None:
            return None
        return self.user_limit_nanos.get(user, self.user_default_limit_nanos)


MAX_LEDGER_SHARDS = 64


def _optional_whole(value: object, what: str) -> int | None:
    if value is None:
        return None
    number = parse_decimal(value, what)
    if number != number.to_integral_value() or number <= 0:
        raise ConfigError(f"{what} must be a positive whole number, got {value!r}")
    return int(number)


def _optional_usd_nanos(value: object, what: str) -> int | None:
    if value is None:
        return None
    amount = parse_decimal(value, what)
    if amount <= 0:
        raise ConfigError(f"{what} must be positive, got {value!r}")
    return usd_to_nanos_floor(amount)


def _ledger_shards(ledger: object) -> int:
    if ledger is None:
        return 1
    if not isinstance(ledger, Mapping):
        raise ConfigError("ledger must be an object")
    shards = _optional_whole(ledger.get("shards"), "ledger.shards") or 1
    if shards > MAX_LEDGER_SHARDS:
        raise ConfigError(f"ledger.shards must be 1..{MAX_LEDGER_SHARDS}, got {shards}")
    return shards


def _user_limits(users: object) -> tuple[int | None, dict[str, int]]:
    if users is None:
        return None, {}
    if not isinstance(users, Mapping):
        raise ConfigError("users must be an object")
    default = _optional_usd_nanos(users.get("defaultLimitUsd"), "users.defaultLimitUsd")
    overrides = users.get("limitsUsd") or {}
    if not isinstance(overrides, Mapping) or not all(isinstance(k, str) and k for k in overrides):
        raise ConfigError("users.limitsUsd must be an object of user id -> USD")
    limits = {user: _optional_usd_nanos(usd, f"users.limitsUsd.{user}") for user, usd in overrides.items()}
    if any(nanos is None for nanos in limits.values()):
        raise ConfigError("users.limitsUsd values must be amounts, not null")
    return default, {user: nanos for user, nanos in limits.items() if nanos is not None}


def _string_map(value: object, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigError(f"{what} must be an object of strings")
    return dict(value)


def _text(document: Mapping[str, Any], key: str, tenant: str) -> str:
    value = document.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"tenant {tenant}: {key} must be a non-empty string")
    return value


def tenant_from_document(document: Mapping[str, Any]) -> TenantConfig:
    """Parse one tenant's JSON document; numbers go through Decimal, never float."""
    tenant_id = _text(document, "tenantId", "?")
    try:
        budget = document.get("budget") or {}
        limits = document.get("limits") or {}
        limit_usd = parse_decimal(budget.get("limitUsd"), "budget.limitUsd")
        if limit_usd <= 0:
            raise ConfigError("budget.limitUsd must be positive")
        period = str(budget.get("period") or "MONTHLY").upper()
        if period not in PERIODS:
            raise ConfigError(f"budget.period must be one of {PERIODS}, got {period!r}")
        block_raw = budget.get("blockAtActualPercent")
        block = None if block_raw is None else parse_decimal(block_raw, "budget.blockAtActualPercent")
        models = _string_map(document.get("models"), "models")
        if not models:
            raise ConfigError("models must name at least one model")
        default_model = document.get("defaultModel") or next(iter(models))
        if default_model not in models:
            raise ConfigError(f"defaultModel {default_model!r} is not one of the tenant's models")
        cost_center = _text(document, "costCenter", tenant_id)
        aliases = _string_map(document.get("modelAliases"), "modelAliases")
        for alias, target in aliases.items():
            if target not in models:
                raise ConfigError(f"modelAliases.{alias} points at {target!r}, not a model of the tenant")
        # The cost center selects the tenant's default model unless an explicit alias says otherwise.
        aliases.setdefault(cost_center, default_model)
        api_keys = document.get("apiKeyIds") or []
        if not isinstance(api_keys, list) or not all(isinstance(k, str) and k for k in api_keys):
            raise ConfigError("apiKeyIds must be a list of strings")
        invoker = document.get("invokerRoleArn")
        user_default, user_limits = _user_limits(document.get("users"))
        return TenantConfig(
            tenant_id=tenant_id,
            application_id=_text(document, "applicationId", tenant_id),
            cost_center=cost_center,
            environment=_text(document, "environment", tenant_id),
            api_key_ids=tuple(api_keys),
            budget_limit_nanos=usd_to_nanos_floor(limit_usd),
            budget_period=period,
            block_at_actual_percent=block,
            requests_per_minute=_optional_whole(limits.get("requestsPerMinute"), "limits.requestsPerMinute"),
            tokens_per_period=_optional_whole(limits.get("tokensPerPeriod"), "limits.tokensPerPeriod"),
            models=MappingProxyType(models),
            default_model=default_model,
            model_aliases=MappingProxyType(aliases),
            invoker_role_arn=invoker if isinstance(invoker, str) and invoker else None,
            max_in_flight=_optional_whole(limits.get("maxInFlight"), "limits.maxInFlight"),
            ledger_shards=_ledger_shards(document.get("ledger")),
            user_default_limit_nanos=user_default,
            user_limit_nanos=MappingProxyType(user_limits),
        )
    except (ConfigError, ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(f"tenant {tenant_id}: {exc}") from exc


@dataclass(frozen=True)
class TenantDirectory:
    """All tenants, indexed by tenant id and by API key id."""

    tenants: Mapping[str, TenantConfig]
    by_api_key: Mapping[str, TenantConfig]

    @classmethod
    def from_items(cls, items: Sequence[Mapping[str, Any]]) -> TenantDirectory:
        """Build from raw DynamoDB items (``{"pk": {"S": ...}, ...}``); bad tenants are skipped and logged."""
        tenants: dict[str, TenantConfig] = {}
        overrides: dict[str, tuple[int, str]] = {}
        for item in items:
            pk = item.get("pk", {}).get("S", "")
            kind, _, tenant_id = pk.partition("#")
            try:
                if kind == "tenant":
                    tenant = tenant_from_document(json.loads(item["config"]["S"]))
                    if tenant.tenant_id != tenant_id:
                        raise ConfigError(f"item {pk} holds tenantId {tenant.tenant_id!r}")
                    tenants[tenant_id] = tenant
                elif kind == "limit":
                    limit = parse_decimal(item["limitUsd"]["S"], f"{pk} limitUsd")
                    if limit <= 0:
                        raise ConfigError(f"{pk}: limitUsd must be positive")
                    source = item.get("source", {}).get("S", "limit-item")
                    overrides[tenant_id] = (usd_to_nanos_floor(limit), source)
            except (ConfigError, ValueError, KeyError, TypeError) as exc:
                # One broken tenant must not take the gateway down for all the others.
                default_logger().error("config_item_rejected", pk=pk, error=str(exc))
        for tenant_id, (nanos, source) in overrides.items():
            if tenant_id in tenants:
                tenants[tenant_id] = replace(
                    tenants[tenant_id], budget_limit_nanos=nanos, budget_source=source
                )
        key_owners: dict[str, list[str]] = {}
        for tenant in tenants.values():
            for key in tenant.api_key_ids:
                key_owners.setdefault(key, []).append(tenant.tenant_id)
        by_key: dict[str, TenantConfig] = {}
        for key, owners in key_owners.items():
            if len(owners) > 1:
                # An ambiguous key could spend another tenant's budget: refuse it rather than guess.
                default_logger().error("api_key_ambiguous", apiKeyId=key, tenants=owners)
                continue
            by_key[key] = tenants[owners[0]]
        return cls(tenants=MappingProxyType(tenants), by_api_key=MappingProxyType(by_key))
