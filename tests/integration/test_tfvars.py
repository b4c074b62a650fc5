"""scripts/testbed/tfvars.py: the tenants variable's defaults and validation, and the runtime config items."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from scripts.testbed.tfvars import (
    TfvarsError,
    config_items,
    load_account,
    parse_tfvars,
    tenant_config_document,
)

MINIMAL = """
environment = "prod"
tenants = {
  acme = {
    application_id = "acme-app"
    cost_center    = "acme-cc"
    models         = ["nova-micro", "claude-3-haiku"]
    budget = {
      limit_usd = 0.10
    }
  }
}
"""


def tfvars_with(tenant_body: str, environment: str = 'environment = "prod"') -> str:
    return f"{environment}\ntenants = {{\n  acme = {{\n{tenant_body}\n  }}\n}}\n"


BASE_TENANT = """
    application_id = "acme-app"
    cost_center    = "acme-cc"
    models         = ["nova-micro"]
"""


def test_the_optional_defaults_of_the_variable_are_applied() -> None:
    tenant = parse_tfvars(MINIMAL).tenants["acme"]

    assert tenant.environment == "prod"  # var.environment
    assert tenant.budget.limit_usd == Decimal("0.10")
    assert tenant.budget.period == "MONTHLY"
    assert tenant.budget.actual_thresholds == (50, 80, 100)
    assert tenant.budget.forecast_threshold == 100
    assert tenant.budget.console_managed is False
    assert tenant.budget.block_at_actual is None
    assert (tenant.requests_per_minute, tenant.tokens_per_period) == (None, None)
    assert tenant.model_aliases == {}
    assert tenant.alert_emails == ()
    assert tenant.default_model == "nova-micro"
    assert parse_tfvars(MINIMAL).per_user_sessions is False


@pytest.mark.parametrize(
    ("setting", "expected"), [("0", None), ("null", Decimal(100)), ("120", Decimal(120))]
)
def test_forecast_threshold_reads_as_terraform_reads_it(setting: str, expected: Decimal | None) -> None:
    body = BASE_TENANT + f"    budget = {{ limit_usd = 1, forecast_threshold = {setting} }}\n"

    assert parse_tfvars(tfvars_with(body)).tenants["acme"].budget.forecast_threshold == expected


def test_the_workload_account_parses_with_its_own_settings() -> None:
    account = load_account("workload")

    support = account.tenants["support"]
    assert set(account.tenants) == {"sales", "services", "support"}
    assert account.per_user_sessions is True
    assert account.invoker_role_name("sales") == "cost-sentry-sales-invoker"
    assert support.environment == "staging"
    assert support.budget.period == "DAILY"
    assert support.budget.block_at_actual == 100
    assert support.tokens_per_period == 400_000
    assert support.tags == {"team": "customer-support"}
    assert account.tenants["services"].budget.console_managed is True
    assert account.tenants["sales"].budget.limit_usd == Decimal("0.5")


def test_the_config_document_follows_the_contract() -> None:
    tenant = parse_tfvars(
        tfvars_with(
            BASE_TENANT
            + """
    model_aliases = { fast = "nova-micro" }
    budget = { limit_usd = 12.345, period = "DAILY", block_at_actual = 90 }
    limits = { requests_per_minute = 60 }
