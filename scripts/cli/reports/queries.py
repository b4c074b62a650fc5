"""The CUR 2.0 report queries: .sql files written once, rendered for DuckDB or Athena.

The only differences between the engines are explicit here: how the CUR table is referenced, how a
cost allocation tag is read from the `resource_tags` map (Athena's `map[key]` fails on a missing key,
DuckDB's returns NULL), and how billing periods are selected (Athena filters the `billing_period`
partition column so it scans only those months).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2

SQL_DIR = Path(__file__).with_name("sql")
REPORT_QUERIES = ("spend_by_principal", "spend_by_tag", "spend_by_model", "daily_spend", "spend_by_service")
# Run by their own reports, not by every chargeback: the SageMaker split (sagemaker.py) and the
# reconciliation of estimated charges (reconcile.py), the FOCUS 1.2 export (focus.py), the Cost Sentry
# dashboard's dataset (scripts/cli/dashboards).
EXTRA_QUERIES = ("sagemaker_endpoints", "spend_by_principal_hour", "focus_lines", "bedrock_spend_daily")

# CUR 2.0 writes a user-defined cost allocation tag `costCenter` into `resource_tags` under the key
# `user_costCenter` (the `user:` prefix of the Billing console becomes `user_`).
TAG_KEY_PREFIX = "user_"
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_TAG_NAME = re.compile(r"^[A-Za-z0-9_.:/=+@-]{1,128}$")
_MAP_COLUMN = re.compile(r"^[a-z_]{1,64}$")


def validate_periods(periods: Sequence[str]) -> list[str]:
    """Billing periods as `YYYY-MM`; they are inlined into SQL, so nothing else gets through."""
    for period in periods:
        if not _PERIOD.match(period):
            raise ValueError(f"billing period must look like 2026-11, got {period!r}")
    return sorted(set(periods))


@dataclass(frozen=True)
class Dialect:
    name: str
    cur_table: str

    def tag(self, tag_name: str) -> str:
        if not _TAG_NAME.match(tag_name):
            raise ValueError(f"not a tag key: {tag_name!r}")
        return self.map_value("resource_tags", f"{TAG_KEY_PREFIX}{tag_name}")

    def map_value(self, column: str, key: str) -> str:
        """One key of a CUR 2.0 map column (resource_tags, product), NULL when the key is missing."""
        if not _MAP_COLUMN.match(column) or not _TAG_NAME.match(key):
            raise ValueError(f"not a map column and key: {column!r}, {key!r}")
        if self.name == "athena":
            return f"element_at({column}, '{key}')"
        return f"{column}['{key}']"

    def map_json(self, column: str) -> str:
        """A CUR 2.0 map column as JSON object text (the FOCUS export rewrites its keys afterwards)."""
        if not _MAP_COLUMN.match(column):
            raise ValueError(f"not a map column: {column!r}")
        if self.name == "athena":
            return f"json_format(CAST({column} AS JSON))"
        return f"CAST(to_json({column}) AS VARCHAR)"

    def period_filter(self, periods: Sequence[str]) -> str:
        if not periods:
            return ""
        if self.name == "athena":
            months = ", ".join(f"'{period}'" for period in validate_periods(periods))
            return f"AND billing_period IN ({months})"
        starts = ", ".join(f"DATE '{period}-01'" for period in validate_periods(periods))
        return f"AND CAST(bill_billing_period_start_date AS DATE) IN ({starts})"


_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(SQL_DIR),
    undefined=jinja2.StrictUndefined,
    autoescape=False,  # noqa: S701 - SQL, not HTML; every inlined value is validated above
    keep_trailing_newline=True,
)


def render(query_name: str, dialect: Dialect, periods: Sequence[str] = (), **values: str) -> str:
    """The SQL text of one report query for one engine (``values``: a query's own template values)."""
    known = REPORT_QUERIES + EXTRA_QUERIES
    if query_name not in known:
        raise ValueError(f"unknown report query {query_name!r}; known: {', '.join(known)}")
    template = _environment.get_template(f"{query_name}.sql")
    return template.render(
        cur_table=dialect.cur_table,
        tag=dialect.tag,
        map_value=dialect.map_value,
        map_json=dialect.map_json,
        period_filter=dialect.period_filter(periods),
        **values,
    )
