"""An account's ``terraform.tfvars`` -> the runtime tenant config items, the way Terraform builds them.

docs/design.md section 2 defines the ``tenants`` variable (types, ``optional()`` defaults, validation);
section 3 defines the config item Terraform writes per tenant. The local stack has no Terraform, so
this module parses the same file with python-hcl2, applies the same defaults and validation, and builds
the same ``tenant#<id>`` items. What only exists after an apply (application inference profile ARNs, API
Gateway API key ids, the invoker role) is passed in.

Numbers: python-hcl2 hands literals over as ``int``/``float``; a float goes through ``repr`` into
``Decimal``, which gives back exactly the digits written for any literal of up to 15 significant digits
(far beyond a budget's cents). Only literal values are supported: an interpolation such as
``"${var.x}"`` is refused with a clear error rather than guessed.

CLI: ``python -m scripts.testbed.tfvars --account workload`` validates the file and prints the tenants as JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

from scripts import REPO_ROOT

ACCOUNTS_DIR = REPO_ROOT / "terraform" / "accounts"
CATALOG_PATH = REPO_ROOT / "lambda_src" / "cost_sentry" / "data" / "models.json"

TENANT_ID = re.compile(r"^[a-z0-9-]{1,32}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PERIODS = ("MONTHLY", "DAILY")
_INTERPOLATED_NUMBER = re.compile(r"^\$\{([-+0-9.eE]+)\}$")

_TENANT_KEYS = {
    "application_id",
    "cost_center",
    "environment",
    "models",
    "model_aliases",
    "budget",
    "limits",
    "alert_emails",
    "tags",
}
_BUDGET_KEYS = {
    "limit_usd",
    "period",
    "actual_thresholds",
    "forecast_threshold",
    "console_managed",
    "block_at_actual",
}
_LIMIT_KEYS = {"requests_per_minute", "tokens_per_period"}


class TfvarsError(ValueError):
    """The tfvars file does not satisfy the ``tenants`` variable's type or validation."""


@dataclass(frozen=True)
class Budget:
    limit_usd: Decimal
    period: str = "MONTHLY"
    actual_thresholds: tuple[Decimal, ...] = (Decimal(50), Decimal(80), Decimal(100))
    forecast_threshold: Decimal | None = Decimal(100)
    console_managed: bool = False
    block_at_actual: Decimal | None = None


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    application_id: str
    cost_center: str
    environment: str
    models: tuple[str, ...]
    budget: Budget
    model_aliases: Mapping[str, str] = field(default_factory=dict)
    requests_per_minute: int | None = None
    tokens_per_period: int | None = None
    alert_emails: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def default_model(self) -> str:
        return self.models[0]


@dataclass(frozen=True)
class AccountVars:
    account_id: str | None
    region: str | None
    environment: str | None
    tenants: Mapping[str, Tenant]
    # The variable's default in terraform/accounts/*/variables.tf; it names the invoker roles.
    name_prefix: str = "cost-sentry"
    per_user_sessions: bool = False

    def invoker_role_name(self, tenant_id: str) -> str:
        """As modules/gateway/iam.tf names it."""
        return f"{self.name_prefix}-{tenant_id}-invoker"


def load_catalog(path: Path = CATALOG_PATH) -> dict[str, Any]:
    """Short model name -> catalog entry (``modelId``, ``maxOutputTokens``, ...)."""
    return dict(json.loads(path.read_text())["models"])


# --------------------------------------------------------------------------------------------------
# Literal checks: each names the attribute path, so an error points at the line to fix
# --------------------------------------------------------------------------------------------------


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise TfvarsError(f"{where} must be a non-empty string, got {value!r}")
    if "${" in value:
        raise TfvarsError(f"{where}: only literal values are supported here, got the expression {value!r}")
    return value


def _number(value: Any, where: str) -> Decimal:
    if isinstance(value, str) and (match := _INTERPOLATED_NUMBER.match(value)):
        value = match.group(1)  # python-hcl2 keeps scientific notation as "${1e3}"
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise TfvarsError(f"{where} must be a number, got {value!r}")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise TfvarsError(f"{where} must be a number, got {value!r}") from None
    if not number.is_finite():
        raise TfvarsError(f"{where} must be a finite number, got {value!r}")
    return number


def _optional_number(value: Any, where: str) -> Decimal | None:
    return None if value is None else _number(value, where)


def _whole(value: Any, where: str) -> int | None:
    number = _optional_number(value, where)
    if number is None:
        return None
    if number != number.to_integral_value() or number <= 0:
        raise TfvarsError(f"{where} must be a positive whole number or null, got {value!r}")
    return int(number)


def _percent(value: Any, where: str) -> Decimal:
    number = _number(value, where)
    if not Decimal(1) <= number <= Decimal(1000):
        raise TfvarsError(f"{where} must be a percentage between 1 and 1000, got {value!r}")
    return number


