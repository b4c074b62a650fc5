"""Report figures on DuckDB against totals computed by hand from tests/fixtures/reports/tiny_cur.json."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from scripts.cli.reports import queries
from scripts.cli.reports.chargeback import ChargebackReport, build_chargeback
from scripts.cli.reports.engines import DuckDBEngine, QueryError
from scripts.cli.reports.render import write_report
from scripts.cli.reports.tenants import UNATTRIBUTED, TenantDirectory

D = Decimal


@pytest.fixture
def november(tiny_cur: Path, workload_tenants: TenantDirectory) -> ChargebackReport:
    return build_chargeback(DuckDBEngine(tiny_cur), workload_tenants, periods=["2026-11"])


def test_spend_per_tenant_matches_the_hand_computed_totals(november: ChargebackReport) -> None:
    by_tenant = {t.tenant: t for t in november.tenants}

    assert {name: t.cost_usd for name, t in by_tenant.items()} == {
        "sales": D("0.64"),
        "services": D("1.60"),
        "support": D("0.36"),
        UNATTRIBUTED: D("0.035"),
    }
    assert november.total_usd == D("2.635")
    assert (by_tenant["sales"].input_tokens, by_tenant["sales"].output_tokens) == (3_000_000, 700_000)
    # 500 units priced per "1K tokens" count as 500,000 tokens
    assert (by_tenant["services"].input_tokens, by_tenant["services"].output_tokens) == (1_500_000, 100_000)
    assert (by_tenant["support"].input_tokens, by_tenant["support"].output_tokens) == (4_000_000, 500_000)
    assert [t.tenant for t in november.tenants][-1] == UNATTRIBUTED


def test_amounts_are_exact_decimals_not_floats(november: ChargebackReport) -> None:
    for spend in [*november.tenants, *november.principals, *november.models, *november.daily]:
        assert isinstance(spend.cost_usd, Decimal)
    # 0.07 is not representable in binary; the sum must still be exactly 0.14
    bob = next(p for p in november.principals if p.user == "bob")
    assert bob.cost_usd == D("0.14")


def test_spend_per_principal_names_the_end_user(november: ChargebackReport) -> None:
    by_user = {(p.tenant, p.user): p.cost_usd for p in november.principals}

    assert by_user == {
        ("sales", "alice"): D("0.50"),
        ("sales", "bob"): D("0.14"),
        ("services", "carol"): D("1.60"),
        ("support", "dave"): D("0.30"),
        ("support", "erin"): D("0.06"),
        (UNATTRIBUTED, "dev-frank"): D("0.035"),
    }
    assert november.principals[0].user == "carol"  # largest first
    assert november.principals[0].principal.endswith(":assumed-role/cost-sentry-services-invoker/carol")


def test_spend_by_cost_allocation_tags(november: ChargebackReport) -> None:
    by_tags = {(t.cost_center, t.application_id, t.environment): t.cost_usd for t in november.tags}

    assert by_tags == {
        ("services", "services-copilot", "prod"): D("1.60"),
        ("sales", "sales-assistant", "prod"): D("0.64"),
        ("support", "support-bot", "staging"): D("0.36"),
        ("(untagged)", "(untagged)", "(untagged)"): D("0.035"),
    }


def test_spend_by_model_and_token_direction(november: ChargebackReport) -> None:
    by_usage = {(m.tenant, m.usage_type): (m.tokens, m.cost_usd) for m in november.models}

    assert by_usage[("sales", "USE1-Claude3Haiku-input-tokens")] == (1_000_000, D("0.25"))
    assert by_usage[("sales", "USE1-Claude3Haiku-output-tokens")] == (200_000, D("0.25"))
    assert by_usage[("services", "USE1-Claude3.5Haiku-input-tokens")] == (1_500_000, D("1.20"))
    model_totals: dict[str, Decimal] = {}
    for spend in november.models:
        model_totals[spend.model] = model_totals.get(spend.model, D(0)) + spend.cost_usd
    assert model_totals == {
        "Claude3Haiku": D("0.50"),
        "NovaMicro": D("0.175"),
        "Claude3.5Haiku": D("1.60"),
        "NovaLite": D("0.36"),
    }
    assert {m.token_direction for m in november.models} == {"input", "output"}


def test_daily_spend_per_tenant(november: ChargebackReport) -> None:
    daily = {(d.day, d.tenant): d.cost_usd for d in november.daily}

    assert daily == {
        (date(2026, 11, 2), "sales"): D("0.50"),
        (date(2026, 11, 2), "services"): D("1.20"),
        (date(2026, 11, 2), "support"): D("0.30"),
        (date(2026, 11, 3), "sales"): D("0.14"),
        (date(2026, 11, 4), "support"): D("0.06"),
        (date(2026, 11, 5), UNATTRIBUTED): D("0.035"),
        (date(2026, 11, 6), "services"): D("0.40"),
    }


def test_budget_used_vs_limit_from_the_workload_tfvars(november: ChargebackReport) -> None:
    budgets = {b.tenant: b for b in november.budgets}

    assert (budgets["sales"].limit_usd, budgets["sales"].used_usd) == (D("0.5"), D("0.64"))
    assert budgets["sales"].used_percent == D("128.0")
    assert budgets["services"].used_percent == D("160.0")
    # support has a DAILY budget of 0.25: its peak day (Nov 2, 0.30) is over, Nov 4 (0.06) is not
    assert (budgets["support"].window, budgets["support"].used_usd) == ("2026-11-02", D("0.30"))
    assert budgets["support"].days_over_limit == 1
    assert {b.state for b in november.budgets} == {"over"}


def test_taxes_credits_and_other_services_are_not_charged_back(november: ChargebackReport) -> None:
    services = {s.product_code: s.cost_usd for s in november.services}

    assert services == {"AmazonBedrock": D("2.635"), "AmazonEC2": D("1.50")}


def test_without_a_period_every_billing_period_counts(
    tiny_cur: Path, workload_tenants: TenantDirectory
) -> None:
    report = build_chargeback(DuckDBEngine(tiny_cur), workload_tenants)

    assert report.total_usd == D("2.735")
    assert {t.tenant: t.cost_usd for t in report.tenants}["sales"] == D("0.74")
    # the latest month is the budget window for monthly budgets
    assert {b.tenant: b.used_usd for b in report.budgets}["sales"] == D("0.10")


def test_an_empty_period_gives_an_empty_report(
    tiny_cur: Path, workload_tenants: TenantDirectory, tmp_path: Path
) -> None:
    report = build_chargeback(DuckDBEngine(tiny_cur), workload_tenants, periods=["2025-01"])

    assert report.tenants == [] and report.total_usd == 0
    assert all(b.used_usd == 0 and b.state == "ok" for b in report.budgets)
    assert {b.window for b in report.budgets if b.period == "MONTHLY"} == {"2025-01"}
    html = write_report(report, tmp_path / "out").read_text(encoding="utf-8")
    assert "No Bedrock spend in this period." in html


def test_without_tenant_config_spend_is_named_by_the_application_tag(tiny_cur: Path) -> None:
    report = build_chargeback(DuckDBEngine(tiny_cur), TenantDirectory(), periods=["2026-11"])

    assert {t.tenant for t in report.tenants} == {
        "sales-assistant",
        "services-copilot",
        "support-bot",
        UNATTRIBUTED,
    }
    assert report.budgets == []


def test_bad_input_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(QueryError, match="does not exist"):
        DuckDBEngine(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(QueryError, match=r"no \.parquet files"):
        DuckDBEngine(tmp_path / "empty")
    with pytest.raises(ValueError, match="billing period"):
        queries.validate_periods(["2026-11'; DROP TABLE x; --"])
