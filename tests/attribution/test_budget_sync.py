"""Budget sync on moto's Budgets, DynamoDB and STS over HTTP: console changes reach the gateway once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from cost_sentry.adapters.ledger import Ledger
from cost_sentry.adapters.tables import create_tables
from cost_sentry.core.estimate import WorstCase
from cost_sentry.core.settings import BudgetSettings, SettingsError
from cost_sentry.core.tenants import TenantDirectory
from cost_sentry.service.budgets import BudgetSync, budget_amount

from .support import NOW, Tables, tenant_document

ACCOUNT = "123456789012"  # moto's account, as STS GetCallerIdentity reports it
NANOS = 1_000_000_000
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def tables(aws_endpoint_env: str) -> Tables:
    client = boto3.session.Session().client("dynamodb")
    suffix = uuid.uuid4().hex[:12]
    tables = Tables(client=client, config=f"config-{suffix}", ledger=f"ledger-{suffix}")
    create_tables(client, tables.ledger, tables.config)
    return tables


@pytest.fixture
def budgets(aws_endpoint_env: str) -> Any:
    return boto3.session.Session().client("budgets")


@pytest.fixture
def prefix() -> str:
    # Budgets live in moto's one account for the whole session: a prefix per test keeps them apart.
    return f"cs{uuid.uuid4().hex[:8]}"


def create_budget(
    budgets: Any,
    name: str,
    amount: str,
    time_unit: str = "MONTHLY",
    unit: str = "USD",
    actual_spend: str | None = None,
) -> None:
    budget: dict[str, Any] = {
        "BudgetName": name,
        "BudgetLimit": {"Amount": amount, "Unit": unit},
        "BudgetType": "COST",
        "TimeUnit": time_unit,
    }
    if actual_spend is not None:
        # What Budgets reports as spent this period (moto keeps what it is given).
        budget["CalculatedSpend"] = {"ActualSpend": {"Amount": actual_spend, "Unit": "USD"}}
    budgets.create_budget(AccountId=ACCOUNT, Budget=budget)


def change_budget(
    budgets: Any, name: str, amount: str, time_unit: str = "MONTHLY", actual_spend: str | None = None
) -> None:
    """What the console's edit does (UpdateBudget); moto has no UpdateBudget, so replace the budget."""
    budgets.delete_budget(AccountId=ACCOUNT, BudgetName=name)
    create_budget(budgets, name, amount, time_unit, actual_spend=actual_spend)


def sync_for(tables: Tables, budgets: Any, prefix: str) -> BudgetSync:
    settings = BudgetSettings(
        config_table=tables.config, ledger_table=tables.ledger, budget_name_prefix=prefix
    )
    return BudgetSync(settings, budgets_client=budgets, dynamodb_client=tables.client, clock=lambda: NOW)


def n(item: dict[str, Any] | None, name: str) -> int:
    assert item is not None
    return int(item[name]["N"])


def test_a_console_change_moves_the_override_and_the_ledger_by_the_exact_delta_once(
    tables: Tables, budgets: Any, prefix: str
) -> None:
    # Given a tenant enforcing USD 1.00 this month, of which 0.60 is spent, and its budget at USD 1.00
    tables.put_tenant(tenant_document("services", "1.00"))
    create_budget(budgets, f"{prefix}-services", "1.0")
    tables.put_period(
        "services", "2026-11", limit_nanos=NANOS, available_nanos=400_000_000, spent_nanos=600_000_000
    )
    sync = sync_for(tables, budgets, prefix)
    assert sync.run().to_dict()["unchanged"] == ["services"]

    # When finance raises the budget to USD 1.50 in the console and the sync runs
    change_budget(budgets, f"{prefix}-services", "1.5")
    report = sync.run().to_dict()

    # Then the override item says 1.5 and the period item moved by exactly +0.50
    override = tables.config_item("limit#services")
    assert override is not None
    assert override["limitUsd"]["S"] == "1.5"
    assert override["source"]["S"] == "aws-budgets"
    assert override["updatedAt"]["S"] == "2026-11-22T12:00:30Z"
    period = tables.period_item("services", "2026-11")
    assert n(period, "limit_nanos") == 1_500_000_000
    assert n(period, "available_nanos") == 900_000_000
    assert n(period, "spent_nanos") == 600_000_000
    assert report["changed"] == [
        {
            "tenant_id": "services",
            "budget_name": f"{prefix}-services",
            "enforced_limit_usd": "1.00",
            "budget_limit_usd": "1.50",
            "override_written": True,
            "ledger_period": "PERIOD#2026-11",
            "ledger_delta_usd": "+0.50",
            "unblocked": False,
        }
    ]

    # And running again changes nothing
    again = sync.run().to_dict()
    assert again["changed"] == []
    assert again["unchanged"] == ["services"]
    assert n(tables.period_item("services", "2026-11"), "available_nanos") == 900_000_000


