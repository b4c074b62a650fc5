"""The synthetic CUR 2.0 generator: real column names and types, partitioned delivery, deterministic."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from scripts.cli.reports.chargeback import build_chargeback
from scripts.cli.reports.engines import DuckDBEngine
from scripts.cli.reports.synth import SynthError, synthesize, synthesize_from_calls, write_tenants_json
from scripts.cli.reports.tenants import TenantDirectory, load_limits_json

EXPECTED_TYPES = {
    "bill_billing_period_start_date": "TIMESTAMP",
    "line_item_usage_start_date": "TIMESTAMP",
    "line_item_usage_end_date": "TIMESTAMP",
    "line_item_usage_account_id": "VARCHAR",
    "line_item_product_code": "VARCHAR",
    "line_item_usage_type": "VARCHAR",
    "line_item_operation": "VARCHAR",
    "line_item_resource_id": "VARCHAR",
    "line_item_usage_amount": "DOUBLE",
    "line_item_unblended_cost": "DOUBLE",
    "line_item_unblended_rate": "VARCHAR",
    "line_item_line_item_type": "VARCHAR",
    "line_item_iam_principal": "VARCHAR",
    "resource_tags": "MAP(VARCHAR, VARCHAR)",
    "product_region_code": "VARCHAR",
    "pricing_unit": "VARCHAR",
}


def query(sql: str, cur_dir: Path) -> list[tuple]:
    """Run `sql` with its `?` bound to the Parquet files of a delivery directory (or to one file)."""
    pattern = str(cur_dir) if cur_dir.is_file() else f"{cur_dir}/**/*.parquet"
    return duckdb.connect().execute(sql, [pattern]).fetchall()


def fingerprint(cur_dir: Path) -> tuple:
    return query(
        "SELECT count(*), sum(line_item_unblended_cost::DECIMAL(38, 10)), sum(hash(identity_line_item_id, "
        "line_item_iam_principal, line_item_usage_type, line_item_usage_amount)) FROM read_parquet(?)",
        cur_dir,
    )[0]


def test_a_delivery_like_layout_with_cur_2_column_names_and_types(tmp_path: Path) -> None:
    files = synthesize(
        tmp_path / "cur", rows=5_000, seed=11, start=date(2026, 10, 20), end=date(2026, 11, 10)
    )

    assert [f.relative_to(tmp_path / "cur").parent.name for f in files] == [
        "BILLING_PERIOD=2026-10",
        "BILLING_PERIOD=2026-11",
    ]
    described = {row[0]: row[1] for row in query("DESCRIBE SELECT * FROM read_parquet(?)", files[0])}
    for column, expected in EXPECTED_TYPES.items():
        assert described[column] == expected, column
    count, first, last = query(
        "SELECT count(*), min(line_item_usage_start_date), max(line_item_usage_start_date) "
        "FROM read_parquet(?)",
        tmp_path / "cur",
    )[0]
    assert count == 5_000
    assert first.date() >= date(2026, 10, 20) and last.date() < date(2026, 11, 10)


def test_bedrock_lines_look_like_bedrock_billing(tmp_path: Path) -> None:
    synthesize(tmp_path / "cur", rows=4_000, seed=5)
    sample = query(
        "SELECT line_item_usage_type, line_item_iam_principal, line_item_resource_id, resource_tags, "
        "line_item_usage_amount * CAST(line_item_unblended_rate AS DECIMAL(38, 12)) - "
        "CAST(line_item_unblended_cost AS DECIMAL(38, 10)) AS pricing_error "
        "FROM read_parquet(?) WHERE line_item_product_code = 'AmazonBedrock' "
        "AND line_item_line_item_type = 'Usage' AND resource_tags['user_costCenter'] = 'sales' LIMIT 50",
        tmp_path / "cur",
    )

    assert sample
    for usage_type, principal, resource, tags, pricing_error in sample:
        assert usage_type.startswith("USE1-") and usage_type.endswith(("-input-tokens", "-output-tokens"))
        assert principal.startswith("arn:aws:sts::111111111111:assumed-role/cost-sentry-sales-invoker/")
        assert ":application-inference-profile/" in resource
        assert tags == {
            "user_applicationId": "sales-assistant",
            "user_costCenter": "sales",
            "user_environment": "prod",
        }
        assert abs(pricing_error) < 1e-9


def test_the_same_seed_gives_the_same_data_and_another_seed_does_not(tmp_path: Path) -> None:
    synthesize(tmp_path / "a", rows=3_000, seed=42)
    synthesize(tmp_path / "b", rows=3_000, seed=42)
    synthesize(tmp_path / "c", rows=3_000, seed=43)

    assert fingerprint(tmp_path / "a") == fingerprint(tmp_path / "b")
    assert fingerprint(tmp_path / "a") != fingerprint(tmp_path / "c")


def test_the_synthetic_tenants_file_drives_budgets(tmp_path: Path) -> None:
    synthesize(tmp_path / "cur", rows=20_000, seed=3)
    limits = write_tenants_json(tmp_path / "tenants.json", rows=20_000)

    directory = load_limits_json(limits)
    report = build_chargeback(DuckDBEngine(tmp_path / "cur"), directory)

    assert directory.tenants["sales"].limit_usd == Decimal("60.00")
    assert {b.tenant for b in report.budgets} == {
        "sales",
        "services",
        "support",
        "marketing",
        "legal",
        "engineering",
    }
    assert "(unattributed)" in {t.tenant for t in report.tenants}  # the developers' direct calls


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rows": 0}, "--rows"),
        ({"rows": 10, "start": date(2026, 11, 2), "end": date(2026, 11, 1)}, "--end"),
        ({"rows": 10, "seed": -1}, "--seed"),
        ({"rows": 10, "account_id": "1234"}, "account id"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(SynthError, match=message):
        synthesize(tmp_path / "cur", **kwargs)
    assert not (tmp_path / "cur").exists()


def test_unknown_tenants_resolve_to_their_application_tag(tmp_path: Path) -> None:
    synthesize(tmp_path / "cur", rows=2_000, seed=9)

    report = build_chargeback(DuckDBEngine(tmp_path / "cur"), TenantDirectory())

    assert "contract-review" in {t.tenant for t in report.tenants}


def test_an_existing_delivery_is_never_mixed_with_new_rows(tmp_path: Path) -> None:
    synthesize(tmp_path / "cur", rows=100, seed=1)
    before = fingerprint(tmp_path / "cur")

    with pytest.raises(SynthError, match="already holds Parquet files"):
        synthesize(tmp_path / "cur", rows=100, seed=2)
    assert fingerprint(tmp_path / "cur") == before


def test_invoker_roles_are_named_by_the_tenant_contract_not_by_the_generator(tmp_path: Path) -> None:
    synthesize(tmp_path / "cur", rows=500, seed=3, name_prefix="acme")
    principals = {
        row[0]
        for row in query(
            "SELECT DISTINCT line_item_iam_principal FROM read_parquet(?) "
            "WHERE resource_tags['user_costCenter'] = 'legal' AND line_item_iam_principal LIKE '%assumed-role%'",
            tmp_path / "cur",
        )
    }
    assert principals
    assert all(":assumed-role/acme-legal-invoker/" in principal for principal in principals)


def test_ledger_calls_are_billed_to_their_own_principal_or_the_gateways_own_session(tmp_path: Path) -> None:
    own = "arn:aws:sts::111111111111:assumed-role/cost-sentry-gateway/cost-sentry-gateway"
    session = "arn:aws:sts::111111111111:assumed-role/cost-sentry-sales-invoker/alice"
    base = {"tenant": "sales", "model": "nova-micro", "input_tokens": 10, "output_tokens": 5}
    calls = [
        {**base, "sk": "CALL#2026-11-02T10:00:00Z#a", "principal": session, "user": "alice"},
        {**base, "sk": "CALL#2026-11-02T10:00:01Z#b", "principal": ""},
    ]
    synthesize_from_calls(calls, tmp_path / "cur", own_principal=own)
    billed = {
        row[0]
        for row in query("SELECT DISTINCT line_item_iam_principal FROM read_parquet(?)", tmp_path / "cur")
    }
    assert billed == {session, own}
