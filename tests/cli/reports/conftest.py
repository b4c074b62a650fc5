"""Report test equipment: the hand-written CUR fixture as a Data Exports-style Parquet delivery."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from scripts.cli.reports.tenants import TenantDirectory, workload_directory

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "reports"
REPO = Path(__file__).resolve().parents[3]


PRODUCT_NAMES = {"AmazonBedrock": "Amazon Bedrock", "AmazonEC2": "Amazon Elastic Compute Cloud"}


def write_tiny_cur(out_dir: Path) -> Path:
    """tiny_cur.json -> out_dir/BILLING_PERIOD=YYYY-MM/part-0.parquet with CUR 2.0 column names and types.

    Besides the hand-written columns, each row gets what a real delivery carries for such a line (the
    invoice, billing entity, list price = the row's rate and cost, the product map): the FOCUS export and
    the dashboards read them.
    """
    rows = json.loads((FIXTURES / "tiny_cur.json").read_text(encoding="utf-8"))
    con = duckdb.connect(":memory:")
    con.execute(
        "CREATE TABLE lines (identity_line_item_id VARCHAR, BILLING_PERIOD VARCHAR, "
        "bill_billing_period_start_date TIMESTAMP, line_item_usage_start_date TIMESTAMP, "
        "line_item_usage_end_date TIMESTAMP, line_item_usage_account_id VARCHAR, "
        "line_item_line_item_type VARCHAR, line_item_product_code VARCHAR, line_item_usage_type VARCHAR, "
        "line_item_operation VARCHAR, line_item_resource_id VARCHAR, line_item_usage_amount DOUBLE, "
        "pricing_unit VARCHAR, line_item_unblended_rate VARCHAR, line_item_unblended_cost DOUBLE, "
        "line_item_iam_principal VARCHAR, product_region_code VARCHAR, resource_tags MAP(VARCHAR, VARCHAR), "
        "bill_billing_period_end_date TIMESTAMP, bill_bill_type VARCHAR, bill_billing_entity VARCHAR, "
        "bill_invoice_id VARCHAR, bill_invoicing_entity VARCHAR, bill_payer_account_id VARCHAR, "
        "bill_payer_account_name VARCHAR, line_item_usage_account_name VARCHAR, "
        "line_item_availability_zone VARCHAR, line_item_currency_code VARCHAR, line_item_legal_entity VARCHAR, "
        "line_item_line_item_description VARCHAR, line_item_net_unblended_cost DOUBLE, "
        "pricing_public_on_demand_cost DOUBLE, pricing_public_on_demand_rate VARCHAR, pricing_term VARCHAR, "
        "product MAP(VARCHAR, VARCHAR), product_servicecode VARCHAR, product_sku VARCHAR, "
        "reservation_effective_cost DOUBLE, savings_plan_savings_plan_effective_cost DOUBLE, "
        "reservation_reservation_a_r_n VARCHAR, reservation_unused_amortized_upfront_fee_for_billing_period DOUBLE, "
        "reservation_unused_recurring_fee DOUBLE, savings_plan_total_commitment_to_date DOUBLE, "
        "savings_plan_used_commitment DOUBLE)"
    )
    for row in rows:
        usage = row["type"] == "Usage"
        con.execute(
            "INSERT INTO lines VALUES (?, ?, CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP), "
            "CAST(? AS TIMESTAMP) + INTERVAL 1 HOUR, '111111111111', ?, ?, ?, 'InvokeModelInference', "
            "?, ?, ?, ?, ?, NULLIF(?, ''), 'us-east-1', MAP(?::VARCHAR[], ?::VARCHAR[]), "
            "CAST(? AS TIMESTAMP) + INTERVAL 1 MONTH, 'Anniversary', 'AWS', ?, 'Amazon Web Services, Inc.', "
            "'111111111111', 'Cost Sentry Org', 'workload', '', 'USD', 'Amazon Web Services, Inc.', ?, NULL, "
            "?, ?, ?, MAP {'product_name': ?, 'region': 'us-east-1'}, ?, ?, NULL, NULL, '', NULL, NULL, NULL, NULL)",
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
                row["period"] + "-01",
                f"INV-{row['period']}",
                f"{row['product']} {row['type']} {row['usage_type']}".strip(),
                row["cost"] if usage else None,
                row["rate"] if usage else "",
                "OnDemand" if usage else "",
                PRODUCT_NAMES[row["product"]],
                row["product"],
                f"SKU-{row['usage_type']}" if usage else "",
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
