"""FOCUS 1.2 export: `python -m scripts.cli.reports focus` over the hand-written CUR 2.0 fixture, checked
against the specification's column list and rules (data/focus_1_2_columns.json), and the validator itself
shown to catch each kind of break."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import duckdb
import hcl2
import pytest

from scripts.cli.reports.__main__ import main
from scripts.cli.reports.chargeback import build_chargeback
from scripts.cli.reports.engines import DuckDBEngine
from scripts.cli.reports.focus import (
    IDENTITY_COLUMNS,
    SPEC_PATH,
    ledger_user_buckets,
    render_lines_sql,
    spec_columns,
)
from scripts.cli.reports.focus_check import validate
from scripts.cli.reports.queries import Dialect
from scripts.cli.reports.tenants import load_limits_json
from scripts.devtools.focus_spec import parse_column

from .conftest import REPO
from .ledger_fakes import create_ledger_table

SALES_ALICE = "arn:aws:sts::111111111111:assumed-role/cost-sentry-sales-invoker/alice"
SERVICES_CAROL = "arn:aws:sts::111111111111:assumed-role/cost-sentry-services-invoker/carol"
PROFILE = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/"
# The 21 columns FOCUS 1.2 makes mandatory (Feature level "Mandatory" on their pages).
MANDATORY = {
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd",
    "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargePeriodEnd",
    "ChargePeriodStart", "ContractedCost", "EffectiveCost", "InvoiceIssuerName", "ListCost", "PricingQuantity",
    "PricingUnit", "ProviderName", "PublisherName", "ServiceCategory", "ServiceName",
}  # fmt: skip


@pytest.fixture
def limits(tmp_path: Path) -> Path:
    path = tmp_path / "tenants.json"
    path.write_text(
        json.dumps(
            {
                "sales": {"applicationId": "sales-assistant", "costCenter": "sales", "limitUsd": "5"},
                "services": {"applicationId": "services-copilot", "costCenter": "services", "limitUsd": "5"},
                "support": {"applicationId": "support-bot", "costCenter": "support", "limitUsd": "5"},
            }
        ),
        encoding="utf-8",
    )
    return path


def export(tiny_cur: Path, limits: Path, out: Path, *extra: str) -> int:
    return main(["focus", "--cur", str(tiny_cur), "--limits", str(limits), "--out", str(out), *extra])


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    connection = duckdb.connect()
    source = f"read_csv('{path}', all_varchar = true)" if path.suffix == ".csv" else f"'{path}'"
    connection.execute(f"CREATE VIEW focus AS SELECT * FROM {source}")  # noqa: S608
    return connection.execute(sql).fetchall()


def test_the_spec_file_is_focus_1_2_as_published() -> None:
    document = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    columns = spec_columns()
    assert (document["version"], document["source"]["tag"]) == ("1.2", "v1.2")
    assert len(columns) == 57
    assert {name for name, column in columns.items() if column["feature_level"] == "Mandatory"} == MANDATORY
    assert columns["ChargeCategory"]["allowed_values"] == ["Usage", "Purchase", "Tax", "Credit", "Adjustment"]
    assert columns["ChargeFrequency"]["allowed_values"] == ["One-Time", "Recurring", "Usage-Based"]
    assert "AI and Machine Learning" in columns["ServiceCategory"]["allowed_values"]
    assert {
        columns[name]["data_type"] for name in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
    } == {"Decimal"}
    assert columns["ChargePeriodStart"]["data_type"] == "Date/Time"
    assert columns["BilledCost"]["allows_nulls"] is False and columns["ChargeClass"]["allows_nulls"] is True


def test_the_extractor_reads_a_column_page_of_the_specification() -> None:
    # Given the page of ChargeFrequency as the specification writes it (trimmed to its sections)
    page = """# Charge Frequency

## Column ID

ChargeFrequency

## Display Name

Charge Frequency

## Content Constraints

| Constraint      | Value          |
| :-------------- | :------------- |
| Column type     | Dimension      |
| Feature level   | Recommended    |
| Allows nulls    | False          |
| Data type       | String         |
| Value format    | Allowed values |

Allowed values:

| Value       | Description                   |
| :---------- | :---------------------------- |
| One-Time    | *Charges* that only happen once and will not repeat. |
| Recurring   | *Charges* that repeat on a periodic cadence. |
| Usage-Based | *Charges* that repeat every time the *service* is used. |

## Introduced (version)

