"""Reconciliation: ledger call records in (moto) DynamoDB vs CUR rows billed for the same calls."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest

from scripts.cli.reports.chargeback import build_chargeback
from scripts.cli.reports.engines import DuckDBEngine
from scripts.cli.reports.ledger import read_call_records
from scripts.cli.reports.reconcile import Reconciliation, Tolerance, cur_totals, ledger_totals, reconcile
from scripts.cli.reports.synth import synthesize_from_calls
from scripts.cli.reports.tenants import TenantDirectory

from .ledger_fakes import create_ledger_table, fill_ledger


@pytest.fixture
def dynamodb(aws_endpoint_env: str) -> Any:
    return boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def ledger_table(dynamodb: Any) -> str:
    table = create_ledger_table(dynamodb)
    fill_ledger(dynamodb, table)
    return table


def reconcile_with_drift(
    dynamodb: Any, table: str, tmp_path: Path, directory: TenantDirectory, drift: dict[str, Decimal]
) -> Reconciliation:
    calls = list(read_call_records(table, dynamodb, period="2026-11"))
    synthesize_from_calls(calls, tmp_path / "cur", cost_drift=drift)
    report = build_chargeback(DuckDBEngine(tmp_path / "cur"), directory, ["2026-11"])
    return reconcile(ledger_totals(calls), cur_totals(report.principals), "2026-11", Tolerance())


def test_call_records_of_one_period_are_read_and_nothing_else(dynamodb: Any, ledger_table: str) -> None:
    calls = list(read_call_records(ledger_table, dynamodb, period="2026-11"))

    assert len(calls) == 4
    assert all(call["sk"].startswith("CALL#2026-11") for call in calls)
    assert sum(int(call["cost_nanos"]) for call in calls) == 3_225_000_000
    assert len(list(read_call_records(ledger_table, dynamodb))) == 5


def test_a_bill_that_matches_the_ledger_flags_nothing(
    dynamodb: Any, ledger_table: str, tmp_path: Path, workload_tenants: TenantDirectory
) -> None:
    result = reconcile_with_drift(dynamodb, ledger_table, tmp_path, workload_tenants, {})

    assert result.flagged == []
    tenants = {line.tenant: (line.ledger_usd, line.cur_usd) for line in result.tenant_lines}
    assert tenants == {
        "sales": (Decimal("1.085"), Decimal("1.085")),
        "services": (Decimal("1.6"), Decimal("1.6")),
        "support": (Decimal("0.54"), Decimal("0.54")),
    }
    # calls without a user are attributed to the tenant's application session on both sides
    assert ("support", "support-app") in {(line.tenant, line.user) for line in result.principal_lines}


def test_a_planted_difference_is_flagged_for_that_tenant_and_user_only(
    dynamodb: Any, ledger_table: str, tmp_path: Path, workload_tenants: TenantDirectory
) -> None:
    result = reconcile_with_drift(
        dynamodb, ledger_table, tmp_path, workload_tenants, {"services": Decimal("1.05")}
    )

    flagged = {(line.level, line.tenant, line.user) for line in result.flagged}
    assert flagged == {("tenant", "services", ""), ("principal", "services", "carol")}
    services = next(line for line in result.tenant_lines if line.tenant == "services")
    assert services.difference_usd == Decimal("0.08")
    assert services.difference_percent == Decimal("5.0")


def test_tolerances_need_both_the_absolute_and_the_relative_limit_exceeded() -> None:
    ledger = {
        ("a", "u"): (Decimal("100"), 1),
        ("b", "u"): (Decimal("0.01"), 1),
        ("c", "u"): (Decimal("0"), 0),
    }
    cur = {("a", "u"): Decimal("100.5"), ("b", "u"): Decimal("0.0105"), ("c", "u"): Decimal("0.002")}

    result = reconcile(
        ledger, cur, "2026-11", Tolerance(absolute_usd=Decimal("0.001"), relative_percent=Decimal(1))
    )

    # a: 0.5 USD but 0.5 % -> accepted; b: 5 % but 0.0005 USD -> accepted; c: billed without any ledger call
    assert {(line.tenant, line.level) for line in result.flagged} == {("c", "principal"), ("c", "tenant")}
    with pytest.raises(ValueError, match="negative"):
        Tolerance(absolute_usd=Decimal("-1"))


def test_a_malformed_period_is_refused(dynamodb: Any) -> None:
    with pytest.raises(ValueError, match="period"):
        list(read_call_records("any", dynamodb, period="November"))
