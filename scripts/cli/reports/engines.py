"""Two engines for the same report SQL: DuckDB over local CUR 2.0 Parquet, Athena over the export's table."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from scripts.cli.reports.queries import Dialect

Row = dict[str, Any]


class QueryError(RuntimeError):
    """A report query failed; the message carries the engine's reason."""


class QueryEngine(Protocol):
    dialect: Dialect

    def run(self, sql: str) -> list[Row]: ...


def sql_string(text: str) -> str:
    """A SQL string literal (single quotes doubled): how a path or name is inlined safely."""
    return "'" + text.replace("'", "''") + "'"


class DuckDBEngine:
    """CUR 2.0 Parquet files on disk (a downloaded Data Exports delivery, or the synthetic generator's)."""

    def __init__(self, cur_path: Path, connection: Any = None) -> None:
        cur_path = Path(cur_path)
        if cur_path.is_dir():
            if not any(cur_path.rglob("*.parquet")):
                raise QueryError(f"no .parquet files under {cur_path}")
            pattern = str(cur_path / "**" / "*.parquet")
        elif cur_path.is_file():
            pattern = str(cur_path)
        else:
            raise QueryError(f"CUR path {cur_path} does not exist")
        self.cur_path = cur_path
        self.dialect = Dialect(
            name="duckdb",
            cur_table=f"read_parquet({sql_string(pattern)}, hive_partitioning = true, union_by_name = true)",
        )
        self._connection = connection

    @property
    def connection(self) -> Any:
        if self._connection is None:
            import duckdb

            self._connection = duckdb.connect(":memory:")
        return self._connection

    def run(self, sql: str) -> list[Row]:
        import duckdb

        try:
            cursor = self.connection.execute(sql)
        except duckdb.Error as error:
            raise QueryError(f"DuckDB query failed: {error}") from error
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


_IDENTIFIER = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}


def _athena_value(text: str | None, athena_type: str) -> Any:
    if text is None:
        return None
    kind = athena_type.lower()
    if kind in ("decimal", "double", "float", "real"):
        # double columns arrive as their shortest decimal text, so Decimal keeps exactly what Athena printed
        return Decimal(text)
    if kind in ("bigint", "integer", "int", "smallint", "tinyint"):
        return int(text)
    if kind == "date":
        return date.fromisoformat(text)
    if kind.startswith("timestamp"):
        return datetime.fromisoformat(text)
    if kind == "boolean":
        return text == "true"
    return text


class AthenaEngine:
    """The CUR 2.0 export's Glue table, queried through Athena (start, poll, page through the results)."""

    def __init__(
        self,
        database: str,
        table: str,
        workgroup: str = "primary",
        athena_client: Any = None,
        catalog: str = "AwsDataCatalog",
        poll_seconds: float = 1.0,
        timeout_seconds: float = 900.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        for label, value in (("database", database), ("table", table), ("workgroup", workgroup)):
            if not _IDENTIFIER.match(value):
                raise ValueError(f"Athena {label} name {value!r} is not a plain identifier")
        self.database, self.table, self.workgroup, self.catalog = database, table, workgroup, catalog
        self.dialect = Dialect(name="athena", cur_table=f'"{database}"."{table}"')
        self._client = athena_client
        self._poll_seconds = poll_seconds
        self._timeout_seconds = timeout_seconds
        self._sleep = sleep

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("athena")
        return self._client

    def run(self, sql: str) -> list[Row]:
        started = self.client.start_query_execution(
            QueryString=sql,
            QueryExecutionContext={"Database": self.database, "Catalog": self.catalog},
            WorkGroup=self.workgroup,
        )
        execution_id = started["QueryExecutionId"]
        self._wait(execution_id)
        return list(self._rows(execution_id))

    def _wait(self, execution_id: str) -> None:
        waited = 0.0
        while True:
            execution = self.client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
            status = execution["Status"]
            state = status["State"]
            if state == "SUCCEEDED":
                return
            if state in _TERMINAL:
                reason = status.get("StateChangeReason", "no reason given")
                raise QueryError(f"Athena query {execution_id} {state}: {reason}")
            if waited >= self._timeout_seconds:
                self.client.stop_query_execution(QueryExecutionId=execution_id)
                raise QueryError(
                    f"Athena query {execution_id} still {state} after {waited:.0f} s; stopped it"
                )
            self._sleep(self._poll_seconds)
            waited += self._poll_seconds

    def _rows(self, execution_id: str) -> Iterator[Row]:
        token: str | None = None
        columns: list[tuple[str, str]] = []
        first_page = True
        while True:
            request: dict[str, Any] = {"QueryExecutionId": execution_id, "MaxResults": 1000}
            if token:
                request["NextToken"] = token
            page = self.client.get_query_results(**request)
            result_set = page["ResultSet"]
            if not columns:
                columns = [(c["Name"], c["Type"]) for c in result_set["ResultSetMetadata"]["ColumnInfo"]]
            rows = result_set.get("Rows", [])
            if first_page and rows:
                rows = rows[1:]  # the first row of the first page repeats the column names
            first_page = False
            for row in rows:
                cells = [cell.get("VarCharValue") for cell in row["Data"]]
                yield {
                    name: _athena_value(text, kind) for (name, kind), text in zip(columns, cells, strict=True)
                }
            token = page.get("NextToken")
            if not token:
                return
