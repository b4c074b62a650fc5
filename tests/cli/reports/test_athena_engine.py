"""The Athena path: the same report SQL, rendered for Athena, run through a Stubber-backed client."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from scripts.cli.reports import queries
from scripts.cli.reports.chargeback import build_chargeback
from scripts.cli.reports.engines import AthenaEngine, DuckDBEngine, QueryError
from scripts.cli.reports.tenants import TenantDirectory


def athena_client() -> Any:
    return boto3.client("athena", region_name="us-east-1")


def _athena_type(value: Any) -> str:
    if isinstance(value, Decimal):
        return "decimal"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint"
    if isinstance(value, date):
        return "date"
    return "varchar"


def result_pages(rows: list[dict[str, Any]], page_size: int = 3) -> list[dict[str, Any]]:
    """Rows as Athena returns them: strings, a header row on the first page only, NextToken between pages."""
    names = list(rows[0]) if rows else []
    column_info = [
        {
            "Name": name,
            "Type": _athena_type(rows[0][name]),
            "CatalogName": "hive",
            "SchemaName": "",
            "TableName": "",
            "Label": name,
            "Precision": 0,
            "Scale": 0,
            "Nullable": "UNKNOWN",
            "CaseSensitive": True,
        }
        for name in names
    ]
    as_text = [{"Data": [{"VarCharValue": str(row[name])} for name in names]} for row in rows]
    header = {"Data": [{"VarCharValue": name} for name in names]}
    chunks = [as_text[i : i + page_size] for i in range(0, len(as_text), page_size)] or [[]]
    pages = []
    for number, chunk in enumerate(chunks):
        page: dict[str, Any] = {
            "ResultSet": {
                "Rows": ([header] if number == 0 else []) + chunk,
                "ResultSetMetadata": {"ColumnInfo": column_info},
            },
        }
        if number < len(chunks) - 1:
            page["NextToken"] = f"token-{number + 1}"
        pages.append(page)
    return pages


def stub_query(
    stubber: Stubber, sql: str, execution_id: str, rows: list[dict[str, Any]], workgroup: str
) -> None:
    stubber.add_response(
        "start_query_execution",
        {"QueryExecutionId": execution_id},
        {
            "QueryString": sql,
            "QueryExecutionContext": {"Database": "cur", "Catalog": "AwsDataCatalog"},
            "WorkGroup": workgroup,
        },
    )
    for state in ("QUEUED", "RUNNING", "SUCCEEDED"):
        stubber.add_response(
            "get_query_execution",
            {"QueryExecution": {"QueryExecutionId": execution_id, "Status": {"State": state}}},
            {"QueryExecutionId": execution_id},
        )
    for number, page in enumerate(result_pages(rows)):
        expected: dict[str, Any] = {"QueryExecutionId": execution_id, "MaxResults": 1000}
        if number:
            expected["NextToken"] = f"token-{number}"
        stubber.add_response("get_query_results", page, expected)


def test_athena_sql_differs_from_duckdb_only_in_the_explicit_places() -> None:
    athena = AthenaEngine("cur", "cost_and_usage", athena_client=athena_client()).dialect
    sql = queries.render("spend_by_principal", athena, ["2026-11"])

    assert 'FROM "cur"."cost_and_usage"' in sql
    assert "element_at(resource_tags, 'user_applicationId')" in sql
    assert "AND billing_period IN ('2026-11')" in sql
    assert "resource_tags[" not in sql


def test_the_same_report_comes_out_of_athena_as_out_of_duckdb(
    tiny_cur: Path, workload_tenants: TenantDirectory
) -> None:
    # Given the rows DuckDB computes for each report query over the fixture
    duckdb_engine = DuckDBEngine(tiny_cur)
    client = athena_client()
    engine = AthenaEngine(
        "cur", "cost_and_usage", workgroup="finops", athena_client=client, sleep=lambda s: None
    )
    with Stubber(client) as stubber:
        for number, name in enumerate(queries.REPORT_QUERIES):
            rows = duckdb_engine.run(queries.render(name, duckdb_engine.dialect, ["2026-11"]))
            stub_query(
                stubber, queries.render(name, engine.dialect, ["2026-11"]), f"q-{number}", rows, "finops"
            )
        # When the report is built through Athena (start, poll until SUCCEEDED, page through results)
        through_athena = build_chargeback(engine, workload_tenants, ["2026-11"])
        stubber.assert_no_pending_responses()
    # Then every figure is identical to the DuckDB report
    through_duckdb = build_chargeback(duckdb_engine, workload_tenants, ["2026-11"])
    for part in ("tenants", "principals", "tags", "models", "daily", "budgets", "services"):
        assert getattr(through_athena, part) == getattr(through_duckdb, part), part
    assert through_athena.total_usd == Decimal("2.635")


def test_a_failed_query_raises_with_athenas_reason() -> None:
    client = athena_client()
    engine = AthenaEngine("cur", "cost_and_usage", athena_client=client, sleep=lambda s: None)
    with Stubber(client) as stubber:
        stubber.add_response("start_query_execution", {"QueryExecutionId": "q-bad"})
        stubber.add_response(
            "get_query_execution",
            {
                "QueryExecution": {
                    "QueryExecutionId": "q-bad",
                    "Status": {"State": "FAILED", "StateChangeReason": "TABLE_NOT_FOUND: cur.cost_and_usage"},
                }
            },
        )
        with pytest.raises(QueryError, match="TABLE_NOT_FOUND"):
            engine.run("SELECT 1")


def test_a_query_that_outlives_the_timeout_is_stopped() -> None:
    client = athena_client()
    slept: list[float] = []
    engine = AthenaEngine(
        "cur", "cost_and_usage", athena_client=client, poll_seconds=5, timeout_seconds=10, sleep=slept.append
    )
    with Stubber(client) as stubber:
        stubber.add_response("start_query_execution", {"QueryExecutionId": "q-slow"})
        for _ in range(3):
            stubber.add_response(
                "get_query_execution",
                {"QueryExecution": {"QueryExecutionId": "q-slow", "Status": {"State": "RUNNING"}}},
            )
        stubber.add_response("stop_query_execution", {}, {"QueryExecutionId": "q-slow"})
        with pytest.raises(QueryError, match="still RUNNING"):
            engine.run("SELECT 1")
        stubber.assert_no_pending_responses()
    assert slept == [5, 5]


def test_identifiers_that_would_break_the_sql_are_refused() -> None:
    with pytest.raises(ValueError, match="table name"):
        AthenaEngine("cur", 'x"; DROP TABLE y; --', athena_client=athena_client())


def test_the_athena_sql_means_the_same_as_the_duckdb_sql(tiny_cur: Path) -> None:
    # Given the Athena rendering of every report query, read as Trino SQL and written back as DuckDB SQL
    # by sqlglot, over a view named like the export's Glue table (with its billing_period partition)
    import duckdb
    import sqlglot

    connection = duckdb.connect()
    connection.execute("CREATE SCHEMA cur")
    connection.read_parquet(f"{tiny_cur}/**/*.parquet", hive_partitioning=True).create_view("export")
    connection.execute("CREATE VIEW cur.cost_and_usage AS SELECT * FROM export")
    athena = AthenaEngine("cur", "cost_and_usage", athena_client=athena_client()).dialect
    duck = DuckDBEngine(tiny_cur)
    for name in queries.REPORT_QUERIES:
        athena_sql = queries.render(name, athena, ["2026-11"])
        translated = sqlglot.transpile(athena_sql, read="athena", write="duckdb")[0]
        # When both run, Then they return the same rows in the same order
        expected = [tuple(row.values()) for row in duck.run(queries.render(name, duck.dialect, ["2026-11"]))]
        assert connection.execute(translated).fetchall() == expected, name
        assert expected, name
