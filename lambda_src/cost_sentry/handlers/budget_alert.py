"""Subscribed to the budgets SNS topic: an ACTUAL alert at a tenant's block_at_actual blocks the tenant.

Environment: CONFIG_TABLE, LEDGER_TABLE, BUDGET_NAME_PREFIX, BUDGET_TOPIC_ARN (messages from any other
topic are ignored), BUDGETS_ACCOUNT_ID. See cost_sentry.service.budgets.BudgetAlerts.
"""

from __future__ import annotations

from typing import Any

from cost_sentry.adapters.aws import AwsSession
from cost_sentry.core.log import JsonLogger, default_logger
from cost_sentry.core.once import built_once
from cost_sentry.core.settings import BudgetSettings
from cost_sentry.service.budgets import BudgetAlerts, sns_messages


def handle_event(
    event: dict[str, Any], alerts: BudgetAlerts, logger: JsonLogger | None = None
) -> dict[str, Any]:
    """Handle every SNS record of the event; one log line per record says what was done and why."""
    log = logger or default_logger()
    outcomes = []
    for message, sent_at, topic_arn in sns_messages(event):
        outcome = alerts.handle_message(message, sent_at, topic_arn=topic_arn).to_dict()
        log.info("budget_alert", event="budget_alert", **outcome)
        outcomes.append(outcome)
    return {"outcomes": outcomes}


@built_once
def default_alerts() -> BudgetAlerts:
    # One boto3 Session per function (adapters.aws), as in the gateway's composition root.
    return BudgetAlerts(BudgetSettings.from_env(), dynamodb_client=AwsSession().client("dynamodb"))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    default_logger().start_invocation(context)
    return handle_event(event, default_alerts())
