"""Scheduled (EventBridge, every few minutes): console changes to AWS Budgets reach the gateway.

Environment: CONFIG_TABLE, LEDGER_TABLE, BUDGET_NAME_PREFIX (the Terraform name_prefix; budgets are
named `<prefix>-<tenant>`), optional BUDGETS_ACCOUNT_ID. See cost_sentry.budget_sync.
"""

from __future__ import annotations

import json
from typing import Any

from cost_sentry.budget_sync import BudgetSettings, BudgetSync

_sync: BudgetSync | None = None


def run_sync(sync: BudgetSync) -> dict[str, Any]:
    """Run one sync and report it (the return value is the invocation's result, and a log line)."""
    report = sync.run().to_dict()
    print(json.dumps({"event": "budget_sync", **report}), flush=True)
    return report


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _sync
    if _sync is None:
        _sync = BudgetSync(BudgetSettings.from_env())
    return run_sync(_sync)
