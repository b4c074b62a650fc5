"""The CUR dashboards, offline: the make target's cid-cmd command lines (dry run) as cid-cmd itself parses
them, the Cost Sentry dashboard's resources as cid-cmd loads them, its QuickSight definition and dataset
against the QuickSight API model, and its view's SQL run on the DuckDB copy of CUR 2.0."""

from __future__ import annotations

import json
import shlex
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import duckdb
import hcl2
import pytest
import sqlglot
from botocore.validate import ParamValidator
from reports.conftest import write_tiny_cur

from scripts import REPO_ROOT
from scripts.cli.dashboards import CID_CMD, CurTable, DashboardsError, cid_commands, cost_sentry
from scripts.cli.dashboards.__main__ import main
from scripts.cli.reports import queries
from scripts.cli.reports.chargeback import build_chargeback
from scripts.cli.reports.engines import DuckDBEngine
from scripts.cli.reports.tenants import Tenant, TenantDirectory

HARNESS = Path(__file__).with_name("cid_harness.py")
CID_PYTHON = REPO_ROOT / ".venv-cid" / "bin" / "python"
BILLING_OUTPUTS = {
    "glue_table": {"value": "cost_sentry_cur.cur2"},
    "athena_workgroup": {"value": "cost-sentry-cur"},
    "cur_bucket": {"value": "cost-sentry-cur-222222222222"},
    "cur_region": {"value": "us-east-1"},
}
DIRECTORY = TenantDirectory(
    tenants={
        "sales": Tenant("sales", "sales-assistant", "sales", invoker_role_name="cost-sentry-sales-invoker"),
        "services": Tenant("services", "services-copilot", "services"),
        # known by its invoker role only: the view must resolve it as the chargeback does
        "support": Tenant(
            "support", "support-bot-renamed", "support", invoker_role_name="cost-sentry-support-invoker"
        ),
    }
)