1.0-preview
"""
    # When it is parsed, Then the entry is the one the data file holds
    assert parse_column(page) == spec_columns()["ChargeFrequency"]


def test_focus_export_writes_parquet_and_csv_that_conform(
    tiny_cur: Path, limits: Path, tmp_path: Path
) -> None:
    # When the reports CLI exports 2026-11
    assert export(tiny_cur, limits, tmp_path / "focus", "--period", "2026-11") == 0
    parquet, csv = tmp_path / "focus" / "focus.parquet", tmp_path / "focus" / "focus.csv"

    # Then both files conform to FOCUS 1.2 and hold every mandatory column, then the x_ identity columns
    assert validate(parquet) == [] and validate(csv) == []
    names = [name for name, *_ in rows(parquet, "DESCRIBE focus")]
    assert set(names) >= MANDATORY
    assert names[-len(IDENTITY_COLUMNS) :] == list(IDENTITY_COLUMNS)
    types = dict(rows(parquet, "SELECT column_name, column_type FROM (DESCRIBE focus)"))
    assert (
        types["BilledCost"] == "DECIMAL(38,10)" and types["ChargePeriodStart"] == "TIMESTAMP WITH TIME ZONE"
    )

    # And every line item of the month is one row: the total is the bill's, to the last digit
    assert rows(parquet, "SELECT count(*), SUM(BilledCost) FROM focus") == [(14, Decimal("4.1850000000"))]
    assert rows(
        csv, "SELECT BilledCost, ChargePeriodStart FROM focus WHERE x_User = 'bob' ORDER BY 1 LIMIT 1"
    ) == [("0.0700000000", "2026-11-03T09:00:00Z")]
    # And the charge categories and the identity are mapped line by line
    assert rows(
        parquet,
        "SELECT ChargeCategory, ChargeFrequency, PricingCategory, ServiceCategory, ServiceSubcategory, ServiceName, "
        "x_Tenant, x_ApplicationId, x_CostCenter, x_User, SUM(BilledCost) FROM focus "
        "GROUP BY ALL ORDER BY ChargeCategory, ServiceName, x_Tenant NULLS LAST, x_User",
    ) == [
        ("Credit", "One-Time", None, "AI and Machine Learning", "Generative AI", "Amazon Bedrock",
         "sales", "sales-assistant", "sales", None, Decimal("-0.05")),
        ("Tax", "One-Time", None, "AI and Machine Learning", "Generative AI", "Amazon Bedrock",
         "sales", "sales-assistant", "sales", None, Decimal("0.10")),
        ("Usage", "Usage-Based", "Standard", "AI and Machine Learning", "Generative AI", "Amazon Bedrock",
         "sales", "sales-assistant", "sales", "alice", Decimal("0.50")),
        ("Usage", "Usage-Based", "Standard", "AI and Machine Learning", "Generative AI", "Amazon Bedrock",
         "sales", "sales-assistant", "sales", "bob", Decimal("0.14")),
        ("Usage", "Usage-Based", "Standard", "AI and Machine Learning", "Generative AI", "Amazon Bedrock",
         "services", "services-copilot", "services", "carol", Decimal("1.60")),
        ("Usage", "Usage-Based", "Standard", "AI and Machine Learning", "Generative AI", "Amazon Bedrock",
         "support", "support-bot", "support", "dave", Decimal("0.30")),
        ("Usage", "Usage-Based", "Standard", "AI and Machine Learning", "Generative AI", "Amazon Bedrock",
         "support", "support-bot", "support", "erin", Decimal("0.06")),
        ("Usage", "Usage-Based", "Standard", "AI and Machine Learning", "Generative AI", "Amazon Bedrock",
         None, None, None, "dev-frank", Decimal("0.035")),
        ("Usage", "Usage-Based", "Standard", "Compute", "Virtual Machines", "Amazon Elastic Compute Cloud",
         "sales", "sales-assistant", "sales", None, Decimal("1.50")),
    ]  # fmt: skip
    assert rows(parquet, "SELECT DISTINCT Tags FROM focus WHERE x_User = 'alice'") == [
        ('{"applicationId":"sales-assistant","costCenter":"sales","environment":"prod"}',)
    ]


def test_focus_bedrock_spend_per_tenant_is_the_chargeback_reports(
    tiny_cur: Path, limits: Path, tmp_path: Path
) -> None:
    # Given the FOCUS export and the chargeback report of the same month
    assert export(tiny_cur, limits, tmp_path / "focus", "--period", "2026-11", "--format", "parquet") == 0
    assert not (tmp_path / "focus" / "focus.csv").exists()
    report = build_chargeback(DuckDBEngine(tiny_cur), load_limits_json(limits), ["2026-11"])
    # Then Bedrock usage per tenant in FOCUS is the chargeback's, to the cent and beyond
    focus = rows(
        tmp_path / "focus" / "focus.parquet",
        "SELECT COALESCE(x_Tenant, x_ApplicationId, '(unattributed)'), SUM(BilledCost) FROM focus "
        "WHERE ServiceName = 'Amazon Bedrock' AND ChargeCategory = 'Usage' GROUP BY 1",
    )
    assert dict(focus) == {tenant.tenant: tenant.cost_usd for tenant in report.tenants}


def put_ledger_call(
    client: Any, table: str, request_id: str, user: str, principal: str, profile: str
) -> None:
    # A settled call at 10:15 UTC on 2026-11-02 whose window (reserve to end) lies inside that hour
    client.put_item(
        TableName=table,
        Item={
            "pk": {"S": "sales#S0"}, "sk": {"S": f"CALL#2026-11-02T10:15:00Z#{request_id}"},
            "tenant": {"S": "sales"}, "shard": {"N": "0"}, "requestId": {"S": request_id},
            "user": {"S": user}, "principal": {"S": principal}, "modelId": {"S": PROFILE + profile},
            "model": {"S": "claude-3-haiku"}, "cost_nanos": {"N": "1000"},
            "reserved_at": {"N": "1793615700000"}, "ended_at": {"N": "1793615720000"},
        },
    )  # fmt: skip


def test_x_user_comes_from_the_ledger_where_it_names_one_user_per_bill_line(
    aws_endpoint_env: str, tiny_cur: Path, limits: Path, tmp_path: Path
) -> None:
    # Given a ledger whose call records name the person behind alice's session as alice@example.com,
    # and two people behind one shared session in the hour of carol's lines
    client = boto3.client("dynamodb", region_name="us-east-1")
    table = create_ledger_table(client)
    put_ledger_call(client, table, "r1", "alice@example.com", SALES_ALICE, "sales01")
    put_ledger_call(client, table, "r2", "carol", SERVICES_CAROL, "serv01")
    put_ledger_call(client, table, "r3", "carol-bot", SERVICES_CAROL, "serv01")
    # When the export reads the ledger
    out = tmp_path / "focus"
    assert export(tiny_cur, limits, out, "--period", "2026-11", "--ledger-table", table) == 0
    # Then the lines of alice's hour carry the ledger's user; the shared hour falls back to the session
    users = rows(
        out / "focus.parquet",
        "SELECT x_IamPrincipal, strftime(ChargePeriodStart, '%d %H'), x_User FROM focus "
        "WHERE x_Tenant IN ('sales', 'services') AND ChargeCategory = 'Usage' AND ServiceName = 'Amazon Bedrock' "
        "GROUP BY ALL ORDER BY ALL",
    )
    assert users == [
        (
            "arn:aws:sts::111111111111:assumed-role/cost-sentry-sales-invoker/alice",
            "02 10",
            "alice@example.com",
        ),
        ("arn:aws:sts::111111111111:assumed-role/cost-sentry-sales-invoker/bob", "03 09", "bob"),
        (SERVICES_CAROL, "02 11", "carol"),
        (SERVICES_CAROL, "06 16", "carol"),
    ]


def test_ledger_buckets_name_a_user_only_when_the_bucket_has_exactly_one() -> None:
    call = {"principal": SALES_ALICE, "modelId": "p", "reserved_at": 1793615700000, "ended_at": 1793615720000}
    assert ledger_user_buckets([{**call, "user": "alice"}, {**call, "user": "alice"}]) == [
        ("2026-11-02T10", SALES_ALICE, "p", "alice")
    ]
    assert ledger_user_buckets([{**call, "user": "alice"}, {**call}]) == []  # and a call naming nobody
    assert ledger_user_buckets([{**call, "principal": "", "user": "alice"}]) == []


def test_focus_refuses_bad_input_and_writes_nothing(tiny_cur: Path, limits: Path, tmp_path: Path) -> None:
    out = tmp_path / "focus"
    assert export(tiny_cur, limits, out, "--period", "2026-13") == 2
    assert export(tmp_path / "missing", limits, out) == 2
    with pytest.raises(SystemExit):
        export(tiny_cur, limits, out, "--format", "xlsx")
    assert not out.exists() or not any(out.iterdir())


def test_the_focus_sql_reads_only_columns_the_cur_export_delivers() -> None:
    # The export's query and Glue table come from one list in modules/cur-export/query.tf: the FOCUS query
    # must not need a column the bill is not delivered with.
    locals_block = hcl2.loads((REPO / "modules/cur-export/query.tf").read_text())["locals"][0]
    glue_types = {
        "string": "VARCHAR",
        "double": "DOUBLE",
        "timestamp": "TIMESTAMP",
        "map<string,string>": "MAP(VARCHAR, VARCHAR)",
    }
    # python-hcl2 keeps a string literal's quotes
    delivered = {
        column["name"].strip('"'): glue_types[column["type"].strip('"')]
        for column in locals_block["cur_columns"]
    }
    connection = duckdb.connect()
    columns = ", ".join(f"NULL::{duck_type} AS {name}" for name, duck_type in sorted(delivered.items()))
    connection.execute(f"CREATE TABLE cur AS SELECT {columns} WHERE false")
    # When the query is planned over a table of exactly those columns, Then no column is missing
    described = connection.execute(f"DESCRIBE {render_lines_sql(Dialect(name='duckdb', cur_table='cur'))}")
    assert "BilledCost" in {row[0] for row in described.fetchall()}
    # And a column the export does not deliver would be noticed
    connection.execute("CREATE TABLE narrower AS SELECT * EXCLUDE (bill_invoicing_entity) FROM cur")
    with pytest.raises(duckdb.BinderException, match="bill_invoicing_entity"):
        connection.execute(f"DESCRIBE {render_lines_sql(Dialect(name='duckdb', cur_table='narrower'))}")


BROKEN = {
    # rule: (SQL that breaks the good dataset, the column named, words of the violation)
    "missing mandatory column": ("SELECT * EXCLUDE (BilledCost) FROM focus", "BilledCost", "missing"),
    "float money": (
        "SELECT * REPLACE (CAST(BilledCost AS DOUBLE) AS BilledCost) FROM focus", "BilledCost", "Decimal",
    ),
    "not an allowed value": (
        "SELECT * REPLACE (CASE WHEN ChargeCategory = 'Tax' THEN 'Refund' ELSE ChargeCategory END "
        "AS ChargeCategory) FROM focus",
        "ChargeCategory", "allowed values: 'Refund'",
    ),
    "null where not allowed": (
        "SELECT * REPLACE (NULL::VARCHAR AS BillingCurrency) FROM focus", "BillingCurrency", "null",
    ),
    "empty string for null": (
        "SELECT * REPLACE ('' AS ChargeDescription) FROM focus", "ChargeDescription", "empty string",
    ),
    "custom column without x_": ("SELECT *, 'sales' AS tenant FROM focus", "tenant", "prefixed x_"),
    "custom column among FOCUS ones": (
        "SELECT x_Tenant AS x_First, * FROM focus", "AvailabilityZone", "before custom",
    ),
    "subcategory of another category": (
        "SELECT * REPLACE ('Compute' AS ServiceCategory) FROM focus", "ServiceSubcategory", "subcategory",
    ),
    "tax with a pricing category": (
        "SELECT * REPLACE (CASE WHEN ChargeCategory = 'Tax' THEN 'Standard' ELSE PricingCategory END "
        "AS PricingCategory) FROM focus",
        "PricingCategory", "Tax",
    ),
    "tags not a JSON object": ("SELECT * REPLACE ('[1, 2]' AS Tags) FROM focus", "Tags", "KeyValueFormat"),
    "local time": (
        "SELECT * REPLACE (CAST(ChargePeriodStart AS TIMESTAMP) AS ChargePeriodStart) FROM focus",
        "ChargePeriodStart", "UTC",
    ),
    "currency not ISO 4217": (
        "SELECT * REPLACE ('usd' AS BillingCurrency) FROM focus", "BillingCurrency", "Currency Format",
    ),
}  # fmt: skip


@pytest.mark.parametrize("rule", sorted(BROKEN))
def test_the_validator_catches_each_broken_rule(
    rule: str, tiny_cur: Path, limits: Path, tmp_path: Path
) -> None:
    # Given a conforming export, broken in one way
    assert export(tiny_cur, limits, tmp_path / "focus", "--format", "parquet") == 0
    sql, column, words = BROKEN[rule]
    broken = tmp_path / "broken.parquet"
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(f"CREATE VIEW focus AS SELECT * FROM '{tmp_path / 'focus' / 'focus.parquet'}'")  # noqa: S608
    connection.execute(f"COPY ({sql}) TO '{broken}' (FORMAT parquet)")
    # When it is checked (through the CLI too), Then the violation names the column and the rule
    violations = [str(v) for v in validate(broken)]
    assert any(v.startswith(f"{column}:") and words in v for v in violations), violations
    assert main(["focus-check", str(broken)]) == 1


def test_the_validator_checks_csv_text_formats(tiny_cur: Path, limits: Path, tmp_path: Path) -> None:
    assert export(tiny_cur, limits, tmp_path / "focus", "--format", "csv") == 0
    good = tmp_path / "focus" / "focus.csv"
    assert main(["focus-check", str(good)]) == 0
    text = good.read_text(encoding="utf-8")
    # A local time without the Z, and a positive sign on a number, are not FOCUS
    broken = tmp_path / "broken.csv"
    broken.write_text(
        text.replace("2026-11-02T10:00:00Z", "2026-11-02 10:00:00", 1).replace(",0.2500000000,", ",+0.25,", 1)
    )
    violations = [str(v) for v in validate(broken)]
    assert any(v.startswith("ChargePeriodStart:") and "Date/Time Format" in v for v in violations), violations
    assert any(v.startswith("BilledCost:") and "Numeric Format" in v for v in violations), violations


def test_the_documented_athena_query_answers_from_the_export(
    tiny_cur: Path, limits: Path, tmp_path: Path
) -> None:
    import sqlglot

    # Given an export with its Athena table and example query
    out = tmp_path / "focus"
    location = "s3://finops-bucket/focus/2026-11/"
    assert export(tiny_cur, limits, out, "--period", "2026-11", "--athena-location", location) == 0
    ddl, query = (out / "athena.sql").read_text(encoding="utf-8").split(";\n", 1)
    # Then the table declares every column of the file, money as decimal, at the upload location
    parquet_columns = [name for name, *_ in rows(out / "focus.parquet", "DESCRIBE focus")]
    assert [line.split("`")[1] for line in ddl.splitlines() if line.startswith("  `")] == parquet_columns
    assert "`BilledCost` decimal(38,10)" in ddl and f"LOCATION '{location}'" in ddl
    # And the query, as Athena runs it (translated to DuckDB by sqlglot), gives each tenant's and user's
    # AI spend: the chargeback's Bedrock spend per principal
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("CREATE SCHEMA cost_sentry_focus")
    connection.execute(f"CREATE VIEW cost_sentry_focus.focus AS SELECT * FROM '{out / 'focus.parquet'}'")  # noqa: S608
    translated = sqlglot.transpile(query.split("\n", 1)[1].rstrip(";\n"), read="athena", write="duckdb")[0]
    answer = {
        (tenant, user): billed for tenant, user, _, billed, _ in connection.execute(translated).fetchall()
    }
    report = build_chargeback(DuckDBEngine(tiny_cur), load_limits_json(limits), ["2026-11"])
    expected: dict[tuple[str | None, str | None], Decimal] = {}
    for spend in report.principals:
        key = (None if spend.tenant == "(unattributed)" else spend.tenant, spend.user)
        expected[key] = expected.get(key, Decimal(0)) + spend.cost_usd
    # the sales tax and credit lines name no user
    expected[("sales", None)] = Decimal("0.05")
    assert answer == expected


def test_each_cur_line_stays_one_row_when_a_principal_carries_two_tenants_tags(
    tiny_cur: Path, limits: Path, tmp_path: Path
) -> None:
    # Given alice's session also billed for a line tagged with another tenant's application (and one untagged)
    connection = duckdb.connect()
    connection.read_parquet(f"{tiny_cur}/**/*.parquet", hive_partitioning=True).create_view("cur")
    connection.execute(
        "CREATE TABLE extra AS "
        "SELECT * REPLACE (MAP {'user_applicationId': 'services-copilot'} AS resource_tags, "
        "'x1' AS identity_line_item_id) "
        "FROM cur WHERE identity_line_item_id = 'r01' UNION ALL "
        "SELECT * REPLACE (MAP {}::MAP(VARCHAR, VARCHAR) AS resource_tags, 'x2' AS identity_line_item_id) "
        "FROM cur WHERE identity_line_item_id = 'r01'"
    )
    connection.table("extra").write_parquet(str(tiny_cur / "BILLING_PERIOD=2026-11" / "extra.parquet"))
    # When exported, Then every line item is one row and the total is still the bill's
    assert export(tiny_cur, limits, tmp_path / "focus", "--period", "2026-11", "--format", "parquet") == 0
    assert rows(tmp_path / "focus" / "focus.parquet", "SELECT count(*), SUM(BilledCost) FROM focus") == [
        (16, Decimal("4.6850000000"))
    ]
    assert rows(
        tmp_path / "focus" / "focus.parquet",
        f"SELECT x_Tenant, x_User, count(*) FROM focus WHERE x_IamPrincipal = '{SALES_ALICE}' GROUP BY ALL "  # noqa: S608
        "ORDER BY ALL",
    ) == [("sales", "alice", 2), ("services", "alice", 1), (None, "alice", 1)]  # --limits knows no roles