def _object(value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TfvarsError(f"{where} must be an object, got {value!r}")
    # Terraform would drop an unknown attribute silently; a typo such as `limt_usd` should not be.
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise TfvarsError(
            f"{where} has unsupported attribute(s) {', '.join(unknown)}; allowed: {sorted(allowed)}"
        )
    return value


def _given(spec: Mapping[str, Any], key: str, default: Any) -> Any:
    """An optional() attribute: Terraform applies the default when it is omitted or null."""
    value = spec.get(key)
    return default if value is None else value


def _string_list(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise TfvarsError(f"{where} must be a list of strings, got {value!r}")
    return tuple(_string(item, f"{where}[{index}]") for index, item in enumerate(value))


def _string_map(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise TfvarsError(f"{where} must be a map of strings, got {value!r}")
    return {_string(key, f"{where} key"): _string(item, f"{where}.{key}") for key, item in value.items()}


# --------------------------------------------------------------------------------------------------
# The tenants variable: type, optional() defaults, validation
# --------------------------------------------------------------------------------------------------


def _budget(raw: Any, where: str) -> Budget:
    budget = _object(raw, where, _BUDGET_KEYS)
    if "limit_usd" not in budget:
        raise TfvarsError(f"{where}.limit_usd is required")
    limit = _number(budget["limit_usd"], f"{where}.limit_usd")
    if limit <= 0:
        raise TfvarsError(f"{where}.limit_usd must be greater than 0, got {limit}")
    period = _given(budget, "period", "MONTHLY")
    if period not in PERIODS:
        raise TfvarsError(f"{where}.period must be MONTHLY or DAILY, got {period!r}")
    thresholds_raw = _given(budget, "actual_thresholds", [50, 80, 100])
    if not isinstance(thresholds_raw, list):
        raise TfvarsError(f"{where}.actual_thresholds must be a list of numbers, got {thresholds_raw!r}")
    thresholds = tuple(_percent(t, f"{where}.actual_thresholds[{i}]") for i, t in enumerate(thresholds_raw))
    # As the Terraform variable does: null takes the default, and 0 means "no forecast alert".
    forecast = _given(budget, "forecast_threshold", 100)
    block = budget.get("block_at_actual")
    console_managed = _given(budget, "console_managed", False)
    if not isinstance(console_managed, bool):
        raise TfvarsError(f"{where}.console_managed must be true or false, got {console_managed!r}")
    return Budget(
        limit_usd=limit,
        period=period,
        actual_thresholds=thresholds,
        forecast_threshold=None if forecast == 0 else _percent(forecast, f"{where}.forecast_threshold"),
        console_managed=console_managed,
        block_at_actual=None if block is None else _percent(block, f"{where}.block_at_actual"),
    )


def parse_tenant(
    tenant_id: str, raw: Any, default_environment: str | None, catalog: Mapping[str, Any]
) -> Tenant:
    where = f"tenants.{tenant_id}"
    if not TENANT_ID.match(tenant_id):
        raise TfvarsError(f"{where}: tenant ids must match [a-z0-9-]{{1,32}}")
    spec = _object(raw, where, _TENANT_KEYS)
    for required in ("application_id", "cost_center", "models", "budget"):
        if required not in spec:
            raise TfvarsError(f"{where}.{required} is required")
    models = _string_list(spec["models"], f"{where}.models")
    if not models:
        raise TfvarsError(f"{where}.models must name at least one model (the first is the default)")
    unknown = [name for name in models if name not in catalog]
    if unknown:
        raise TfvarsError(
            f"{where}.models: unknown model(s) {', '.join(unknown)}; known: {', '.join(sorted(catalog))}"
        )
    if len(set(models)) != len(models):
        raise TfvarsError(f"{where}.models lists a model twice: {list(models)}")
    aliases = _string_map(_given(spec, "model_aliases", {}), f"{where}.model_aliases")
    for alias, target in aliases.items():
        if target not in models:
            raise TfvarsError(
                f"{where}.model_aliases.{alias} points at {target!r}, not one of {list(models)}"
            )
    environment = _given(spec, "environment", default_environment)
    if environment is None:
        raise TfvarsError(f"{where}.environment is not set and the account sets no `environment`")
    limits = _object(_given(spec, "limits", {}), f"{where}.limits", _LIMIT_KEYS)
    emails = _string_list(_given(spec, "alert_emails", []), f"{where}.alert_emails")
    for email in emails:
        if not EMAIL.match(email):
            raise TfvarsError(f"{where}.alert_emails: {email!r} is not an email address")
    return Tenant(
        tenant_id=tenant_id,
        application_id=_string(spec["application_id"], f"{where}.application_id"),
        cost_center=_string(spec["cost_center"], f"{where}.cost_center"),
        environment=_string(environment, f"{where}.environment"),
        models=models,
        model_aliases=aliases,
        budget=_budget(spec["budget"], f"{where}.budget"),
        requests_per_minute=_whole(limits.get("requests_per_minute"), f"{where}.limits.requests_per_minute"),
        tokens_per_period=_whole(limits.get("tokens_per_period"), f"{where}.limits.tokens_per_period"),
        alert_emails=emails,
        tags=_string_map(_given(spec, "tags", {}), f"{where}.tags"),
    )


def parse_tfvars(text: str, catalog: Mapping[str, Any] | None = None) -> AccountVars:
    options = SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
    try:
        document = hcl2.loads(text, serialization_options=options)
    except Exception as error:  # python-hcl2 raises lark's many error types for a syntax error
        raise TfvarsError(f"not valid HCL: {error}") from error
    known_models = load_catalog() if catalog is None else catalog
    environment = document.get("environment")
    if environment is not None:
        environment = _string(environment, "environment")
    tenants_raw = document.get("tenants")
    if not isinstance(tenants_raw, dict) or not tenants_raw:
        raise TfvarsError("`tenants` must be a map with at least one tenant")
    tenants = {
        tenant_id: parse_tenant(tenant_id, raw, environment, known_models)
        for tenant_id, raw in tenants_raw.items()
    }
    account_id = document.get("account_id")
    region = document.get("region")
    name_prefix = document.get("name_prefix")
    per_user_sessions = _given(document, "per_user_sessions", False)
    if not isinstance(per_user_sessions, bool):
        raise TfvarsError(f"per_user_sessions must be true or false, got {per_user_sessions!r}")
    return AccountVars(
        account_id=None if account_id is None else _string(str(account_id), "account_id"),
        region=None if region is None else _string(region, "region"),
        environment=environment,
        tenants=tenants,
        per_user_sessions=per_user_sessions,
        **({} if name_prefix is None else {"name_prefix": _string(name_prefix, "name_prefix")}),
    )


def tfvars_path(account: str, accounts_dir: Path = ACCOUNTS_DIR) -> Path:
    path = accounts_dir / account / "terraform.tfvars"
    if not re.fullmatch(r"[a-z0-9-]+", account) or not path.is_file():
        known = sorted(p.name for p in accounts_dir.iterdir() if (p / "terraform.tfvars").is_file())
        raise TfvarsError(
            f"no terraform.tfvars for account {account!r}; accounts with one: {', '.join(known)}"
        )
    return path


def load_account(account: str, accounts_dir: Path = ACCOUNTS_DIR) -> AccountVars:
    path = tfvars_path(account, accounts_dir)
    try:
        return parse_tfvars(path.read_text())
    except TfvarsError as error:
        raise TfvarsError(f"{path}: {error}") from error


# --------------------------------------------------------------------------------------------------
# Runtime config (docs/design.md section 3)
# --------------------------------------------------------------------------------------------------


def _decimal_text(number: Decimal) -> str:
    return format(number, "f")


def tenant_config_document(
    tenant: Tenant,
    profile_arns: Mapping[str, str],
    api_key_ids: list[str],
    invoker_role_arn: str | None = None,
) -> dict[str, Any]:
    """The JSON document Terraform writes into the ``tenant#<id>`` item."""
    missing = [model for model in tenant.models if model not in profile_arns]
    if missing:
        raise TfvarsError(f"tenant {tenant.tenant_id}: no inference profile ARN for {', '.join(missing)}")
    budget = tenant.budget
    return {
        "tenantId": tenant.tenant_id,
        "applicationId": tenant.application_id,
        "costCenter": tenant.cost_center,
        "environment": tenant.environment,
        "apiKeyIds": list(api_key_ids),
        "budget": {
            "limitUsd": _decimal_text(budget.limit_usd),
            "period": budget.period,
            "blockAtActualPercent": None
            if budget.block_at_actual is None
            else _decimal_text(budget.block_at_actual),
        },
        "limits": {
            "requestsPerMinute": tenant.requests_per_minute,
            "tokensPerPeriod": tenant.tokens_per_period,
        },
        "models": {model: profile_arns[model] for model in tenant.models},
        "defaultModel": tenant.default_model,
        # Terraform: merge({ (cost_center) = models[0] }, model_aliases): explicit aliases win.
        "modelAliases": {tenant.cost_center: tenant.default_model, **tenant.model_aliases},
        "invokerRoleArn": invoker_role_arn,
    }


def config_items(
    account: AccountVars,
    profile_arns: Mapping[str, Mapping[str, str]],
    api_key_ids: Mapping[str, list[str]],
    invoker_role_arns: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """DynamoDB items (low-level attribute values) for every tenant of ``account``."""
    items = []
    for tenant_id, tenant in account.tenants.items():
        if tenant_id not in api_key_ids or not api_key_ids[tenant_id]:
            raise TfvarsError(f"tenant {tenant_id}: no API key id given")
        document = tenant_config_document(
            tenant,
            profile_arns.get(tenant_id, {}),
            api_key_ids[tenant_id],
            (invoker_role_arns or {}).get(tenant_id),
        )
        items.append(
            {"pk": {"S": f"tenant#{tenant_id}"}, "config": {"S": json.dumps(document, sort_keys=True)}}
        )
    return items


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, Mapping):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if hasattr(value, "__dataclass_fields__"):
        return {name: _jsonable(getattr(value, name)) for name in value.__dataclass_fields__}
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Validate an account's tenants and print them as JSON.")
    parser.add_argument("--account", default="workload")
    args = parser.parse_args(argv)
    try:
        account = load_account(args.account)
    except TfvarsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(_jsonable(account), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
