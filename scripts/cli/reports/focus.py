"""The chargeback data as a FOCUS 1.2 dataset: every CUR 2.0 line item in FOCUS columns, plus the identity
AWS's own FOCUS export lacks, as custom `x_` columns (tenant, application, cost center, IAM principal, user).

How a line becomes a row (docs/reports.md, "FOCUS 1.2 export"):
1. `sql/focus_lines.sql` (DuckDB or Athena, like every report query) maps the CUR 2.0 columns to FOCUS
   ones, line for line, with money cast to DECIMAL per line.
2. The identity columns are attributed with the reports' own definitions: the tenant by
   `TenantDirectory.resolve` (applicationId tag, else invoker role), the user by the gateway ledger's call
   records where they name one user for the line's hour x principal x profile (the windows of
   `reconcile.call_window`), else by the principal's role session (`chargeback.user_of`).
3. DuckDB writes Parquet (DECIMAL money, UTC timestamps) and CSV (`YYYY-MM-DDTHH:mm:ssZ`), and
   `focus_check` validates what was written against the specification's column list.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from scripts.cli.reports import queries
from scripts.cli.reports.chargeback import user_of
from scripts.cli.reports.engines import DuckDBEngine, QueryEngine, QueryError, sql_string
from scripts.cli.reports.reconcile import APP_SESSION_SUFFIX, call_window, hours_between
from scripts.cli.reports.tenants import UNATTRIBUTED, TenantDirectory

SPEC_PATH = Path(__file__).with_name("data") / "focus_1_2_columns.json"

# FOCUS ServiceCategory / ServiceSubcategory of the AWS services a Cost Sentry bill holds (product codes of
# CUR 2.0); anything else is "Other". The pairs are checked against the specification's table by the
# validator, so a wrong pair fails the export rather than reaching finance.
SERVICE_CATEGORIES: dict[str, tuple[str, str]] = {
    "AmazonBedrock": ("AI and Machine Learning", "Generative AI"),
    "AmazonSageMaker": ("AI and Machine Learning", "Machine Learning"),
    "AmazonEC2": ("Compute", "Virtual Machines"),
    "AWSLambda": ("Compute", "Serverless Compute"),
    "AmazonS3": ("Storage", "Object Storage"),
    "AmazonDynamoDB": ("Databases", "NoSQL Databases"),
    "AmazonApiGateway": ("Integration", "API Management"),
    "AmazonSNS": ("Integration", "Messaging"),
    "AmazonCloudWatch": ("Management and Governance", "Observability"),
    "AWSCloudTrail": ("Management and Governance", "Compliance"),
    "AWSCostExplorer": ("Management and Governance", "Cost Management"),
    "AmazonAthena": ("Analytics", "Data Processing"),
    "AWSGlue": ("Analytics", "Data Processing"),
    "AmazonQuickSight": ("Analytics", "Business Intelligence"),
    "awskms": ("Security", "Secret Management"),
    "AWSSecretsManager": ("Security", "Secret Management"),
    "awswaf": ("Networking", "Network Security"),
    "AmazonVPC": ("Networking", "Network Connectivity"),
}
OTHER_SERVICE = ("Other", "Other (Other)")

# The custom columns, in this order after the FOCUS ones (FOCUS: custom columns last, `x_` prefixed).
IDENTITY_COLUMNS = ("x_Tenant", "x_ApplicationId", "x_CostCenter", "x_IamPrincipal", "x_User")
FORMATS = ("parquet", "csv")


@cache
def load_spec(path: Path = SPEC_PATH) -> dict[str, Any]:
    """The FOCUS column list with its rules, as extracted from the specification (scripts/devtools/focus_spec)."""
    return json.loads(path.read_text(encoding="utf-8"))


def spec_columns(path: Path = SPEC_PATH) -> dict[str, dict[str, Any]]:
    return {column["id"]: column for column in load_spec(path)["columns"]}


def _case(column: str, mapping: Mapping[str, str], default: str) -> str:
    whens = " ".join(
        f"WHEN {sql_string(code)} THEN {sql_string(value)}" for code, value in sorted(mapping.items())
    )
    return f"CASE {column} {whens} ELSE {sql_string(default)} END"


def render_lines_sql(dialect: queries.Dialect, periods: Sequence[str] = ()) -> str:
    """`sql/focus_lines.sql` for one engine: FOCUS columns of every CUR 2.0 line plus attribution inputs."""
    return queries.render(
        "focus_lines",
        dialect,
        periods,
        service_category=_case(
            "line_item_product_code",
            {code: pair[0] for code, pair in SERVICE_CATEGORIES.items()},
            OTHER_SERVICE[0],
        ),
        service_subcategory=_case(
            "line_item_product_code",
            {code: pair[1] for code, pair in SERVICE_CATEGORIES.items()},
            OTHER_SERVICE[1],
        ),
    )


def ledger_user_buckets(calls: Iterable[Mapping[str, Any]]) -> list[tuple[str, str, str, str]]:
    """(hour YYYY-MM-DDTHH, principal, profile, user) for every CUR billing bucket in which the ledger's
    call records name exactly one end user. A bucket shared by several users, or by a user and calls
    without one, names nobody: a line of CUR cannot be split between them."""
    users: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for call in calls:
        principal = str(call.get("principal") or "")
        if not principal.startswith("arn:"):
            continue  # the call ran as the gateway's own role before records named it: no principal to join
        start, end = call_window(call)
        for hour in hours_between(start, end):
            users[(hour, principal, str(call.get("modelId") or ""))].add(str(call.get("user") or ""))
    return sorted(
        (hour, principal, profile, next(iter(names)))
        for (hour, principal, profile), names in users.items()
        if len(names) == 1 and next(iter(names))
    )


@dataclass(frozen=True)
class TenantTotal:
    tenant: str
    rows: int
    billed_cost: Decimal


@dataclass
class FocusDataset:
    """The FOCUS rows of one export: the view `focus_rows` of a DuckDB connection, computed as it is written."""

    connection: Any
    columns: list[str]
    periods: list[str]

    @property
    def row_count(self) -> int:
        return int(self.connection.execute("SELECT count(*) FROM focus_rows").fetchone()[0])

    def totals_by_tenant(self) -> list[TenantTotal]:
        rows = self.connection.execute(
            "SELECT COALESCE(x_Tenant, ?), count(*), SUM(BilledCost) FROM focus_rows GROUP BY 1 "
            "ORDER BY 3 DESC, 1",
            [UNATTRIBUTED],
        ).fetchall()
        return [TenantTotal(tenant, int(count), Decimal(total or 0)) for tenant, count, total in rows]

    def write(self, out_dir: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
        """`focus.parquet` and/or `focus.csv` under out_dir."""
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        spec = spec_columns()
        if "parquet" in formats:
            target = out_dir / "focus.parquet"
            self.connection.execute(
                f"COPY (SELECT * FROM focus_rows) TO {sql_string(str(target))} (FORMAT parquet, COMPRESSION zstd)"  # noqa: S608
            )
            written.append(target)
        if "csv" in formats:
            # CSV has no types: date/times in FOCUS's format, decimals as DuckDB prints them (no exponent).
            projection = ", ".join(
                f"strftime({name}, '%Y-%m-%dT%H:%M:%SZ') AS {name}"
                if spec.get(name, {}).get("data_type") == "Date/Time"
                else name
                for name in self.columns
            )
            target = out_dir / "focus.csv"
            self.connection.execute(
                f"COPY (SELECT {projection} FROM focus_rows) TO {sql_string(str(target))} (FORMAT csv, HEADER)"  # noqa: S608 - column names from our own list
            )
            written.append(target)
        return written


def _tags_json(column: str) -> str:
    # CUR 2.0 writes a user-defined tag `costCenter` as `user_costCenter` and AWS's own as `aws_...`.
    # FOCUS: one user-defined scheme carries no prefix; provider-defined keys keep a provider prefix.
    entries = f"map_entries(CAST(CAST({column} AS JSON) AS MAP(VARCHAR, VARCHAR)))"
    key = (
        "CASE WHEN starts_with(e.key, 'user_') THEN substr(e.key, 6) "
        "WHEN starts_with(e.key, 'aws_') THEN 'aws:' || substr(e.key, 5) ELSE e.key END"
    )
    return (
        f"CASE WHEN {column} IS NULL OR {column} IN ('', '{{}}', 'null') THEN NULL ELSE CAST(to_json("
        f"map_from_entries(list_transform({entries}, lambda e: {{'k': {key}, 'v': e.value}}))) AS VARCHAR) END"
    )


def build_focus(
    engine: QueryEngine,
    directory: TenantDirectory,
    periods: Sequence[str] = (),
    calls: Iterable[Mapping[str, Any]] = (),
) -> FocusDataset:
    """The FOCUS rows of the CUR line items of `periods` (all periods when empty), attributed."""
    periods = queries.validate_periods(periods)
    if not isinstance(engine, DuckDBEngine):
        # Athena answers through the API page by page; the export is written from the downloaded
        # Parquet (aws s3 sync of the export's data location) with the DuckDB engine.
        raise QueryError("the FOCUS export reads CUR 2.0 Parquet with --engine duckdb (--cur DIR)")
    con = engine.connection
    con.execute("SET TimeZone = 'UTC'")  # CUR's timestamps are UTC; TIMESTAMPTZ must not shift them
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE focus_lines AS {render_lines_sql(engine.dialect, periods)}"
        )
    except Exception as error:  # duckdb.Error: the message names the missing CUR column
        raise QueryError(f"FOCUS export: {error}") from error

    # Identity, attributed once per distinct value with the reports' own definitions.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE focus_tenants (application_id VARCHAR, role_name VARCHAR, tenant VARCHAR)"
    )
    pairs = con.execute("SELECT DISTINCT application_id, role_name FROM focus_lines").fetchall()
    tenants = [(app, role, directory.resolve(app, role)) for app, role in pairs]
    if tenants:
        con.executemany(
            "INSERT INTO focus_tenants VALUES (?, ?, ?)",
            [(app, role, None if tenant == UNATTRIBUTED else tenant) for app, role, tenant in tenants],
        )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE focus_principals (principal VARCHAR, session_name VARCHAR, tenant VARCHAR, "
        "principal_user VARCHAR)"
    )
    rows = con.execute(
        "SELECT DISTINCT l.principal, l.session_name, t.tenant FROM focus_lines AS l "
        "JOIN focus_tenants AS t USING (application_id, role_name) WHERE l.principal <> ''"
    ).fetchall()
    principal_users = []
    for principal, session_name, tenant in rows:
        user = user_of(principal, session_name)
        if tenant and user == f"{tenant}{APP_SESSION_SUFFIX}":
            user = None  # the gateway's session for calls that named no end user: nobody in particular
        principal_users.append((principal, session_name, tenant, user))
    if principal_users:
        con.executemany("INSERT INTO focus_principals VALUES (?, ?, ?, ?)", principal_users)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE focus_ledger_users (hour VARCHAR, principal VARCHAR, resource_id VARCHAR, "
        "ledger_user VARCHAR)"
    )
    buckets = ledger_user_buckets(calls)
    if buckets:
        con.executemany("INSERT INTO focus_ledger_users VALUES (?, ?, ?, ?)", buckets)

    # Tags: rewritten once per distinct tag set (a bill has few), not once per line
    tags = _tags_json("cur_tags_json")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE focus_tags AS SELECT DISTINCT "  # noqa: S608 - our own expression
        f"COALESCE(cur_tags_json, '') AS cur_tags_json, {tags} AS Tags FROM focus_lines"
    )
    spec = spec_columns()
    produced = {column[0] for column in con.execute("DESCRIBE focus_lines").fetchall()} | {"Tags"}
    focus_columns = [name for name in spec if name in produced]
    projection = []
    for name in focus_columns:
        if name == "Tags":
            projection.append("g.Tags")
        elif spec[name]["data_type"] == "Date/Time":
            projection.append(f"CAST(l.{name} AS TIMESTAMPTZ) AS {name}")
        else:
            projection.append(f"l.{name}")
    projection += [
        "t.tenant AS x_Tenant",
        "NULLIF(l.application_id, '') AS x_ApplicationId",
        "NULLIF(l.cost_center, '') AS x_CostCenter",
        "NULLIF(l.principal, '') AS x_IamPrincipal",
        "COALESCE(u.ledger_user, p.principal_user) AS x_User",
    ]
    con.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW focus_rows AS
        SELECT {", ".join(projection)}
        FROM focus_lines AS l
        LEFT JOIN focus_tenants AS t USING (application_id, role_name)
        LEFT JOIN focus_tags AS g ON g.cur_tags_json = COALESCE(l.cur_tags_json, '')
        LEFT JOIN focus_principals AS p
            ON p.principal = l.principal AND p.session_name = l.session_name
           AND p.tenant IS NOT DISTINCT FROM t.tenant
        LEFT JOIN focus_ledger_users AS u
            ON u.hour = strftime(l.usage_hour, '%Y-%m-%dT%H') AND u.principal = l.principal
           AND u.resource_id = l.resource_id
        """  # noqa: S608 - every name comes from the specification's column list or this module
    )
    return FocusDataset(connection=con, columns=[*focus_columns, *IDENTITY_COLUMNS], periods=list(periods))