def test_the_gateway_enforces_the_synced_limit_without_rebasing_again(
    tables: Tables, budgets: Any, prefix: str
) -> None:
    # Given a tenant whose gateway ledger already holds a reservation this month
    tables.put_tenant(tenant_document("sales", "0.50"))
    create_budget(budgets, f"{prefix}-sales", "0.5")
    scan = lambda: tables.client.scan(TableName=tables.config, ConsistentRead=True)["Items"]  # noqa: E731
    ledger = Ledger(
        tables.client,
        tables.ledger,
        hold_lifetime_seconds=150,
        call_record_retention_days=1,
        clock=lambda: NOW,
    )
    tenant = TenantDirectory.from_items(scan()).tenants["sales"]
    ledger.reserve(tenant, "r1", WorstCase(input_tokens=10, output_tokens=10, cost_nanos=300_000_000))

    # When the budget is lowered to USD 0.40 and synced
    change_budget(budgets, f"{prefix}-sales", "0.40")
    sync_for(tables, budgets, prefix).run()

    # Then a gateway that reloads its config enforces 0.40 on the moved ledger: 0.10 left, not 0.20
    reloaded = TenantDirectory.from_items(scan()).tenants["sales"]
    assert reloaded.budget_limit_nanos == 400_000_000
    assert reloaded.budget_source == "aws-budgets"
    status = ledger.period_status(reloaded)
    assert (status.limit_nanos, status.available_nanos) == (400_000_000, 100_000_000)
    reservation = ledger.reserve(
        reloaded, "r2", WorstCase(input_tokens=1, output_tokens=1, cost_nanos=100_000_000)
    )
    assert reservation.available_after == 0


def test_a_lowered_budget_can_leave_the_period_overspent(tables: Tables, budgets: Any, prefix: str) -> None:
    tables.put_tenant(tenant_document("sales", "0.50"))
    create_budget(budgets, f"{prefix}-sales", "0.20")
    tables.put_period("sales", "2026-11", limit_nanos=500_000_000, available_nanos=100_000_000)

    report = sync_for(tables, budgets, prefix).run().to_dict()

    assert report["changed"][0]["ledger_delta_usd"] == "-0.30"
    assert n(tables.period_item("sales", "2026-11"), "available_nanos") == -200_000_000


