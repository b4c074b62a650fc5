"""The plan-output reader (scripts/testbed/terraform_offline/outputs.py): Terraform evaluates the tenant
contract (modules/tenants) and Python reads the result, never terraform.tfvars.

Includes the proof that the gateway's runtime config (cost_sentry.core.tenants parsing the document
Terraform writes, read from the offline plan) equals what Terraform writes.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from cost_sentry.core.names import DEFAULT_METRICS_NAMESPACE, TENANT_ID_PATTERN
from cost_sentry.core.tenants import tenant_from_document
from scripts.testbed.local_stack import LOCAL_ACCOUNT_ID, account_outputs, config_item, deployed_config
from scripts.testbed.terraform_offline.outputs import CACHE_DIR, PlanError, plan_outputs

pytestmark = [pytest.mark.terraform, pytest.mark.xdist_group("plan_outputs")]

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

# Aliases (one overriding the cost-center alias), no name_prefix, a daily budget, per-user sessions.
CONTRACT_CASE = """
environment       = "prod"
per_user_sessions = true
tenants = {
  acme = {
    application_id = "acme-app"
    cost_center    = "acme-cc"
    environment    = "staging"
    models         = ["nova-micro", "claude-3-haiku"]
    model_aliases  = { acme-cc = "claude-3-haiku", fast = "nova-micro" }
    budget = {
      limit_usd       = 1234.567890123
      period          = "DAILY"
      block_at_actual = 90
    }
    limits = { requests_per_minute = 12000, tokens_per_period = 400000, max_in_flight = 3 }
    users  = { default_limit_usd = 0.10, limits_usd = { alice = 0.5 } }
  }
}
"""


def test_the_optional_defaults_are_terraforms() -> None:
    outputs = account_outputs(tfvars_text=MINIMAL)
    acme = outputs["tenants"]["acme"]

    assert acme["environment"] == "prod"  # var.environment
    assert acme["budget"]["period"] == "MONTHLY"
    assert acme["budget"]["actual_thresholds"] == [50, 80, 100]
    assert acme["budget"]["forecast_threshold"] == 100
    assert acme["budget"]["console_managed"] is False
    assert acme["budget"]["block_at_actual"] is None
    assert acme["budget"]["shards"] == 16  # no requests_per_minute
    assert acme["limits"] == {"requests_per_minute": None, "tokens_per_period": None, "max_in_flight": None}
    assert acme["model_aliases"] == {"acme-cc": "nova-micro"}
    assert acme["default_model"] == "nova-micro"
    assert acme["config"]["budget"]["limitUsd"] == "0.1"
    assert outputs["per_user_sessions"] is False
    assert outputs["name_prefix"] == "cost-sentry"
    assert acme["invoker_role_name"] == "cost-sentry-acme-invoker"


def test_the_workload_account_reads_with_its_own_settings() -> None:
    outputs = account_outputs()
    tenants = outputs["tenants"]

    assert set(tenants) == {"sales", "services", "support"}
    assert outputs["per_user_sessions"] is True
    assert outputs["account_id"] == "111111111111"  # its tfvars' account, not the local default
    assert tenants["support"]["environment"] == "staging"
    assert tenants["support"]["config"]["budget"] == {
        "limitUsd": "0.25",
        "period": "DAILY",
        "blockAtActualPercent": "100",
        "pace": None,
    }
    assert tenants["support"]["tags"] == {"team": "customer-support"}
    assert tenants["services"]["budget"]["console_managed"] is True


def test_the_gateway_reads_exactly_what_terraform_writes() -> None:
    outputs = account_outputs(tfvars_text=CONTRACT_CASE)
    tenant = outputs["tenants"]["acme"]
    arns = {
        "nova-micro": "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/p1",
        "claude-3-haiku": "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/p2",
    }
    role_arn = f"arn:aws:iam::{LOCAL_ACCOUNT_ID}:role/{tenant['invoker_role_name']}"
    item = config_item("acme", deployed_config(tenant, ["key-1"], arns, role_arn))
    # The document Terraform writes is its config_json (modules/gateway/tables.tf adds only the bindings).
    written = json.loads(item["config"]["S"])
    assert {k: v for k, v in written.items() if k not in ("apiKeyIds", "models", "invokerRoleArn")} == (
        json.loads(tenant["config_json"])
    )

    config = tenant_from_document(written)

    assert tenant["invoker_role_name"] == "cost-sentry-acme-invoker"  # name_prefix left out
    assert config.tenant_id == "acme"
    assert (config.application_id, config.cost_center, config.environment) == (
        "acme-app",
        "acme-cc",
        "staging",
    )
    assert config.api_key_ids == ("key-1",)
    assert config.budget_limit_nanos == 1_234_567_890_123
    assert config.budget_period == "DAILY"
    assert config.block_at_actual_percent == Decimal(90)
    assert (config.requests_per_minute, config.tokens_per_period) == (12_000, 400_000)
    assert dict(config.models) == arns
    assert config.default_model == "nova-micro"
    # The explicit alias of the cost center wins over the default model, as in Terraform.
    assert dict(config.model_aliases) == {"acme-cc": "claude-3-haiku", "fast": "nova-micro"}
    assert config.invoker_role_arn == role_arn
    assert written["ledger"] == {"shards": 2}  # ceil(12000 / 6000)
    assert written["limits"]["maxInFlight"] == 3
    assert written["users"] == {
        "defaultLimitUsd": "0.1",
        "limitsUsd": {"alice": "0.5"},
        "allowAnonymous": False,
        "keys": {},
        "pace": None,
    }
    assert written["identity"] == {"oidc": None}
    # Unpaced and enforced unless the tfvars say otherwise (modules/tenants).
    assert (written["budget"]["pace"], written["enforce"], config.pace, config.enforce) == (
        None,
        True,
        None,
        True,
    )
    assert (config.allow_anonymous, config.has_user_budgets, config.oidc) == (False, True, None)
    # Fields the ledger's TenantConfig additions parse (CONTRACT.md), checked when they exist.
    expected_extras = {
        "max_in_flight": 3,
        "ledger_shards": 2,
        "user_default_limit_nanos": 100_000_000,
        "user_limit_nanos": {"alice": 500_000_000},
    }
    for name, value in expected_extras.items():
        if hasattr(config, name):
            assert getattr(config, name) == value, name


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("limit_usd = 0.10", "limit_usd = 0", "budget.limit_usd must be greater than 0"),
        ('models         = ["nova-micro", "claude-3-haiku"]', 'models = ["gpt-4"]', "Unknown model"),
        ("acme = {", '"Acme_Corp" = {', "Tenant ids must be 1-32 lowercase"),
    ],
    ids=["zero-budget", "unknown-model", "bad-id"],
)
def test_a_bad_tenant_is_refused_with_terraforms_message(old: str, new: str, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        account_outputs(tfvars_text=MINIMAL.replace(old, new))


def test_the_python_constants_equal_terraforms() -> None:
    outputs = account_outputs()

    assert outputs["tenant_id_pattern"] == TENANT_ID_PATTERN
    assert outputs["metrics_namespace"] == DEFAULT_METRICS_NAMESPACE
    assert re.fullmatch(TENANT_ID_PATTERN.strip("^$"), "support")


def test_plans_are_cached_by_what_they_read() -> None:
    first = plan_outputs(tfvars_text=MINIMAL, defaults={"account_id": "123456789012", "region": "us-east-1"})
    entries = set(CACHE_DIR.glob("workload-*.json"))

    again = plan_outputs(tfvars_text=MINIMAL, defaults={"account_id": "123456789012", "region": "us-east-1"})

    assert again == first
    assert set(CACHE_DIR.glob("workload-*.json")) == entries  # served from the cache, nothing new


def test_an_unknown_account_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="workload"):
        account_outputs("nope")


def test_the_local_stack_refuses_an_account_without_tenants() -> None:
    from scripts.testbed.local_stack import LocalStack

    with pytest.raises(PlanError, match="no tenants output"), LocalStack(account="billing"):
        pass
