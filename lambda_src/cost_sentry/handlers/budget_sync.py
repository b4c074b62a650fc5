"""Scheduled (EventBridge, every few minutes): console changes to AWS Budgets reach the gateway.

Environment: CONFIG_TABLE, LEDGER_TABLE, BUDGET_NAME_PREFIX (the Terraform name_prefix; budgets are
named `<prefix>-<tenant>`), optional BUDGETS_ACCOUNT_ID and METRICS_NAMESPACE. See
cost_sentry.service.budgets.
"""

from __future__ import annotations

import json
import time
from typing import Any

from cost_sentry.adapters.aws import AwsSession
from cost_sentry.core.log import default_logger
from cost_sentry.core.metrics import stdout_sink as metrics_stdout
from cost_sentry.core.once import built_once
from cost_sentry.core.settings import BudgetSettings
from cost_sentry.service.budgets import BudgetSync


def run_sync(sync: BudgetSync, metrics_namespace: str) -> dict[str, Any]:
    """Run one sync; its report is the invocation's result and one EMF log line.

    A tenant that cannot be synced does not fail the invocation (the others are synced, and a retry
    would not fix a misconfigured budget): it counts in the BudgetSyncErrors metric instead.
    """
    report = sync.run()
    # An Embedded Metric Format document: the one metrics path (core.metrics), not a log line.
    metrics_stdout(json.dumps(report.emf(metrics_namespace, int(time.time() * 1000))))
    return report.to_dict()


@built_once
def default_sync() -> BudgetSync:
    settings = BudgetSettings.from_env()
    # One boto3 Session per function (adapters.aws), as in the gateway's composition root.
    aws = AwsSession()
    return BudgetSync(
        settings,
        budgets_client=aws.client("budgets"),
        dynamodb_client=aws.client("dynamodb"),
        sts_client=None if settings.account_id else aws.client("sts"),
    )


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    default_logger().start_invocation(context)
    sync = default_sync()
    return run_sync(sync, sync.settings.metrics_namespace)