def test_two_concurrent_syncs_apply_the_change_once(tables: Tables, budgets: Any, prefix: str) -> None:
    tables.put_tenant(tenant_document("sales", "0.50"))
    create_budget(budgets, f"{prefix}-sales", "0.75")
    tables.put_period("sales", "2026-11", limit_nanos=500_000_000, available_nanos=100_000_000)
    reports: list[dict[str, Any]] = []
    start = threading.Barrier(4)

    def run_sync() -> None:
        # Each sync is its own function instance with its own clients
        session = boto3.session.Session()
        sync = BudgetSync(
            BudgetSettings(config_table=tables.config, ledger_table=tables.ledger, budget_name_prefix=prefix),
            budgets_client=session.client("budgets"),
            dynamodb_client=session.client("dynamodb"),
            clock=lambda: NOW,
        )
        start.wait()
        reports.append(sync.run().to_dict())

    threads = [threading.Thread(target=run_sync) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    period = tables.period_item("sales", "2026-11")
    assert (n(period, "limit_nanos"), n(period, "available_nanos")) == (750_000_000, 350_000_000)
    deltas = [change["ledger_delta_usd"] for report in reports for change in report["changed"]]
    assert deltas.count("+0.25") == 1


def test_a_ledger_left_on_the_old_limit_by_a_stale_gateway_is_corrected(
    tables: Tables, budgets: Any, prefix: str
) -> None:
    # Given the override already says 0.80, but a gateway still on the old config created the period item
    tables.put_tenant(tenant_document("sales", "0.50"))
    tables.client.put_item(
        TableName=tables.config,
        Item={"pk": {"S": "limit#sales"}, "limitUsd": {"S": "0.8"}, "source": {"S": "aws-budgets"}},
    )
    create_budget(budgets, f"{prefix}-sales", "0.80")
    tables.put_period("sales", "2026-11", limit_nanos=500_000_000, available_nanos=450_000_000)

    report = sync_for(tables, budgets, prefix).run().to_dict()

    assert report["changed"][0]["override_written"] is False
    assert report["changed"][0]["ledger_delta_usd"] == "+0.30"
    assert n(tables.period_item("sales", "2026-11"), "available_nanos") == 750_000_000


def test_no_period_item_yet_means_only_the_override_is_written(
    tables: Tables, budgets: Any, prefix: str
) -> None:
    tables.put_tenant(tenant_document("support", "0.25", period="DAILY"))
    create_budget(budgets, f"{prefix}-support", "0.30", time_unit="DAILY")

    report = sync_for(tables, budgets, prefix).run().to_dict()

    assert report["changed"][0]["ledger_period"] is None
    assert tables.period_item("support", "2026-11-22") is None
    override = tables.config_item("limit#support")
    assert override is not None and override["limitUsd"]["S"] == "0.3"


def test_missing_and_unusable_budgets_are_reported_and_change_nothing(
    tables: Tables, budgets: Any, prefix: str
) -> None:
    for tenant_id in ("alpha", "beta", "gamma"):
        tables.put_tenant(tenant_document(tenant_id, "1.00"))
        tables.put_period(tenant_id, "2026-11", limit_nanos=NANOS, available_nanos=NANOS)
    create_budget(budgets, f"{prefix}-beta", "2.0", time_unit="DAILY")  # not the tenant's period
    create_budget(budgets, f"{prefix}-gamma", "2.0", unit="GBP")
    create_budget(budgets, f"{prefix}x-alpha", "2.0")  # another deployment's prefix

    report = sync_for(tables, budgets, prefix).run().to_dict()

    assert report["changed"] == []
    assert report["missingBudgets"] == ["alpha"]
    assert {error["tenant"] for error in report["errors"]} == {"beta", "gamma"}
    assert "DAILY" in next(error["error"] for error in report["errors"] if error["tenant"] == "beta")
    assert "GBP" in next(error["error"] for error in report["errors"] if error["tenant"] == "gamma")
    for tenant_id in ("alpha", "beta", "gamma"):
        assert tables.config_item(f"limit#{tenant_id}") is None
        assert n(tables.period_item(tenant_id, "2026-11"), "limit_nanos") == NANOS


def test_the_account_defaults_to_the_callers_own(tables: Tables, budgets: Any, prefix: str) -> None:
    sync = BudgetSync(
        BudgetSettings(config_table=tables.config, ledger_table=tables.ledger, budget_name_prefix=prefix),
        budgets_client=budgets,
        dynamodb_client=tables.client,
        sts_client=boto3.session.Session().client("sts"),
    )
    assert sync.account_id == ACCOUNT


def test_without_injected_clients_the_sync_makes_its_own_from_the_standard_settings(
    tables: Tables, budgets: Any, prefix: str
) -> None:
    # Given a tenant enforcing USD 1.00 whose budget says USD 2.00, and a sync given no client at all
    tables.put_tenant(tenant_document("services", "1.00"))
    create_budget(budgets, f"{prefix}-services", "2.0")
    sync = BudgetSync(
        BudgetSettings(config_table=tables.config, ledger_table=tables.ledger, budget_name_prefix=prefix),
        clock=lambda: NOW,
    )

    # When it runs
    report = sync.run().to_dict()

    # Then its default Budgets, DynamoDB and STS clients (the SDK's standard endpoint setting: moto here)
    # found the account, read the budget and wrote the override
    assert sync.account_id == ACCOUNT
    assert [change["budget_limit_usd"] for change in report["changed"]] == ["2.00"]
    override = tables.config_item("limit#services")
    assert override is not None and override["limitUsd"]["S"] == "2"


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        ({"BudgetName": "b", "BudgetLimit": {"Amount": "0", "Unit": "USD"}}, "non-positive"),
        ({"BudgetName": "b", "BudgetLimit": {"Amount": "ten", "Unit": "USD"}}, "not a number"),
        ({"BudgetName": "b", "PlannedBudgetLimits": {}}, "no fixed BudgetLimit"),
    ],
)
def test_budget_amounts_are_parsed_exactly_or_refused(budget: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        budget_amount(budget)
    assert budget_amount(
        {"BudgetName": "b", "BudgetLimit": {"Amount": "0.1", "Unit": "USD"}}
    ).limit_nanos == (100_000_000)


def test_settings_come_from_the_environment_with_clear_errors() -> None:
    env = {"CONFIG_TABLE": "c", "LEDGER_TABLE": "l", "BUDGET_NAME_PREFIX": "cost-sentry"}
    assert BudgetSettings.from_env(env) == BudgetSettings(
        config_table="c",
        ledger_table="l",
        budget_name_prefix="cost-sentry",
        metrics_namespace="GenAIRateLimiting",
    )
    assert BudgetSettings.from_env({**env, "BUDGETS_ACCOUNT_ID": "111111111111"}).account_id == "111111111111"
    with pytest.raises(SettingsError, match="BUDGET_NAME_PREFIX"):
        BudgetSettings.from_env({"CONFIG_TABLE": "c", "LEDGER_TABLE": "l"})
    with pytest.raises(SettingsError, match="12 digits"):
        BudgetSettings.from_env({**env, "BUDGETS_ACCOUNT_ID": "12"})


def test_the_lambda_entry_point_runs_from_its_environment(
    tables: Tables, budgets: Any, prefix: str, aws_endpoint_env: str
) -> None:
    tables.put_tenant(tenant_document("sales", "0.50"))
    create_budget(budgets, f"{prefix}-sales", "0.60")
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": aws_endpoint_env,
        "CONFIG_TABLE": tables.config,
        "LEDGER_TABLE": tables.ledger,
        "BUDGET_NAME_PREFIX": prefix,
        "PYTHONPATH": str(REPO / "lambda_src"),
    }
    script = "from cost_sentry.handlers.budget_sync import handler; handler({}, None)"
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=True
    )

    log = json.loads(done.stdout.strip().splitlines()[-1])
    assert log["event"] == "budget_sync"
    assert log["BudgetSyncChanged"] == 1
    assert log["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "GenAIRateLimiting"
    assert [change["tenant_id"] for change in log["changed"]] == ["sales"]
    override = tables.config_item("limit#sales")
    assert override is not None and override["limitUsd"]["S"] == "0.6"


def blocked_period(tables: Tables, tenant_id: str, budgeted_usd: str, source: str = "aws-budgets") -> None:
    """The period item as a budget alert (or an operator, with another source) leaves it."""
    tables.client.put_item(
        TableName=tables.ledger,
        Item={
            "pk": {"S": tenant_id},
            "sk": {"S": "PERIOD#2026-11"},
            "limit_nanos": {"N": str(1000 * NANOS)},
            "pool_nanos": {"N": "0"},
            "blocked": {
                "M": {
                    "source": {"S": source},
                    "budgetedUsd": {"S": budgeted_usd},
                    "at": {"S": "2026-11-22T10:00:00Z"},
                }
            },
        },
    )


@pytest.mark.parametrize(
    ("new_amount", "actual_spend", "source", "lifted"),
    [
        ("1500", "1012.34", "aws-budgets", True),  # raised above the spend: the block no longer holds
        ("1010", "1012.34", "aws-budgets", False),  # raised, but the spend is still past 100%
        ("1000", "990.00", "aws-budgets", False),  # not raised since the block
        ("1500", "1012.34", "operator", False),  # a block set by hand stays
    ],
    ids=["raised", "raised-too-little", "not-raised", "manual-block"],
)
def test_a_raised_budget_lifts_an_alert_block_that_no_longer_holds(
    tables: Tables, budgets: Any, prefix: str, new_amount: str, actual_spend: str, source: str, lifted: bool
) -> None:
    tables.put_tenant(tenant_document("sales", "1000", block_at="100"))
    blocked_period(tables, "sales", "1000.00", source)
    create_budget(budgets, f"{prefix}-sales", new_amount, actual_spend=actual_spend)

    report = sync_for(tables, budgets, prefix).run().to_dict()

    period = tables.period_item("sales", "2026-11")
    assert period is not None
    assert ("blocked" not in period) is lifted
    assert any(change["unblocked"] for change in report["changed"]) is lifted


class DeniedFor:
    """A Budgets client that is denied one budget and passes every other call to the real one."""

    def __init__(self, budgets: Any, denied_name: str) -> None:
        self._budgets = budgets
        self._denied = denied_name

    def describe_budget(self, **params: Any) -> Any:
        if params["BudgetName"] == self._denied:
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}, "DescribeBudget"
            )
        return self._budgets.describe_budget(**params)


