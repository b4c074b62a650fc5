"""Subscribed to the budgets SNS topic: an ACTUAL alert at a tenant's block_at_actual blocks the tenant.

Environment: CONFIG_TABLE, LEDGER_TABLE, BUDGET_NAME_PREFIX, BUDGET_TOPIC_ARN (messages from any other
topic are ignored), BUDGETS_ACCOUNT_ID. See cost_sentry.service.budgets.BudgetAlerts.
"""

from __future__ import annotations

import json
from typing import Any

from cost_sentry.service.budgets import BudgetAlerts, BudgetSettings, sns_messages

_alerts: BudgetAlerts | None = None


def handle_event(event: dict[str, Any], alerts: BudgetAlerts) -> dict[str, Any]:
    """Handle every SNS record of the event; one log line per record says what was done and why."""
    outcomes = []
    for message, sent_at, topic_arn in sns_messages(event):
        outcome = alerts.handle_message(message, sent_at, topic_arn=topic_arn).to_dict()
        print(json.dumps({"event": "budget_alert", **outcome}), flush=True)
        outcomes.append(outcome)
    return {"outcomes": outcomes}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _alerts
    if _alerts is None:
        _alerts = BudgetAlerts(BudgetSettings.from_env())
    return handle_event(event, _alerts)
