"""Report test equipment: the hand-written CUR fixture as a Data Exports-style Parquet delivery."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from scripts.cli.reports.tenants import TenantDirectory, workload_directory

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "reports"
REPO = Path(__file__).resolve().parents[3]


def write_tiny_cur(out_dir: Path) -> Path:
    """tiny_cur.json -> out_dir/BILLING_PERIOD=YYYY-MM/part-0.parquet with CUR 2.0 column names and types."""
    rows = json.loads((FIXTURES / "tiny_cur.json").read_text(encoding="utf-8"))
    con = duckdb.connect(":memory:")
    con.execute(
        "CREATE TABLE lines (identity_line_item_id VARCHAR, BILLING_PERIOD VARCHAR, "
        "bill_billing_period_start_date TIMESTAMP, line_item_usage_start_date TIMESTAMP, "
        "line_item_usage_end_date TIMESTAMP, line_item_usage_account_id VARCHAR, "
        "line_item_line_item_type VARCHAR, line_item_product_code VARCHAR, line_item_usage_type VARCHAR, "
        "line_item_operation VARCHAR, line_item_resource_id VARCHAR, line_item_usage_amount DOUBLE, "
        "pricing_unit VARCHAR, line_item_unblended_rate VARCHAR, line_item_unblended_cost DOUBLE, "
        "line_item_iam_principal VARCHAR, product_region_code VARCHAR, resource_tags MAP(VARCHAR, VARCHAR))"
    )
    for row in rows:
        con.execute(
            "INSERT INTO lines VALUES (?, ?, CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP), "
            "CAST(? AS TIMESTAMP) + INTERVAL 1 HOUR, '111111111111', ?, ?, ?, 'InvokeModelInference', "
            "?, ?, ?, ?, ?, NULLIF(?, ''), 'us-east-1', MAP(?::VARCHAR[], ?::VARCHAR[]))",
            [
                row["id"],
                row["period"],
                row["period"] + "-01",
                row["start"],
                row["start"],
                row["type"],
                row["product"],
                row["usage_type"],
                row["resource"],
                row["amount"],
                row["unit"],
                row["rate"],
                row["cost"],
                row["principal"],
                list(row["tags"]),
                list(row["tags"].values()),
            ],
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    con.table("lines").write_parquet(
        str(out_dir), partition_by=["BILLING_PERIOD"], filename_pattern="part-{i}"
    )
    return out_dir


@pytest.fixture
def tiny_cur(tmp_path: Path) -> Path:
    return write_tiny_cur(tmp_path / "cur")


@pytest.fixture(scope="session")
def workload_tenants() -> TenantDirectory:
    return workload_directory()  # the workload root's terraform.tfvars, evaluated by an offline plan