def test_an_aws_error_on_one_tenant_is_reported_and_the_others_still_sync(
    tables: Tables, budgets: Any, prefix: str
) -> None:
    for tenant_id in ("alpha", "beta"):
        tables.put_tenant(tenant_document(tenant_id, "1.00"))
        create_budget(budgets, f"{prefix}-{tenant_id}", "2.0")
    sync = BudgetSync(
        BudgetSettings(config_table=tables.config, ledger_table=tables.ledger, budget_name_prefix=prefix),
        budgets_client=DeniedFor(budgets, f"{prefix}-alpha"),
        dynamodb_client=tables.client,
        clock=lambda: NOW,
    )

    report = sync.run()

    assert [change.tenant_id for change in report.changed] == ["beta"]
    assert report.errors[0]["tenant"] == "alpha"
    assert "AccessDeniedException" in report.errors[0]["error"]
    assert tables.config_item("limit#alpha") is None
    emf = report.emf("GenAIRateLimiting", 1)
    assert (emf["BudgetSyncChanged"], emf["BudgetSyncErrors"], emf["BudgetSyncMissingBudgets"]) == (1, 1, 0)
    assert {metric["Name"] for metric in emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]} == {
        "BudgetSyncChanged",
        "BudgetSyncErrors",
        "BudgetSyncMissingBudgets",
    }