def cid(*arguments: str) -> Any:
    """What .venv-cid's cid-cmd 4.4.18 makes of something (tests/cli/dashboards/cid_harness.py)."""
    assert CID_PYTHON.exists(), (
        "cid-cmd's venv is missing: make install sets up .venv-cid (requirements-cid.txt)"
    )
    done = subprocess.run(
        [str(CID_PYTHON), str(HARNESS), *arguments], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def tenants_json(tmp_path: Path) -> Path:
    # `terraform output -json` of the workload root, as much of it as the reports read
    tenants = {
        tenant_id: {
            "application_id": app, "cost_center": cost_center, "environment": "prod",
            "invoker_role_name": f"cost-sentry-{tenant_id}-invoker",
            "config": {"budget": {"limitUsd": "5", "period": "MONTHLY"}},
        }
        for tenant_id, app, cost_center in (
            ("sales", "sales-assistant", "sales"), ("services", "services-copilot", "services"),
            ("support", "support-bot", "support"),
        )
    }  # fmt: skip
    path = tmp_path / "workload-outputs.json"
    path.write_text(json.dumps({"tenants": {"value": tenants}, "name_prefix": {"value": "cost-sentry"}}))
    return path


@pytest.mark.slow
@pytest.mark.terraform
def test_make_dashboards_dry_run_prints_the_cid_cmd_deployments(tmp_path: Path, tenants_json: Path) -> None:
    # When the make target runs for the billing account as a dry run (outputs from its offline plan)
    done = subprocess.run(
        ["make", "--no-print-directory", "dashboards", "ACCOUNT=billing", "QUICKSIGHT_USER=finops-admin",
         "DRY_RUN=1", f"TENANTS={tenants_json}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [shlex.split(line) for line in done.stdout.splitlines() if line.startswith(str(CID_CMD))]
    # Then it prints exactly one cid-cmd deploy per dashboard over the cur-export module's table
    resources = REPO_ROOT / "build" / "dashboards" / "cost-sentry-resources.yaml"
    assert lines == cid_commands(
        CurTable("us-east-1", "cost_sentry_cur", "cur2", "cost-sentry-cur", "cost-sentry-cur-222222222222"),
        "finops-admin",
        resources,
    )
    assert [line[line.index("--dashboard-id") + 1] for line in lines] == [
        "cudos-v5", "kpi_dashboard", "cost-sentry-bedrock",
    ]  # fmt: skip
    # And cid-cmd itself reads each line as a non-interactive deploy with those answers
    for line in lines:
        parsed = cid("parse", *line[1:])
        parameters = parsed["parameters"]
        assert parsed["all_yes"] and "share_with_account" in parsed["flags"]
        assert {key: parameters[key] for key in ("dashboard-id", "cur-table-name", "cur-database")} == {
            "dashboard-id": line[line.index("--dashboard-id") + 1],
            "cur-table-name": "cur2",
            "cur-database": "cost_sentry_cur",
        }
        assert (
            parameters["athena-workgroup"] == "cost-sentry-cur" and parameters["region-name"] == "us-east-1"
        )
        assert parameters["quicksight-user"] == "finops-admin" and parameters["update"] == "yes"
        assert ("resources" in parameters) == (parameters["dashboard-id"] == "cost-sentry-bedrock")


def test_make_dashboards_refuses_without_the_billing_account_or_a_user() -> None:
    def make(*variables: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["make", "--no-print-directory", "dashboards", *variables],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    assert "ACCOUNT is required" in make().stdout
    refused = make("ACCOUNT=workload", "QUICKSIGHT_USER=finops-admin", "DRY_RUN=1")
    assert refused.returncode != 0 and "billing account" in refused.stdout
    refused = make("ACCOUNT=billing", "DRY_RUN=1")
    assert refused.returncode != 0 and "QUICKSIGHT_USER is required" in refused.stdout


def test_deploy_refuses_outputs_that_are_not_the_billing_accounts(tmp_path: Path, tenants_json: Path) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"tenants": {"value": {}}}))
    arguments = [
        "deploy",
        "--outputs",
        str(outputs),
        "--quicksight-user",
        "u",
        "--dry-run",
        "--out",
        str(tmp_path),
    ]
    assert main([*arguments, "--tenants", str(tenants_json)]) == 2
    with pytest.raises(DashboardsError, match="QuickSight user"):
        cid_commands(CurTable.from_outputs(BILLING_OUTPUTS), "", tmp_path / "r.yaml")


def test_the_export_delivers_every_cur_column_cid_cmd_needs() -> None:
    # cid-cmd finds a CUR 2.0 table by its columns, and CUDOS v5 and KPI's views read theirs
    locals_block = hcl2.loads((REPO_ROOT / "modules/cur-export/query.tf").read_text())["locals"][0]
    delivered = {column["name"].strip('"') for column in locals_block["cur_columns"]}
    needed = set(cid("columns"))
    assert needed - delivered == set()
    assert {"line_item_iam_principal", "resource_tags", *cost_sentry.CUR_COLUMNS} <= delivered


def test_cid_cmd_loads_the_cost_sentry_resources(tmp_path: Path, tenants_json: Path) -> None:
    # Given the resources the deploy renders
    assert main(["render", "--out", str(tmp_path), "--tenants", str(tenants_json)]) == 0
    loaded = cid("resources", str(tmp_path / "cost-sentry-resources.yaml"))
    # Then cid-cmd finds the dashboard, its dataset and the dataset's view under the names they share
    assert loaded["dashboard"]["dashboardId"] == cost_sentry.DASHBOARD_ID
    assert loaded["dashboard"]["dependsOn"] == {"datasets": [cost_sentry.VIEW]}
    assert loaded["dataset_views"] == [cost_sentry.VIEW] and loaded["dataset"]["Name"] == cost_sentry.VIEW
    assert loaded["definition"] == cost_sentry.definition()
    assert loaded["view_sql"].startswith(f"CREATE OR REPLACE VIEW {cost_sentry.VIEW} AS")
    assert '"cur"."cost_and_usage"' in loaded["view_sql"] and "${" not in loaded["view_sql"]


def test_the_definition_and_dataset_are_well_formed_quicksight() -> None:
    model = boto3.client("quicksight", region_name="us-east-1").meta.service_model
    validator = ParamValidator()
    # CreateDashboard and CreateDataSet as cid-cmd calls them, against the QuickSight API model
    dashboard = {"AwsAccountId": "111111111111", "DashboardId": cost_sentry.DASHBOARD_ID,
                 "Name": cost_sentry.DASHBOARD_NAME, "Definition": cost_sentry.definition()}  # fmt: skip
    report = validator.validate(dashboard, model.operation_model("CreateDashboard").input_shape)
    assert not report.has_errors(), report.generate_report()
    dataset = json.loads(
        json.dumps(cost_sentry.dataset())
        .replace("${athena_datasource_arn}", "arn:aws:quicksight:us-east-1:111111111111:datasource/cid")
        .replace("${athena_database_name}", "cost_sentry_cur")
    )
    report = validator.validate(
        {"AwsAccountId": "111111111111", **dataset}, model.operation_model("CreateDataSet").input_shape
    )
    assert not report.has_errors(), report.generate_report()

    # And every field reads a column the dataset declares, every id is unique, every visual is laid out
    text = json.dumps(cost_sentry.definition())
    fields: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "FieldId" in node and "Column" in node:
                fields.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(cost_sentry.definition())
    declared = {
        column["Name"]
        for column in dataset["PhysicalTableMap"]["bedrock-spend"]["RelationalTable"]["InputColumns"]
    }
    assert {field["Column"]["ColumnName"] for field in fields} <= declared
    assert {field["Column"]["DataSetIdentifier"] for field in fields} == {cost_sentry.VIEW}
    assert len({field["FieldId"] for field in fields}) == len(fields)
    sheet = cost_sentry.definition()["Sheets"][0]
    visual_ids = [next(iter(visual.values()))["VisualId"] for visual in sheet["Visuals"]]
    laid_out = [
        element["ElementId"] for element in sheet["Layouts"][0]["Configuration"]["GridLayout"]["Elements"]
    ]
    assert sorted(visual_ids) == sorted(laid_out) and len(set(visual_ids)) == len(visual_ids)
    assert "$" not in text  # cid-cmd runs the definition through string.Template


def test_the_view_runs_on_the_duckdb_copy_of_cur_and_returns_the_chargebacks_figures(tmp_path: Path) -> None:
    cur = write_tiny_cur(tmp_path / "cur")
    engine = DuckDBEngine(cur)
    # When the view's SELECT runs on the DuckDB copy of CUR 2.0
    rows = engine.run(cost_sentry.view_select(DIRECTORY, engine.dialect))
    # Then it returns a row per day, tenant, user, principal, model and direction
    assert set(rows[0]) == set(cost_sentry.COLUMNS)
    shown = ("tenant", "user_name", "model", "token_direction", "cost_usd", "tokens")
    alice = [
        (str(row["usage_date"]), *(row[name] for name in shown))
        for row in rows
        if row["user_name"] == "alice"
    ]
    assert sorted(alice) == [
        ("2026-11-02", "sales", "alice", "Claude3Haiku", "input", Decimal("0.25"), 1_000_000),
        ("2026-11-02", "sales", "alice", "Claude3Haiku", "output", Decimal("0.25"), 200_000),
        ("2026-12-01", "sales", "alice", "Claude3Haiku", "input", Decimal("0.10"), 400_000),
    ]
    # And per tenant it adds up to the chargeback report's Bedrock spend (same resolution of tenants)
    by_tenant: dict[str, Decimal] = {}
    for row in rows:
        by_tenant[row["tenant"]] = by_tenant.get(row["tenant"], Decimal(0)) + row["cost_usd"]
    report = build_chargeback(engine, DIRECTORY)
    assert by_tenant == {tenant.tenant: tenant.cost_usd for tenant in report.tenants}
    assert by_tenant["support"] == Decimal("0.36")  # resolved by its invoker role, as the chargeback does

    # And the Athena text cid-cmd creates the view from returns the same rows (translated by sqlglot)
    connection = duckdb.connect()
    connection.execute("CREATE SCHEMA cost_sentry_cur")
    connection.read_parquet(f"{cur}/**/*.parquet", hive_partitioning=True).create_view("export")
    connection.execute("CREATE VIEW cost_sentry_cur.cur2 AS SELECT * FROM export")
    athena = cost_sentry.view_select(
        DIRECTORY, queries.Dialect(name="athena", cur_table='"cost_sentry_cur"."cur2"')
    )
    translated = sqlglot.transpile(athena, read="athena", write="duckdb")[0]
    order = " ORDER BY ALL"
    assert connection.execute(f"SELECT * FROM ({translated}){order}").fetchall() == [  # noqa: S608
        tuple(row.values())
        for row in engine.run(f"SELECT * FROM ({cost_sentry.view_select(DIRECTORY, engine.dialect)}){order}")  # noqa: S608
    ]


def test_the_view_reads_only_the_cur_columns_it_declares_to_cid_cmd() -> None:
    # cid-cmd checks a view's dependsOn.cur2 columns before creating it: the list must be complete
    types = {"resource_tags": "MAP(VARCHAR, VARCHAR)", "line_item_usage_start_date": "TIMESTAMP",
             "line_item_usage_amount": "DOUBLE", "line_item_unblended_cost": "DOUBLE"}  # fmt: skip
    columns = ", ".join(f"NULL::{types.get(name, 'VARCHAR')} AS {name}" for name in cost_sentry.CUR_COLUMNS)
    connection = duckdb.connect()
    connection.execute(f"CREATE TABLE cur AS SELECT {columns} WHERE false")
    select = cost_sentry.view_select(DIRECTORY, queries.Dialect(name="duckdb", cur_table="cur"))
    assert {row[0] for row in connection.execute(f"DESCRIBE {select}").fetchall()} == set(cost_sentry.COLUMNS)