# Athena over the written Parquet (uploaded to S3): the table, and the question FinOps asks of it first.
ATHENA_EXAMPLE_QUERY = """SELECT x_Tenant, x_User, ServiceName,
       SUM(BilledCost) AS billed_cost, SUM(EffectiveCost) AS effective_cost
FROM {table}
WHERE ServiceCategory = 'AI and Machine Learning'
  AND BillingPeriodStart >= TIMESTAMP '{first_day} 00:00:00'
  AND BillingPeriodStart < TIMESTAMP '{next_day} 00:00:00'
GROUP BY x_Tenant, x_User, ServiceName
ORDER BY billed_cost DESC, x_Tenant, x_User"""
_ATHENA_NAME = re.compile(r"^[a-z0-9_]{1,128}(\.[a-z0-9_]{1,128})?$")
_ATHENA_TYPES = {"VARCHAR": "string", "TIMESTAMP WITH TIME ZONE": "timestamp", "BIGINT": "bigint"}


def athena_sql(parquet: Path, table: str, location: str, period: str) -> str:
    """`CREATE EXTERNAL TABLE` for the export's Parquet at an S3 `location`, and the example query of one
    billing period; the column types are read from the written file, so the DDL cannot drift from it."""
    import duckdb

    queries.validate_periods([period])
    if not _ATHENA_NAME.match(table) or not location.startswith("s3://"):
        raise ValueError(
            "Athena table must look like database.table and the location like s3://bucket/prefix/, "
            f"got {table!r} and {location!r}"
        )
    described = duckdb.connect().execute(f"DESCRIBE SELECT * FROM read_parquet({sql_string(str(parquet))})")  # noqa: S608
    columns = []
    for name, duck_type, *_ in described.fetchall():
        athena_type = duck_type.lower() if duck_type.startswith("DECIMAL") else _ATHENA_TYPES[duck_type]
        columns.append(f"  `{name}` {athena_type}")
    year, month = (int(part) for part in period.split("-"))
    next_period = f"{year + month // 12}-{month % 12 + 1:02d}"
    ddl = (
        f"CREATE EXTERNAL TABLE IF NOT EXISTS {table} (\n" + ",\n".join(columns) + "\n)\n"
        f"STORED AS PARQUET\nLOCATION {sql_string(location)};\n"
    )
    query = ATHENA_EXAMPLE_QUERY.format(table=table, first_day=f"{period}-01", next_day=f"{next_period}-01")
    return f"{ddl}\n-- Bedrock (and other AI) spend per tenant and user in {period}\n{query};\n"
