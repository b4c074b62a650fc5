"""Validate a FOCUS dataset (Parquet or CSV) against the specification's column list and rules.

The rules come from `data/focus_1_2_columns.json` (extracted from the specification's own column pages by
scripts/devtools/focus_spec.py): which columns are mandatory, each column's data type, whether it allows
nulls and its allowed values. The dataset-wide attributes of the same release are checked too: custom
columns carry the `x_` prefix and come after the FOCUS ones, no empty strings stand in for null, date/times
are UTC (`YYYY-MM-DDTHH:mm:ssZ` in CSV, timestamps adjusted to UTC in Parquet), numbers are plain
numerals, currencies are ISO 4217 codes, key-value columns are JSON objects of scalars. Two cross-column
rules of the column pages are checked as written there (PricingCategory, ChargeFrequency).

One deliberate strictness beyond FOCUS: in Parquet, Decimal columns must be DECIMAL, not floating point
(FOCUS allows IEEE 754 doubles; Cost Sentry's money is exact), unless ``allow_float`` is set, e.g. for
checking AWS's own FOCUS export.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.cli.reports.engines import sql_string
from scripts.cli.reports.focus import SPEC_PATH, load_spec

DATETIME_TEXT = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"
# NumericFormat: an integer, a decimal or E notation; no sign on positive values or exponents.
NUMERIC_TEXT = r"^-?\d+(\.\d+)?(E-?\d+)?$"
CURRENCY_TEXT = r"^[A-Z]{3}$"

# Cross-column rules quoted from the column pages (specification/columns/*.md of the same release).
ROW_RULES = (
    (
        "PricingCategory",
        'PricingCategory MUST be null when ChargeCategory is "Tax"',
        "ChargeCategory = 'Tax' AND PricingCategory IS NOT NULL",
    ),
    (
        "PricingCategory",
        'PricingCategory MUST NOT be null when ChargeCategory is "Usage" or "Purchase" and ChargeClass is not '
        '"Correction"',
        "ChargeCategory IN ('Usage', 'Purchase') AND ChargeClass IS DISTINCT FROM 'Correction' "
        "AND PricingCategory IS NULL",
    ),
    (
        "ChargeFrequency",
        'ChargeFrequency MUST NOT be "Usage-Based" when ChargeCategory is "Purchase"',
        "ChargeCategory = 'Purchase' AND ChargeFrequency = 'Usage-Based'",
    ),
)


@dataclass(frozen=True)
class Violation:
    column: str
    rule: str
    rows: int = 0  # rows breaking the rule (0 for a rule about the column itself)

    def __str__(self) -> str:
        where = f" ({self.rows:,} rows)" if self.rows else ""
        return f"{self.column}: {self.rule}{where}"


def _relation(path: Path) -> tuple[str, bool]:
    if path.suffix == ".parquet" or (path.is_dir() and any(path.rglob("*.parquet"))):
        pattern = str(path / "**" / "*.parquet") if path.is_dir() else str(path)
        return f"read_parquet({sql_string(pattern)})", False
    if path.suffix == ".csv":
        return f"read_csv({sql_string(str(path))}, header = true, all_varchar = true)", True
    raise ValueError(f"{path}: expected a .parquet or .csv file (or a directory of Parquet files)")


def _count(con: Any, relation: str, condition: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM {relation} WHERE {condition}").fetchone()[0])  # noqa: S608


def _type_violation(data_type: str, duck_type: str, is_csv: bool, allow_float: bool) -> str | None:
    if is_csv:
        return None  # CSV is all text: its values are checked against the formats instead
    if data_type == "Decimal":
        if duck_type.startswith("DECIMAL") or duck_type in ("BIGINT", "INTEGER", "HUGEINT"):
            return None
        if allow_float and duck_type in ("DOUBLE", "FLOAT"):
            return None
        return f"must be of type Decimal (exact DECIMAL), is {duck_type}"
    if data_type == "Date/Time":
        return None if duck_type == "TIMESTAMP WITH TIME ZONE" else f"must be a UTC date/time, is {duck_type}"
    if data_type in ("String", "JSON"):
        return None if duck_type in ("VARCHAR", "JSON") else f"must be of type {data_type}, is {duck_type}"
    return None


def validate(path: Path, *, allow_float: bool = False, spec_path: Path = SPEC_PATH) -> list[Violation]:
    """Every way the dataset at `path` breaks the FOCUS column rules (empty: it conforms)."""
    import duckdb

    spec = load_spec(spec_path)
    prefix = spec["attributes"]["custom_column_prefix"]
    columns = {column["id"]: column for column in spec["columns"]}
    relation, is_csv = _relation(Path(path))
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    if is_csv:
        # Parsed once: every rule below is a query over the same rows (Parquet is read column by column).
        con.execute(f"CREATE TEMP TABLE dataset AS SELECT * FROM {relation}")  # noqa: S608 - a quoted path
        relation = "dataset"
    described = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()  # noqa: S608
    present = [(name, duck_type) for name, duck_type, *_ in described]
    names = [name for name, _ in present]
    violations = [
        Violation(column["id"], f"{column['feature_level']} column missing from the dataset")
        for column in spec["columns"]
        if column["feature_level"] == "Mandatory" and column["id"] not in names
    ]
    seen_custom = False
    for name, duck_type in present:
        column = columns.get(name)
        if column is None:
            if not name.startswith(prefix):
                violations.append(
                    Violation(name, f"not a FOCUS {spec['version']} column and not prefixed {prefix}")
                )
            seen_custom = True
            continue
        if seen_custom:
            violations.append(Violation(name, "FOCUS columns come before custom columns"))
        violations += _column_violations(con, relation, column, duck_type, is_csv, allow_float)
    for name, rule, condition in ROW_RULES:
        needed = {"ChargeCategory", "ChargeClass", name}
        if needed <= set(names):
            rows = _count(con, relation, condition)
            if rows:
                violations.append(Violation(name, rule, rows))
    return violations


def _column_violations(
    con: Any, relation: str, column: dict[str, Any], duck_type: str, is_csv: bool, allow_float: bool
) -> list[Violation]:
    name, data_type = column["id"], column["data_type"]
    violations = []
    wrong_type = _type_violation(data_type, duck_type, is_csv, allow_float)
    if wrong_type:
        return [Violation(name, wrong_type)]
    if not column["allows_nulls"]:
        rows = _count(con, relation, f"{name} IS NULL")
        if rows:
            violations.append(Violation(name, "MUST NOT be null", rows))
    text = f"CAST({name} AS VARCHAR)"
    if data_type in ("String", "JSON"):
        rows = _count(con, relation, f"{text} = ''")
        if rows:
            violations.append(
                Violation(name, "empty string used for a missing value (NULL is required)", rows)
            )
    if "allowed_values" in column:
        allowed = ", ".join(sql_string(value) for value in column["allowed_values"])
        rows = _count(con, relation, f"{name} IS NOT NULL AND {name} NOT IN ({allowed})")
        if rows:
            values = con.execute(
                f"SELECT DISTINCT {name} FROM {relation} WHERE {name} NOT IN ({allowed}) ORDER BY 1 LIMIT 5"  # noqa: S608
            ).fetchall()
            shown = ", ".join(repr(value) for (value,) in values)
            violations.append(Violation(name, f"not one of the allowed values: {shown}", rows))
    if "allowed_parent_values" in column:
        pairs = " OR ".join(
            f"({name} = {sql_string(child)} AND ServiceCategory = {sql_string(parent)})"
            for child, parent in column["allowed_parent_values"].items()
        )
        rows = _count(con, relation, f"{name} IS NOT NULL AND NOT ({pairs})")
        if rows:
            violations.append(Violation(name, "not a subcategory of the row's ServiceCategory", rows))
    formats = {
        "Date/Time Format": DATETIME_TEXT if is_csv else None,
        "Numeric Format": NUMERIC_TEXT if is_csv else None,
        "Currency Format": CURRENCY_TEXT,
    }
    pattern = formats.get(column["value_format"])
    if pattern:
        rows = _count(
            con, relation, f"{name} IS NOT NULL AND NOT regexp_full_match({text}, {sql_string(pattern)})"
        )
        if rows:
            violations.append(Violation(name, f"not in {column['value_format']}", rows))
    if column["value_format"] == "Key-Value Format":
        # KeyValueFormat: a JSON object whose values are numbers, strings, true, false or null.
        objects = f"json_valid({text}) AND json_type({text}) = 'OBJECT'"
        value_types = f"list_transform(json_keys({text}), lambda k: json_type({text}, '$.\"' || k || '\"'))"
        nested = f"list_has_any({value_types}, ['OBJECT', 'ARRAY'])"
        rows = _count(con, relation, f"{name} IS NOT NULL AND NOT ({objects} AND NOT {nested})")
        if rows:
            violations.append(Violation(name, "not a JSON object of scalar values (KeyValueFormat)", rows))
    return violations


def summary(violations: Sequence[Violation]) -> str:
    return "\n".join(str(violation) for violation in violations)
