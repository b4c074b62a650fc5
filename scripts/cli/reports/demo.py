"""The chargeback report over the demo's own traffic: ledger call records -> CUR 2.0 rows -> report."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from scripts.cli.reports import queries
from scripts.cli.reports.chargeback import build_chargeback
from scripts.cli.reports.engines import DuckDBEngine
from scripts.cli.reports.ledger import read_call_records
from scripts.cli.reports.reconcile import Tolerance, cur_totals, estimated_buckets, ledger_totals, reconcile
from scripts.cli.reports.render import write_report
from scripts.cli.reports.sagemaker import (
    allocate_endpoints,
    endpoint_costs,
    is_sagemaker_call,
    synthesize_endpoint_hours,
)
from scripts.cli.reports.synth import _call_time, synthesize_from_calls
from scripts.cli.reports.tenants import TenantDirectory


def build_demo_report(
    ledger_table: str,
    dynamodb_client: Any,
    directory: TenantDirectory,
    out_dir: Path,
    cost_drift: Mapping[str, Decimal] | None = None,
    shared_endpoints: Mapping[str, tuple[int, Decimal, int | None]] | None = None,
) -> Path:
    """Chargeback HTML + CSVs for the demo's traffic; returns the path of chargeback.html.

    The CUR rows are synthesized from the ledger's call records (priced from the model catalog, as AWS
    would bill them), so the report and its reconciliation section show the demo's real tenants, users
    and models. `cost_drift` (e.g. {"services": Decimal("1.03")}) plants a billing difference on purpose.
    `shared_endpoints` (model -> (hours, USD per hour, capacity tokens per hour)) adds the hosting lines
    of the shared SageMaker endpoints the calls used, and the section splitting them across tenants.
    """
    out_dir = Path(out_dir)
    calls = list(read_call_records(ledger_table, dynamodb_client))
    cur_dir = out_dir / "cur"
    # the demo's own scratch directory: rows of an earlier run must not join this run's report
    shutil.rmtree(cur_dir, ignore_errors=True)
    synthesize_from_calls(
        calls,
        cur_dir,
        account_id=directory.account_id or "111111111111",
        own_principal=directory.own_principal,
        cost_drift=cost_drift,
    )
    sagemaker_lines = {
        str(call["modelId"]): str(call["model"])
        for call in calls
        if is_sagemaker_call(call) and str(call["model"]) in (shared_endpoints or {})
    }
    first_day = min((_call_time(str(call["sk"])) for call in calls), default=None)
    for endpoint_arn, model in sorted(sagemaker_lines.items()):
        hours, hourly_usd, _ = (shared_endpoints or {})[model]
        start = first_day.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
        synthesize_endpoint_hours(
            cur_dir, endpoint_arn, start, hours, hourly_usd, account_id=endpoint_arn.split(":")[4]
        )
    engine = DuckDBEngine(cur_dir)
    report = build_chargeback(engine, directory, source="CUR rows synthesized from the demo ledger")
    sagemaker = []
    if sagemaker_lines:
        capacities = {
            model: capacity for model, (_, _, capacity) in (shared_endpoints or {}).items() if capacity
        }
        sagemaker = allocate_endpoints(endpoint_costs(engine), calls, capacities)
    periods = sorted({str(call["sk"]).split("#")[1][:7] for call in calls})
    # The calls charged at the worst case (a failure Bedrock may have billed), beside what CUR billed for
    # them, as `reports reconcile` shows them: the demo injects such failures, so its report has them.
    hourly = engine.run(queries.render("spend_by_principal_hour", engine.dialect, periods))
    reconciliation = reconcile(
        ledger_totals(calls),
        cur_totals(report.principals),
        ", ".join(periods),
        Tolerance(),
        estimated_buckets(calls, hourly),
    )
    return write_report(report, out_dir, reconciliation=reconciliation, sagemaker=sagemaker)
