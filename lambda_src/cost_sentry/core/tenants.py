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
from typing import Any, Protocol

from cost_sentry.core.identity import (
    KEY_ITEM_PREFIX,
    KeyItemError,
    OidcSettings,
    UserKey,
    key_from_document,
    key_from_item,
    parse_oidc,
)
from cost_sentry.core.log import default_logger
from cost_sentry.core.money import parse_decimal, usd_to_nanos_floor
from cost_sentry.core.pacing import PPM, Pace

PERIODS = ("MONTHLY", "DAILY")
# The config table's keys (``pk``): Terraform writes ``tenant#<id>`` (modules/gateway/tables.tf), the
# budget sync ``limit#<id>``, the key admin ``userkey#<sha256>``; TenantDirectory.from_items reads them all.
TENANT_ITEM_PREFIX = "tenant#"
LIMIT_ITEM_PREFIX = "limit#"


def tenant_item_key(tenant_id: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": TENANT_ITEM_PREFIX + tenant_id}}


def limit_item_key(tenant_id: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": LIMIT_ITEM_PREFIX + tenant_id}}


class ConfigError(ValueError):
    """A tenant document that does not follow the contract."""


class TaggedTenant(Protocol):
    """A tenant as its cost allocation tags name it: the fields of TenantConfig that the attribution
    adapters (per-user sessions, profiles found by their tags) and the invocation logs read."""

    @property
    def tenant_id(self) -> str: ...
    @property
    def application_id(self) -> str: ...
    @property
    def cost_center(self) -> str: ...
    @property
    def environment(self) -> str: ...


def allocation_tags(tenant: TaggedTenant) -> dict[str, str]:
    """The tenant's cost allocation tags, key -> value: what Terraform tags its inference profiles with,
    what its STS sessions carry into CUR 2.0, and what Bedrock's invocation logs record."""
    return {
        "applicationId": tenant.application_id,
        "costCenter": tenant.cost_center,
        "environment": tenant.environment,
    }


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
    # With per-user budgets, header identity may go without a user only when the tenant says so.
    allow_anonymous: bool = False
    # The tenant's identity provider (tokens naming its users), or None.
    oidc: OidcSettings | None = None
    # Per-user keys from the tenant document (Terraform's users.keys).
    document_keys: tuple[UserKey, ...] = ()
    # users.default_limit_usd or users.limits_usd is set (per-key limits alone do not make it so).
    has_user_budgets: bool = False
    # The budget's pace (budget.pace) and each per-user budget's (users.pace); None = unpaced.
    pace: Pace | None = None
    user_pace: Pace | None = None
    # False = shadow mode: everything is reserved, settled and metered, a would-be denial for budget,
    # pace or rate is recorded (WouldDeny) instead of answered (docs/design.md section 4, "Shadow mode").
    enforce: bool = True

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


def _pace(value: object, what: str) -> Pace | None:
    """``{"burstPercent": "10", "burstHours": "24"}`` -> Pace in whole ppm and seconds (exact)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ConfigError(f"{what} must be an object")
    percent = parse_decimal(value.get("burstPercent", 0), f"{what}.burstPercent")
    hours = parse_decimal(value.get("burstHours", 0), f"{what}.burstHours")
    ppm, seconds = percent * (PPM // 100), hours * 3600
    if not 0 <= percent <= 100 or ppm != ppm.to_integral_value():
        raise ConfigError(f"{what}.burstPercent must be 0..100 with at most 4 decimals, got {percent}")
    if hours < 0 or seconds != seconds.to_integral_value():
        raise ConfigError(f"{what}.burstHours must be whole seconds of 0 or more hours, got {hours}")
    if not ppm and not seconds:
        raise ConfigError(f"{what} needs a burst (burstPercent or burstHours above 0)")
    return Pace(burst_ppm=int(ppm), burst_seconds=int(seconds))


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


def _flag(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{what} must be true or false")
    return value


def _budget(budget: Mapping[str, Any]) -> tuple[int, str, Decimal | None]:
    """budget.limitUsd (nano-dollars, floored), budget.period and budget.blockAtActualPercent."""
    limit_usd = parse_decimal(budget.get("limitUsd"), "budget.limitUsd")
    if limit_usd <= 0:
        raise ConfigError("budget.limitUsd must be positive")
    period = str(budget.get("period") or "MONTHLY").upper()
    if period not in PERIODS:
        raise ConfigError(f"budget.period must be one of {PERIODS}, got {period!r}")
    block_raw = budget.get("blockAtActualPercent")
    block = None if block_raw is None else parse_decimal(block_raw, "budget.blockAtActualPercent")
    return usd_to_nanos_floor(limit_usd), period, block


def _models(document: Mapping[str, Any]) -> tuple[dict[str, str], str]:
    """The tenant's models (short name -> model id or profile ARN) and its default model."""
    models = _string_map(document.get("models"), "models")
    if not models:
        raise ConfigError("models must name at least one model")
    default_model = document.get("defaultModel") or next(iter(models))
    if default_model not in models:
        raise ConfigError(f"defaultModel {default_model!r} is not one of the tenant's models")
    return models, default_model


def _model_aliases(
    document: Mapping[str, Any], models: Mapping[str, str], default_model: str, cost_center: str
) -> dict[str, str]:
    aliases = _string_map(document.get("modelAliases"), "modelAliases")
    for alias, target in aliases.items():
        if target not in models:
            raise ConfigError(f"modelAliases.{alias} points at {target!r}, not a model of the tenant")
    # The cost center selects the tenant's default model unless an explicit alias says otherwise.
    aliases.setdefault(cost_center, default_model)
    return aliases


def _api_key_ids(value: object) -> tuple[str, ...]:
    api_keys = value or []
    if not isinstance(api_keys, list) or not all(isinstance(k, str) and k for k in api_keys):
        raise ConfigError("apiKeyIds must be a list of strings")
    return tuple(api_keys)


def _document_keys(users: Mapping[str, Any], tenant_id: str) -> tuple[UserKey, ...]:
    """Per-user keys Terraform wrote into the tenant document (users.keys)."""
    keys = users.get("keys") or {}
    if not isinstance(keys, Mapping) or not all(isinstance(v, Mapping) for v in keys.values()):
        raise ConfigError("users.keys must be an object of key name -> {user, sha256, ...}")
    return tuple(key_from_document(name, entry, tenant_id) for name, entry in keys.items())


def tenant_from_document(document: Mapping[str, Any]) -> TenantConfig:
    """Parse one tenant's JSON document; numbers go through Decimal, never float."""
    tenant_id = _text(document, "tenantId", "?")
    try:
        return _tenant(document, tenant_id)
    except (ConfigError, ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(f"tenant {tenant_id}: {exc}") from exc


def _tenant(document: Mapping[str, Any], tenant_id: str) -> TenantConfig:
    """The steps of tenant_from_document, in the order their errors are reported."""
    budget = document.get("budget") or {}
    limits = document.get("limits") or {}
    limit_nanos, period, block = _budget(budget)
    models, default_model = _models(document)
    cost_center = _text(document, "costCenter", tenant_id)
    aliases = _model_aliases(document, models, default_model, cost_center)
    api_keys = _api_key_ids(document.get("apiKeyIds"))
    invoker = document.get("invokerRoleArn")
    user_default, user_limits = _user_limits(document.get("users"))
    users = document.get("users") or {}
    allow_anonymous = _flag(users.get("allowAnonymous", False), "users.allowAnonymous")
    document_keys = _document_keys(users, tenant_id)
    oidc = parse_oidc((document.get("identity") or {}).get("oidc"))
    enforce = _flag(document.get("enforce", True), "enforce")
    return TenantConfig(
        tenant_id=tenant_id,
        application_id=_text(document, "applicationId", tenant_id),
        cost_center=cost_center,
        environment=_text(document, "environment", tenant_id),
        api_key_ids=api_keys,
        budget_limit_nanos=limit_nanos,
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
        allow_anonymous=allow_anonymous,
        has_user_budgets=user_default is not None or bool(user_limits),
        oidc=oidc,
        document_keys=document_keys,
        pace=_pace(budget.get("pace"), "budget.pace"),
        user_pace=_pace(users.get("pace"), "users.pace"),
        enforce=enforce,
    )


@dataclass(frozen=True)
class TenantDirectory:
    """All tenants, indexed by tenant id and by API key id; per-user keys by their hash; tenants with
    an identity provider by (issuer, audience)."""

    tenants: Mapping[str, TenantConfig]
    by_api_key: Mapping[str, TenantConfig]
    user_keys: Mapping[str, UserKey] = field(default_factory=lambda: MappingProxyType({}))
    by_issuer: Mapping[tuple[str, str], TenantConfig] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_items(cls, items: Sequence[Mapping[str, Any]]) -> TenantDirectory:
        """Build from raw DynamoDB items (``{"pk": {"S": ...}, ...}``); bad tenants are skipped and logged."""
        tenants: dict[str, TenantConfig] = {}
        overrides: dict[str, tuple[int, str]] = {}
        keys: dict[str, UserKey] = {}
        for item in items:
            pk = item.get("pk", {}).get("S", "")
            try:
                if pk.startswith(TENANT_ITEM_PREFIX):
                    tenant_id = pk.removeprefix(TENANT_ITEM_PREFIX)
                    tenant = tenant_from_document(json.loads(item["config"]["S"]))
                    if tenant.tenant_id != tenant_id:
                        raise ConfigError(f"item {pk} holds tenantId {tenant.tenant_id!r}")
                    tenants[tenant_id] = tenant
                elif pk.startswith(LIMIT_ITEM_PREFIX):
                    tenant_id = pk.removeprefix(LIMIT_ITEM_PREFIX)
                    limit = parse_decimal(item["limitUsd"]["S"], f"{pk} limitUsd")
                    if limit <= 0:
                        raise ConfigError(f"{pk}: limitUsd must be positive")
                    source = item.get("source", {}).get("S", "limit-item")
                    overrides[tenant_id] = (usd_to_nanos_floor(limit), source)
                elif pk.startswith(KEY_ITEM_PREFIX):
                    key = key_from_item(item)
                    keys[key.sha256] = key
            except (ConfigError, KeyItemError, ValueError, KeyError, TypeError) as exc:
                # One broken tenant must not take the gateway down for all the others.
                default_logger().error("config_item_rejected", pk=pk, error=str(exc))
        for tenant_id, (nanos, source) in overrides.items():
            if tenant_id in tenants:
                tenants[tenant_id] = replace(
                    tenants[tenant_id], budget_limit_nanos=nanos, budget_source=source
                )
        key_owners: dict[str, list[str]] = {}
        for tenant in tenants.values():
            for key_id in tenant.api_key_ids:
                key_owners.setdefault(key_id, []).append(tenant.tenant_id)
        by_key: dict[str, TenantConfig] = {}
        for key_id, owners in key_owners.items():
            if len(owners) > 1:
                # An ambiguous key could spend another tenant's budget: refuse it rather than guess.
                default_logger().error("api_key_ambiguous", apiKeyId=key_id, tenants=owners)
                continue
            by_key[key_id] = tenants[owners[0]]
        user_keys = _user_keys(tenants, keys)
        tenants = _with_key_limits(tenants, user_keys)
        by_key = {key: tenants[tenant.tenant_id] for key, tenant in by_key.items()}
        return cls(
            tenants=MappingProxyType(tenants),
            by_api_key=MappingProxyType(by_key),
            user_keys=MappingProxyType(user_keys),
            by_issuer=MappingProxyType(_by_issuer(tenants)),
        )

    def with_user_key(self, key: UserKey) -> TenantDirectory:
        """This directory and one key read on its own (a miss between two refreshes)."""
        if key.tenant_id not in self.tenants:
            return self
        tenants = _with_key_limits(self.tenants, {key.sha256: key})
        by_key = {key_id: tenants[tenant.tenant_id] for key_id, tenant in self.by_api_key.items()}
        return TenantDirectory(
            tenants=MappingProxyType(tenants),
            by_api_key=MappingProxyType(by_key),
            user_keys=MappingProxyType({**self.user_keys, key.sha256: key}),
            by_issuer=MappingProxyType(_by_issuer(tenants)),
        )


def _user_keys(tenants: Mapping[str, TenantConfig], items: Mapping[str, UserKey]) -> dict[str, UserKey]:
    """Every per-user key of a known tenant, by hash; one hash claimed twice is refused, not guessed."""
    keys: dict[str, UserKey] = {}
    claimed: dict[str, int] = {}
    for key in [*items.values(), *(k for t in tenants.values() for k in t.document_keys)]:
        if key.tenant_id not in tenants:
            default_logger().error("user_key_unknown_tenant", keyPrefix=key.prefix, tenant=key.tenant_id)
            continue
        claimed[key.sha256] = claimed.get(key.sha256, 0) + 1
        keys[key.sha256] = key
    for digest, count in claimed.items():
        if count > 1:
            default_logger().error("user_key_ambiguous", keyPrefix=keys[digest].prefix)
            del keys[digest]
    return keys


def _with_key_limits(
    tenants: Mapping[str, TenantConfig], keys: Mapping[str, UserKey]
) -> dict[str, TenantConfig]:
    """A per-key limit is its owner's per-user limit, never above the tenant's for that user: the
    least of the tenant's limit for the user and every unrevoked key's limit of that user."""
    limits: dict[str, dict[str, int]] = {}
    for key in keys.values():
        if key.limit_nanos is None or key.revoked_at is not None:
            continue
        tenant = tenants[key.tenant_id]
        current = limits.setdefault(key.tenant_id, {}).get(key.user, tenant.user_limit_for(key.user))
        limits[key.tenant_id][key.user] = (
            key.limit_nanos if current is None else min(current, key.limit_nanos)
        )
    result = dict(tenants)
    for tenant_id, users in limits.items():
        tenant = tenants[tenant_id]
        result[tenant_id] = replace(
            tenant, user_limit_nanos=MappingProxyType({**tenant.user_limit_nanos, **users})
        )
    return result


def _by_issuer(tenants: Mapping[str, TenantConfig]) -> dict[tuple[str, str], TenantConfig]:
    """(issuer, audience) -> the one tenant whose users those tokens name; a pair two tenants claim
    is refused (a token could otherwise spend another tenant's budget)."""
    owners: dict[tuple[str, str], list[TenantConfig]] = {}
    for tenant in tenants.values():
        if tenant.oidc is not None:
            owners.setdefault((tenant.oidc.issuer, tenant.oidc.audience), []).append(tenant)
    result = {}
    for pair, claimed in owners.items():
        if len(claimed) > 1:
            default_logger().error(
                "oidc_audience_ambiguous", issuer=pair[0], tenants=[t.tenant_id for t in claimed]
            )
            continue
        result[pair] = claimed[0]
    return result
