"""Budget alerts from the SNS topic block a tenant's period on the ledger (moto DynamoDB over HTTP)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest

from cost_sentry.adapters.ledger import Ledger
from cost_sentry.adapters.tables import create_tables
from cost_sentry.core.errors import LimitExceeded
from cost_sentry.core.estimate import WorstCase
from cost_sentry.core.settings import BudgetSettings
from cost_sentry.core.tenants import TenantDirectory
from cost_sentry.handlers.budget_alert import handle_event
from cost_sentry.service.budgets import (
    BudgetAlerts,
    block_reached,
    parse_budget_notification,
    reached_percent,
)

from .support import NOW, Tables, tenant_document

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]
BUDGET_TOPIC = "arn:aws:sns:us-east-1:111111111111:cost-sentry-budgets"  # the fixtures' TopicArn


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def message_of(event: dict[str, Any]) -> str:
    return event["Records"][0]["Sns"]["Message"]


def with_message(event: dict[str, Any], message: str) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    changed["Records"][0]["Sns"]["Message"] = message
    return changed


def notification(name: str, kind: str = "Cost", unit: str = "$") -> str:
    amount = (lambda number: f"{unit}{number}") if unit == "$" else (lambda number: f"{number}{unit}")
    return (
        f"AWS Budget Notification\nAWS Account 111111111111\nBudget Name: {name}\nBudget Type: {kind}\n"
        f"Budgeted Amount: {amount('5.00')}\nAlert Type: ACTUAL\n"
        f"Alert Threshold: > {amount('5.00')}\nACTUAL Amount: {amount('6.00')}\n"
    )


@pytest.fixture
def tables(aws_endpoint_env: str) -> Tables:
    client = boto3.session.Session().client("dynamodb")
    suffix = uuid.uuid4().hex[:12]
    tables = Tables(client=client, config=f"config-{suffix}", ledger=f"ledger-{suffix}")
    create_tables(client, tables.ledger, tables.config)
    tables.put_tenant(tenant_document("sales", "1000.00", block_at="100"))
    tables.put_tenant(tenant_document("support", "0.25", period="DAILY", block_at="100"))
    tables.put_tenant(tenant_document("services", "1000.00"))
    return tables


@pytest.fixture
def alerts(tables: Tables) -> BudgetAlerts:
    settings = BudgetSettings(
        config_table=tables.config,
        ledger_table=tables.ledger,
        budget_name_prefix="cost-sentry",
        account_id="111111111111",
        budget_topic_arn=BUDGET_TOPIC,
    )
    return BudgetAlerts(settings, dynamodb_client=tables.client, clock=lambda: NOW)


def with_topic(event: dict[str, Any], topic_arn: str | None) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    if topic_arn is None:
        del changed["Records"][0]["Sns"]["TopicArn"]
    else:
        changed["Records"][0]["Sns"]["TopicArn"] = topic_arn
    return changed


@pytest.mark.parametrize(
    "topic_arn",
    [
        "arn:aws:sns:us-east-1:111111111111:someone-elses-topic",
        "arn:aws:sns:us-east-1:222222222222:cost-sentry-budgets",
        None,
    ],
)
def test_a_message_not_delivered_by_the_budgets_topic_blocks_nothing(
    tables: Tables, alerts: BudgetAlerts, topic_arn: str | None
) -> None:
    event = with_topic(fixture("sns_budget_actual_monthly.json"), topic_arn)

    outcome = handle_event(event, alerts)["outcomes"][0]

    assert outcome["action"] == "ignored" and "budgets topic" in outcome["reason"]
    assert tables.period_item("sales", "PERIOD#2026-11") is None


def test_a_budget_of_another_account_blocks_nothing(tables: Tables, alerts: BudgetAlerts) -> None:
    event = fixture("sns_budget_actual_monthly.json")
    message = message_of(event).replace("AWS Account 111111111111", "AWS Account 222222222222")

    outcome = handle_event(with_message(event, message), alerts)["outcomes"][0]

    assert outcome == {
        "action": "ignored",
        "reason": "the budget is account 222222222222's, not 111111111111's",
    }
    assert tables.period_item("sales", "PERIOD#2026-11") is None


def test_the_real_message_format_is_parsed_exactly() -> None:
    notification = parse_budget_notification(message_of(fixture("sns_budget_actual_monthly.json")))

    assert notification is not None
    assert notification.budget_name == "cost-sentry-sales"
    assert notification.alert_type == "ACTUAL"
    assert notification.budgeted_nanos == 1_000_000_000_000
    assert notification.threshold_nanos == 1_000_000_000_000
    assert notification.amount_nanos == 1_012_340_000_000
    assert not notification.about_yesterday
    assert reached_percent(notification) == Decimal("101.234")


def test_an_actual_alert_at_block_at_actual_blocks_the_tenant_once(
    tables: Tables, alerts: BudgetAlerts
) -> None:
    # Given a tenant that blocks at 100% actual and an ACTUAL alert past 100%
    event = fixture("sns_budget_actual_monthly.json")

    # When the alert arrives
    result = handle_event(event, alerts)

    # Then this month's period item is blocked, with the reason
    assert result == {
        "outcomes": [
            {
                "action": "blocked",
                "reason": "actual spend reached 101.23% (block_at_actual 100%)",
                "tenant_id": "sales",
                "period": "PERIOD#2026-11",
            }
        ]
    }
    item = tables.period_item("sales", "2026-11")
    assert item is not None
    blocked = item["blocked"]["M"]
    assert blocked["source"]["S"] == "aws-budgets"
    assert blocked["budgetName"]["S"] == "cost-sentry-sales"
    assert blocked["budgetedUsd"]["S"] == "1000.00"

    # And the same alert again (SNS delivers at least once) changes nothing
    assert handle_event(event, alerts)["outcomes"][0]["action"] == "already_blocked"
    assert tables.period_item("sales", "2026-11") == item


def test_the_gateway_refuses_a_blocked_tenant(tables: Tables, alerts: BudgetAlerts) -> None:
    handle_event(fixture("sns_budget_actual_monthly.json"), alerts)
    tenant = TenantDirectory.from_items(
        tables.client.scan(TableName=tables.config, ConsistentRead=True)["Items"]
    ).tenants["sales"]
    ledger = Ledger(
        tables.client,
        tables.ledger,
        hold_lifetime_seconds=150,
        call_record_retention_days=1,
        clock=lambda: NOW,
    )

    with pytest.raises(LimitExceeded) as denied:
        ledger.reserve(tenant, "r1", WorstCase(input_tokens=1, output_tokens=1, cost_nanos=1))

    assert denied.value.code == "tenant_blocked"


def test_a_forecast_never_blocks(tables: Tables, alerts: BudgetAlerts) -> None:
    result = handle_event(fixture("sns_budget_forecast_monthly.json"), alerts)

    assert result["outcomes"] == [
        {"action": "ignored", "reason": "forecasts never block", "tenant_id": "sales"}
    ]
    assert tables.period_item("sales", "2026-11") is None


def test_a_tenant_without_block_at_actual_is_not_blocked(tables: Tables, alerts: BudgetAlerts) -> None:
    event = fixture("sns_budget_actual_monthly.json")
    message = message_of(event).replace("cost-sentry-sales", "cost-sentry-services")

    result = handle_event(with_message(event, message), alerts)

    assert result["outcomes"][0]["action"] == "ignored"
    assert result["outcomes"][0]["reason"] == "the tenant is never blocked by alerts"
    assert tables.period_item("services", "2026-11") is None


def test_an_alert_below_block_at_actual_does_not_block(tables: Tables, alerts: BudgetAlerts) -> None:
    event = fixture("sns_budget_actual_monthly.json")
    message = (
        message_of(event)
        .replace("Alert Threshold: > $1,000.00", "Alert Threshold: > $800.00")
        .replace("ACTUAL Amount: $1,012.34", "ACTUAL Amount: $812.50")
    )

    result = handle_event(with_message(event, message), alerts)

    assert result["outcomes"][0]["action"] == "ignored"
    assert "81.25% of the budget is below block_at_actual 100%" in result["outcomes"][0]["reason"]
    assert tables.period_item("sales", "2026-11") is None


def test_a_daily_alert_reported_the_next_morning_blocks_the_day_it_is_about(
    tables: Tables, alerts: BudgetAlerts
) -> None:
    result = handle_event(fixture("sns_budget_actual_daily.json"), alerts)

    assert result["outcomes"][0]["action"] == "blocked"
    assert result["outcomes"][0]["period"] == "PERIOD#2026-11-21"
    assert tables.period_item("support", "2026-11-21") is not None
    assert tables.period_item("support", "2026-11-22") is None


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("Hello from another system", "not an AWS Budgets cost notification"),
        (notification("someone-else"), "budget someone-else is not a Cost Sentry tenant's"),
        (notification("cost-sentry-sales", kind="Usage", unit=" GB"), "not an AWS Budgets cost notification"),
        (notification("cost-sentry-nobody"), "no such tenant in the config table"),
    ],
    ids=["foreign", "other-budget", "usage-budget", "unknown-tenant"],
)
def test_other_messages_are_ignored_with_a_reason(
    tables: Tables, alerts: BudgetAlerts, message: str, reason: str
) -> None:
    result = handle_event(with_message(fixture("sns_budget_actual_monthly.json"), message), alerts)

    assert result["outcomes"][0]["action"] == "ignored"
    assert result["outcomes"][0]["reason"] == reason
    assert tables.client.scan(TableName=tables.ledger)["Items"] == []


def test_records_that_are_not_sns_are_skipped(alerts: BudgetAlerts) -> None:
    assert handle_event({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]}, alerts) == {"outcomes": []}
    assert handle_event({}, alerts) == {"outcomes": []}


def test_the_lambda_entry_point_runs_from_its_environment(tables: Tables, aws_endpoint_env: str) -> None:
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": aws_endpoint_env,
        "CONFIG_TABLE": tables.config,
        "LEDGER_TABLE": tables.ledger,
        "BUDGET_NAME_PREFIX": "cost-sentry",
        "BUDGET_TOPIC_ARN": BUDGET_TOPIC,
        "BUDGETS_ACCOUNT_ID": "111111111111",
        "PYTHONPATH": str(REPO / "lambda_src"),
    }
    script = (
        "import json, sys\n"
        "from cost_sentry.handlers.budget_alert import handler\n"
        "print(json.dumps(handler(json.load(sys.stdin), None)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        input=(FIXTURES / "sns_budget_actual_monthly.json").read_text(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["outcomes"][0]["action"] == "blocked"
    assert tables.period_item("sales", "2026-11") is not None


@pytest.mark.parametrize(
    ("budgeted", "threshold", "actual", "block_at", "blocks"),
    [
        ("0.33", "0.26", "0.26", "80", True),  # 80% of 0.33 is 0.264: Budgets writes $0.26
        ("0.33", "0.20", "0.25", "80", False),  # the 60% alert, 75.8% spent
        ("0.25", "0.25", "0.26", "100", True),
        ("0.25", "0.20", "0.24", "100", False),
        ("1,000.00", "800.00", "1,000.00", "100", True),  # the amount proves it even on a lower alert
    ],
)
def test_the_block_level_is_compared_in_the_whole_cents_budgets_writes(
    budgeted: str, threshold: str, actual: str, block_at: str, blocks: bool
) -> None:
    message = (
        f"AWS Budget Notification\nBudget Name: cost-sentry-sales\nBudget Type: Cost\n"
        f"Budgeted Amount: ${budgeted}\nAlert Type: ACTUAL\nAlert Threshold: > ${threshold}\n"
        f"ACTUAL Amount: ${actual}\n"
    )
    notification = parse_budget_notification(message)
    assert notification is not None

    assert block_reached(notification, Decimal(block_at)) is blocks
