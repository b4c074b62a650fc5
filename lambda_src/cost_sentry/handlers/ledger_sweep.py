"""Scheduled (EventBridge, every minute): the ledger's maintenance, off the hot path.

For every tenant of a config read that has just succeeded: charge expired holds at their worst case
(``Ledger.sweep_expired``: the request died or its settle failed, and Bedrock may have billed it), and
bring the period to the configured limit and shard count (``Ledger.maintain``: rebase with this fresh
read as proof, claw a lowered limit back from the shards, drain removed shards). A failed config read
fails the run: nothing is rebased on an old config. One EMF log line per run.

Environment: ``LedgerSettings`` (core/settings.py): the tables, the hold lifetime the gateway uses,
the call records' retention and the metrics namespace.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from cost_sentry.adapters.aws import AwsSession
from cost_sentry.adapters.config_store import scan_config_table
from cost_sentry.adapters.ledger import Ledger
from cost_sentry.core.log import default_logger
from cost_sentry.core.metrics import emf_metadata
from cost_sentry.core.metrics import stdout_sink as metrics_stdout
from cost_sentry.core.names import DEFAULT_METRICS_NAMESPACE
from cost_sentry.core.settings import LedgerSettings
from cost_sentry.core.tenants import TenantConfig

# One client and ledger per container (per table pair, so a test process can sweep several stacks).
_built: dict[tuple[str, str], tuple[Any, Ledger]] = {}


def fresh_tenants(dynamodb_client: Any, config_table: str) -> Mapping[str, TenantConfig]:
    """Every tenant, from a consistent Scan made now (raises if it fails: no stale config here)."""
    return scan_config_table(dynamodb_client, config_table).tenants


def run_sweep(
    ledger: Ledger,
    tenants: Mapping[str, TenantConfig],
    now: float,
    namespace: str = DEFAULT_METRICS_NAMESPACE,
    metrics_sink: Callable[[str], None] = metrics_stdout,
) -> dict[str, Any]:
    """Sweep and maintain each tenant; one tenant's failure is reported, the others still run."""
    charged: dict[str, int] = {}
    maintained: dict[str, dict[str, int]] = {}
    errors: list[dict[str, str]] = []
    for tenant_id in sorted(tenants):
        tenant = tenants[tenant_id]
        try:
            charged[tenant_id] = ledger.sweep_expired(tenant, now)
            moved = ledger.maintain(tenant, now)
        except Exception as exc:
            errors.append({"tenant": tenant_id, "error": f"{type(exc).__name__}: {exc}"})
            continue
        if any(moved.values()):
            maintained[tenant_id] = moved
    counts = {"HoldsChargedAtExpiry": sum(charged.values()), "LedgerSweepErrors": len(errors)}
    report = {"charged": {k: v for k, v in charged.items() if v}, "maintained": maintained, "errors": errors}
    document = {
        "_aws": emf_metadata(namespace, [[]], dict.fromkeys(counts, "Count"), int(now * 1000)),
        "event": "ledger_sweep",
        **counts,
        **report,
    }
    metrics_sink(json.dumps(document))
    return report


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    default_logger().start_invocation(context)
    settings = LedgerSettings.from_env()
    built = _built.get((settings.ledger_table, settings.config_table))
    if built is None:
        # The ledger retries its own writes (only those DynamoDB did not apply); botocore must not resend
        # a counter write after a timeout. A failed config Scan fails the run; the next minute retries.
        client = AwsSession().client("dynamodb", retries={"total_max_attempts": 1})
        built = _built[(settings.ledger_table, settings.config_table)] = (
            client,
            Ledger.for_settings(client, settings),
        )
    client, ledger = built
    tenants = fresh_tenants(client, settings.config_table)
    return run_sweep(ledger, tenants, time.time(), settings.metrics_namespace)
