"""Tenants and budgets from Terraform's outputs (offline plan or `terraform output -json`) / limits JSON,
and the exact money helpers."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from scripts.cli.reports.money import format_usd, nanos_to_usd, percent, plain, usd_to_nanos
from scripts.cli.reports.tenants import (
    UNATTRIBUTED,
    TenantConfigError,
    TenantDirectory,
    directory_from_outputs,
    load_limits_json,
    load_outputs_json,
)
from scripts.testbed.local_stack import account_outputs


def test_the_workload_outputs_give_tenants_tags_and_exact_budgets(workload_tenants: TenantDirectory) -> None:
    sales, services, support = (workload_tenants.tenants[name] for name in ("sales", "services", "support"))

    assert (sales.application_id, sales.cost_center, sales.environment) == (
        "sales-assistant",
        "sales",
        "prod",
    )
    assert (sales.limit_usd, services.limit_usd, support.limit_usd) == (
        Decimal("0.5"),
        Decimal("1.0"),
        Decimal("0.25"),
    )
    assert (support.budget_period, support.environment) == ("DAILY", "staging")
    assert (workload_tenants.name_prefix, workload_tenants.account_id) == ("cost-sentry", "111111111111")


def test_line_items_resolve_by_tag_then_by_invoker_role(workload_tenants: TenantDirectory) -> None:
    assert workload_tenants.resolve("support-bot", "") == "support"
    assert workload_tenants.resolve("", "cost-sentry-services-invoker") == "services"
    assert workload_tenants.resolve("someone-else", "") == "someone-else"
    assert workload_tenants.resolve("", "other-role") == UNATTRIBUTED


def test_limits_json_overrides_and_extends_terraforms_tenants(
    workload_tenants: TenantDirectory, tmp_path: Path
) -> None:
    path = tmp_path / "limits.json"
    path.write_text(json.dumps({"sales": "2.50", "research": {"limitUsd": 10, "period": "DAILY"}}))

    directory = load_limits_json(path, base=workload_tenants)

    assert directory.tenants["sales"].limit_usd == Decimal("2.50")
    assert directory.tenants["sales"].application_id == "sales-assistant"  # kept from Terraform's tenants
    assert (directory.tenants["research"].limit_usd, directory.tenants["research"].budget_period) == (
        Decimal(10),
        "DAILY",
    )
    assert directory.tenants["support"].limit_usd == Decimal("0.25")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"sales": "-1"}', "positive"),
        ('{"sales": "lots"}', "not a number"),
        ('{"sales": {"limitUsd": "1", "period": "WEEKLY"}}', "period"),
        ('{"sales": {"period": "DAILY"}}', "missing limitUsd"),
        ('["sales"]', "expected an object"),
        ("{not json", "cannot read"),
    ],
)
def test_bad_limits_are_refused_with_the_reason(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "limits.json"
    path.write_text(content)
    with pytest.raises(TenantConfigError, match=message):
        load_limits_json(path)


NO_NAME_PREFIX = """
environment = "prod"
tenants = {
  acme = {
    application_id = "acme-app"
    cost_center    = "acme"
    models         = ["nova-micro"]
    budget         = { limit_usd = 1 }
  }
}
"""


def test_invoker_roles_resolve_with_the_default_name_prefix_when_tfvars_leave_it_out() -> None:
    # Terraform names the role cost-sentry-acme-invoker when name_prefix is left out; the reports used
    # to assume "" and reported such CUR lines as unattributed.
    directory = directory_from_outputs(account_outputs(tfvars_text=NO_NAME_PREFIX))

    assert directory.resolve("", "cost-sentry-acme-invoker") == "acme"
    assert directory.resolve("", "acme-invoker") == UNATTRIBUTED
    assert directory.name_prefix == "cost-sentry"


def test_a_terraform_output_json_file_is_read(tmp_path: Path, workload_tenants: TenantDirectory) -> None:
    from scripts.testbed.terraform_offline.outputs import plan_outputs

    path = tmp_path / "tenants.json"
    path.write_text(json.dumps(plan_outputs()))

    assert load_outputs_json(path) == workload_tenants


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "cannot read"), ('{"tenants": {"value": {}}}', "no `tenants` output"), ("[]", "expected")],
)
def test_a_bad_outputs_file_is_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "tenants.json"
    path.write_text(content)
    with pytest.raises(TenantConfigError, match=message):
        load_outputs_json(path)


def test_money_is_exact_and_displayed_half_even() -> None:
    assert nanos_to_usd(35) == Decimal("0.000000035")
    assert usd_to_nanos(Decimal("0.25")) == 250_000_000
    with pytest.raises(ValueError, match="nano-dollars"):
        usd_to_nanos(Decimal("0.0000000001"))
    assert format_usd(Decimal("1234.565"), 2) == "$1,234.56"  # half-even, not half-up
    assert format_usd(Decimal("-0.00005"), 4) == "$0.0000"  # no "-$0.0000"
    assert format_usd(Decimal("-2.5"), 2) == "-$2.50"
    assert (
        plain(Decimal("0.6400000000")) == "0.64"
        and plain(Decimal("1E+3")) == "1000"
        and plain(Decimal(0)) == "0"
    )
    assert (
        percent(Decimal("0.64"), Decimal("0.5")) == Decimal("128.0")
        and percent(Decimal(1), Decimal(0)) is None
    )
