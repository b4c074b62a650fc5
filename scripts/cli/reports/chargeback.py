"""The chargeback report's figures: CUR 2.0 query results attributed to tenants, totals and budgets.

Pure domain code over rows from any `QueryEngine`; nothing here knows which engine ran the SQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from scripts.cli.reports import queries
from scripts.cli.reports.engines import QueryEngine, Row
from scripts.cli.reports.money import ZERO, percent
from scripts.cli.reports.tenants import UNATTRIBUTED, TenantDirectory

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TenantSpend:
    tenant: str
    cost_usd: Decimal
    input_tokens: int
    output_tokens: int
    principals: int


@dataclass(frozen=True)
class PrincipalSpend:
    tenant: str
    principal: str
    user: str
    cost_usd: Decimal
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class TagSpend:
    cost_center: str
    application_id: str
    environment: str
    cost_usd: Decimal
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class ModelSpend:
    tenant: str
    model: str
    token_direction: str
    usage_type: str
    tokens: int
    cost_usd: Decimal


@dataclass(frozen=True)
class DailySpend:
    day: date
    tenant: str
    cost_usd: Decimal


@dataclass(frozen=True)
class BudgetStatus:
    tenant: str
    period: str  # MONTHLY | DAILY
    window: str  # the month, or the peak day for daily budgets
    limit_usd: Decimal
    used_usd: Decimal
    used_percent: Decimal | None
    days_over_limit: int

    @property
    def state(self) -> str:
        if self.used_percent is None:
            return "ok"
        if self.used_percent >= 100:
            return "over"
        if self.used_percent >= 80:
            return "warning"
        return "ok"


@dataclass(frozen=True)
class ServiceSpend:
    product_code: str
    cost_usd: Decimal
    line_items: int


@dataclass
class ChargebackReport:
    periods: list[str]
    engine: str
    source: str
    generated_at: datetime
    tenants: list[TenantSpend]
    principals: list[PrincipalSpend]
    tags: list[TagSpend]
    models: list[ModelSpend]
    daily: list[DailySpend]
    budgets: list[BudgetStatus]
    services: list[ServiceSpend]
    extra_sections: dict[str, Any] = field(default_factory=dict)

    @property
    def total_usd(self) -> Decimal:
        return sum((t.cost_usd for t in self.tenants), ZERO)

    @property
    def period_label(self) -> str:
        if self.periods:
            return ", ".join(self.periods)
        if self.daily:
            return f"{self.daily[0].day.isoformat()} to {self.daily[-1].day.isoformat()}"
        return "all periods in the data"


def user_of(principal: str, session_name: str) -> str:
    """The end user behind a principal: the role session name, or the IAM user name."""
    if ":assumed-role/" in principal:
        return session_name
    if ":user/" in principal:
        return principal.rsplit("/", 1)[-1]
    return session_name or principal or "(unknown)"


def _decimal(value: Any) -> Decimal:
    if value is None:
        return ZERO
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    raise TypeError(f"expected an exact amount, got {type(value).__name__} {value!r}")


def attribute_principals(rows: Sequence[Row], directory: TenantDirectory) -> list[PrincipalSpend]:
    totals: dict[tuple[str, str, str], list[Any]] = defaultdict(lambda: [ZERO, 0, 0])
    for row in rows:
        tenant = directory.resolve(row["application_id"], row["role_name"])
        key = (tenant, row["principal"] or "(no principal)", user_of(row["principal"], row["session_name"]))
        totals[key][0] += _decimal(row["cost_usd"])
        totals[key][1] += int(row["input_tokens"] or 0)
        totals[key][2] += int(row["output_tokens"] or 0)
    result = [PrincipalSpend(t, p, u, c, i, o) for (t, p, u), (c, i, o) in totals.items()]
    return sorted(result, key=lambda s: (-s.cost_usd, s.tenant, s.principal))


def tenants_from_principals(principals: Sequence[PrincipalSpend]) -> list[TenantSpend]:
    totals: dict[str, list[Any]] = defaultdict(lambda: [ZERO, 0, 0, 0])
    for spend in principals:
        entry = totals[spend.tenant]
        entry[0] += spend.cost_usd
        entry[1] += spend.input_tokens
        entry[2] += spend.output_tokens
        entry[3] += 1
    result = [TenantSpend(t, c, i, o, n) for t, (c, i, o, n) in totals.items()]
    # unattributed spend last: it is the line finance has to chase, not a tenant
    return sorted(result, key=lambda s: (s.tenant == UNATTRIBUTED, -s.cost_usd, s.tenant))


def tag_spend(rows: Sequence[Row]) -> list[TagSpend]:
    return [
        TagSpend(
            cost_center=row["cost_center"] or "(untagged)",
            application_id=row["application_id"] or "(untagged)",
            environment=row["environment"] or "(untagged)",
            cost_usd=_decimal(row["cost_usd"]),
            input_tokens=int(row["input_tokens"] or 0),
            output_tokens=int(row["output_tokens"] or 0),
        )
        for row in rows
    ]


def model_spend(rows: Sequence[Row], directory: TenantDirectory) -> list[ModelSpend]:
    totals: dict[tuple[str, str, str, str], list[Any]] = defaultdict(lambda: [0, ZERO])
    for row in rows:
        tenant = directory.resolve(row["application_id"], row["role_name"])
        key = (tenant, row["model"], row["token_direction"], row["usage_type"])
        totals[key][0] += int(row["tokens"] or 0)
        totals[key][1] += _decimal(row["cost_usd"])
    result = [ModelSpend(t, m, d, u, n, c) for (t, m, d, u), (n, c) in totals.items()]
    return sorted(result, key=lambda s: (-s.cost_usd, s.usage_type, s.tenant))


def daily_spend(rows: Sequence[Row], directory: TenantDirectory) -> list[DailySpend]:
    totals: dict[tuple[date, str], Decimal] = defaultdict(lambda: ZERO)
    for row in rows:
        day = row["usage_date"]
        if isinstance(day, datetime):
            day = day.date()
        totals[(day, directory.resolve(row["application_id"], row["role_name"]))] += _decimal(row["cost_usd"])
    return [DailySpend(day, tenant, cost) for (day, tenant), cost in sorted(totals.items())]


def budget_status(
    daily: Sequence[DailySpend], directory: TenantDirectory, periods: Sequence[str] = ()
) -> list[BudgetStatus]:
    """Spend against each tenant's budget: the latest month for MONTHLY, the peak day for DAILY budgets.

    The latest month is the last requested billing period, else the last month with spend.
    """
    by_tenant_day: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for spend in daily:
        by_tenant_day[spend.tenant][spend.day] += spend.cost_usd
    latest_day = max((s.day for s in daily), default=None)
    latest_month = max(periods) if periods else latest_day.strftime("%Y-%m") if latest_day else "-"
    statuses = []
    for tenant in directory.tenants.values():
        if tenant.limit_usd is None:
            continue
        days = by_tenant_day.get(tenant.tenant_id, {})
        if tenant.budget_period == "DAILY":
            peak_day, used = max(days.items(), key=lambda item: (item[1], item[0]), default=(None, ZERO))
            window = peak_day.isoformat() if peak_day else "-"
            over = sum(1 for cost in days.values() if cost > tenant.limit_usd)
        else:
            used = sum((cost for day, cost in days.items() if day.strftime("%Y-%m") == latest_month), ZERO)
            window = latest_month
            over = 0
        statuses.append(
            BudgetStatus(
                tenant=tenant.tenant_id,
                period=tenant.budget_period,
                window=window,
                limit_usd=tenant.limit_usd,
                used_usd=used,
                used_percent=percent(used, tenant.limit_usd),
                days_over_limit=over,
            )
        )
    return sorted(statuses, key=lambda s: (-(s.used_percent or ZERO), s.tenant))


def build_chargeback(
    engine: QueryEngine,
    directory: TenantDirectory,
    periods: Sequence[str] = (),
    progress: Progress = lambda message: None,
    source: str = "",
) -> ChargebackReport:
    """Run every report query on `engine` and attribute the results to tenants."""
    periods = queries.validate_periods(periods)
    results: dict[str, list[Row]] = {}
    for number, name in enumerate(queries.REPORT_QUERIES, start=1):
        progress(f"[{number}/{len(queries.REPORT_QUERIES)}] {name} ({engine.dialect.name})")
        results[name] = engine.run(queries.render(name, engine.dialect, periods))
    principals = attribute_principals(results["spend_by_principal"], directory)
    daily = daily_spend(results["daily_spend"], directory)
    return ChargebackReport(
        periods=periods,
        engine=engine.dialect.name,
        source=source,
        generated_at=datetime.now(UTC).replace(microsecond=0),
        tenants=tenants_from_principals(principals),
        principals=principals,
        tags=tag_spend(results["spend_by_tag"]),
        models=model_spend(results["spend_by_model"], directory),
        daily=daily,
        budgets=budget_status(daily, directory, periods),
        services=[
            ServiceSpend(row["product_code"], _decimal(row["cost_usd"]), int(row["line_items"]))
            for row in results["spend_by_service"]
        ],
    )
