"""Chargeback reports for Cost Sentry: CUR 2.0 (DuckDB or Athena), Cost Explorer, ledger reconciliation.

`python -m scripts.cli.reports --help` lists the commands; docs/reports.md explains each report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["build_demo_report"]


def build_demo_report(
    ledger_table: str, dynamodb_client: Any, tfvars_path: Path, out_dir: Path, **options: Any
) -> Path:
    """The chargeback report over the demo's own traffic (see scripts.cli.reports.demo)."""
    from scripts.cli.reports.demo import build_demo_report as build

    return build(ledger_table, dynamodb_client, tfvars_path, out_dir, **options)