"""
        )
    ).tenants["acme"]
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/p1"

    document = tenant_config_document(tenant, {"nova-micro": arn}, ["key-1"])

    assert document == {
        "tenantId": "acme",
        "applicationId": "acme-app",
        "costCenter": "acme-cc",
        "environment": "prod",
        "apiKeyIds": ["key-1"],
        "budget": {"limitUsd": "12.345", "period": "DAILY", "blockAtActualPercent": "90"},
        "limits": {"requestsPerMinute": 60, "tokensPerPeriod": None},
        "models": {"nova-micro": arn},
        "defaultModel": "nova-micro",
        "modelAliases": {"acme-cc": "nova-micro", "fast": "nova-micro"},
        "invokerRoleArn": None,
    }


def test_config_items_are_dynamodb_items_keyed_by_tenant() -> None:
    account = parse_tfvars(MINIMAL)
    arns = {"acme": {"nova-micro": "arn:a", "claude-3-haiku": "arn:b"}}

    [item] = config_items(account, arns, {"acme": ["k1", "k2"]})

    assert item["pk"] == {"S": "tenant#acme"}
    document = json.loads(item["config"]["S"])
    assert document["apiKeyIds"] == ["k1", "k2"]
    assert document["models"] == {"nova-micro": "arn:a", "claude-3-haiku": "arn:b"}


def test_config_items_need_every_profile_arn_and_an_api_key() -> None:
    account = parse_tfvars(MINIMAL)

    with pytest.raises(TfvarsError, match="no inference profile ARN for claude-3-haiku"):
        config_items(account, {"acme": {"nova-micro": "arn:a"}}, {"acme": ["k1"]})
    with pytest.raises(TfvarsError, match="no API key id"):
        config_items(account, {"acme": {"nova-micro": "a", "claude-3-haiku": "b"}}, {"acme": []})


def test_a_budget_literal_stays_exact() -> None:
    text = MINIMAL.replace("limit_usd = 0.10", "limit_usd = 1234.567890123")

    assert parse_tfvars(text).tenants["acme"].budget.limit_usd == Decimal("1234.567890123")


@pytest.mark.parametrize(
    ("tenant_body", "message"),
    [
        (BASE_TENANT + "budget = { limit_usd = 0 }", "limit_usd must be greater than 0"),
        (BASE_TENANT + "budget = { limit_usd = -5 }", "limit_usd must be greater than 0"),
        (BASE_TENANT + 'budget = { limit_usd = "ten" }', "limit_usd must be a number"),
        (BASE_TENANT + "budget = { }", "limit_usd is required"),
        (BASE_TENANT + 'budget = { limit_usd = 1, period = "WEEKLY" }', "period must be MONTHLY or DAILY"),
        (BASE_TENANT + "budget = { limit_usd = 1, actual_thresholds = [0] }", "between 1 and 1000"),
        (BASE_TENANT + "budget = { limit_usd = 1, block_at_actual = 1001 }", "between 1 and 1000"),
        (BASE_TENANT + "budget = { limit_usd = 1, limt_usd = 2 }", "unsupported attribute"),
        (
            BASE_TENANT + "budget = { limit_usd = 1 }\nlimits = { requests_per_minute = 1.5 }",
            "positive whole number",
        ),
        (
            'application_id = "a"\ncost_center = "c"\nmodels = ["gpt-4"]\nbudget = { limit_usd = 1 }',
            "unknown model",
        ),
        ('application_id = "a"\ncost_center = "c"\nmodels = []\nbudget = { limit_usd = 1 }', "at least one"),
        (
            BASE_TENANT + 'model_aliases = { x = "nova-lite" }\nbudget = { limit_usd = 1 }',
            "not one of",
        ),
        (BASE_TENANT + 'alert_emails = ["nobody"]\nbudget = { limit_usd = 1 }', "not an email"),
        (
            'cost_center = "c"\nmodels = ["nova-micro"]\nbudget = { limit_usd = 1 }',
            "application_id is required",
        ),
        (BASE_TENANT + 'environment = "${var.env}"\nbudget = { limit_usd = 1 }', "only literal values"),
    ],
)
def test_invalid_tenants_are_refused_with_the_attribute_named(tenant_body: str, message: str) -> None:
    with pytest.raises(TfvarsError, match=message) as excinfo:
        parse_tfvars(tfvars_with(tenant_body))

    assert "tenants.acme" in str(excinfo.value)


def test_a_bad_tenant_id_is_refused() -> None:
    text = MINIMAL.replace("acme = {", '"Acme_Corp" = {')

    with pytest.raises(TfvarsError, match=r"\[a-z0-9-\]\{1,32\}"):
        parse_tfvars(text)


def test_a_tenant_without_environment_needs_the_account_one() -> None:
    with pytest.raises(TfvarsError, match="environment is not set"):
        parse_tfvars(tfvars_with(BASE_TENANT + "budget = { limit_usd = 1 }", environment=""))


@pytest.mark.parametrize("text", ["tenants = {", "environment = 1\n", "tenants = {}\n"])
def test_broken_files_are_refused(text: str) -> None:
    with pytest.raises(TfvarsError):
        parse_tfvars(text)


def test_an_unknown_account_lists_the_known_ones() -> None:
    with pytest.raises(TfvarsError, match="workload"):
        load_account("nope")


def test_scientific_notation_is_read_as_a_number() -> None:
    account: Any = parse_tfvars(MINIMAL.replace("limit_usd = 0.10", "limit_usd = 1e3"))

    assert account.tenants["acme"].budget.limit_usd == Decimal(1000)
