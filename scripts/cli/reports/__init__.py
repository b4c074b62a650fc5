"""Chargeback reports for Cost Sentry: CUR 2.0 (DuckDB or Athena), Cost Explorer, ledger reconciliation.

`python -m scripts.cli.reports --help` lists the commands; docs/reports.md explains each report.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["build_demo_report"]


def build_demo_report(
    ledger_table: str, dynamodb_client: Any, outputs: Mapping[str, Any], out_dir: Path, **options: Any
) -> Path:
    """The chargeback report over the demo's own traffic (see scripts.cli.reports.demo); `outputs` are
    the workload root's output values (the tenants Terraform evaluated)."""
    from scripts.cli.reports.demo import build_demo_report as build
    from scripts.cli.reports.tenants import directory_from_outputs

    return build(ledger_table, dynamodb_client, directory_from_outputs(outputs), out_dir, **options)
