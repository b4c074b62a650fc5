"""Shared SageMaker endpoints: their real CUR 2.0 cost split across the tenants that used them.

An endpoint shared through the gateway (lambda_src/cost_sentry/adapters/sagemaker.py) is billed per
instance-hour, whoever calls it. The gateway's call records say who did: each record of a shared
endpoint has `modelId` = the endpoint ARN, the tenant, the user and the tokens. This report

- sums the endpoint's hosting line items (sql/sagemaker_endpoints.sql: cost and instance-hours),
- gives each tenant the share of that cost its tokens (input + output) are of the endpoint's tokens,
  exactly: the shares are rounded to 1e-10 USD by largest remainder, so they add up to the bill,
- and shows what a token really cost (cost / tokens) against the endpoint's utilization (tokens served
  / instance-hours x the capacity you give it): an idle endpoint makes every token dearer. An endpoint
  with cost but no tokens is reported whole as `(idle)`.

It also shows what the gateway charged the tenants at the configured rate, so a rate that no longer
covers the endpoint shows up as recovery below 100 %.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

from scripts.cli.reports import queries
from scripts.cli.reports.engines import QueryEngine
from scripts.cli.reports.money import NANOS_PER_USD, ZERO, console_usd, plain, plural

QUANTUM = Decimal("1e-10")  # CUR 2.0's cost precision
MILLION = Decimal(1_000_000)
IDLE = "(idle)"


@dataclass(frozen=True)
class EndpointCost:
    endpoint_arn: str
    cost_usd: Decimal
    instance_hours: Decimal
    usage_type: str


@dataclass(frozen=True)
class TenantUsage:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    charged_nanos: int = 0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class TenantShare:
    tenant: str
    requests: int
    input_tokens: int
    output_tokens: int
    share_percent: Decimal
    allocated_usd: Decimal
    charged_usd: Decimal


@dataclass(frozen=True)
class EndpointAllocation:
    model: str
    endpoint_arn: str
    cost_usd: Decimal
    instance_hours: Decimal
    tokens: int
    shares: tuple[TenantShare, ...]
    effective_usd_per_million: Decimal | None  # None: no tokens served
    capacity_tokens_per_hour: int | None
    utilization_percent: Decimal | None  # None without a capacity
    full_utilization_usd_per_million: Decimal | None

    @property
    def charged_usd(self) -> Decimal:
        return sum((share.charged_usd for share in self.shares), ZERO)

    def summary(self) -> str:
        """One line, rounded for reading (the CSV keeps the exact figures): the bill, the tokens, what a
        token cost against the utilization, what was charged."""
        effective = (
            "-" if self.effective_usd_per_million is None else console_usd(self.effective_usd_per_million)
        )
        utilization = (
            "?"
            if self.utilization_percent is None
            else f"{self.utilization_percent.quantize(Decimal('0.1'))}"
        )
        full = (
            "?"
            if self.full_utilization_usd_per_million is None
            else console_usd(self.full_utilization_usd_per_million)
        )
        return (
            f"{self.model}: {console_usd(self.cost_usd)} for {plain(self.instance_hours)} instance-hours, "
            f"{plural(self.tokens, 'token')}; {effective} per 1M tokens at {utilization}% utilization "
            f"({full} at 100%); the gateway charged {console_usd(self.charged_usd)}"
        )

    @property
    def recovery_percent(self) -> Decimal | None:
        """What the gateway charged at the configured rate, in percent of the real cost."""
        return (
            None if self.cost_usd == 0 else (self.charged_usd * 100 / self.cost_usd).quantize(Decimal("0.01"))
        )


def is_endpoint_arn(arn: str) -> bool:
    return ":sagemaker:" in arn and ":endpoint/" in arn


def is_sagemaker_call(call: Mapping[str, Any]) -> bool:
    """A call record the gateway served from a shared SageMaker endpoint (modelId = its ARN)."""
    return is_endpoint_arn(str(call.get("modelId") or ""))


def endpoint_costs(engine: QueryEngine, periods: Sequence[str] = ()) -> dict[str, EndpointCost]:
    """Endpoint ARN (lowercase, as SageMaker writes it) -> its hosting cost and instance-hours."""
    rows = engine.run(
        queries.render("sagemaker_endpoints", engine.dialect, queries.validate_periods(periods))
    )
    return {
        str(row["endpoint_arn"]): EndpointCost(
            endpoint_arn=str(row["endpoint_arn"]),
            cost_usd=Decimal(str(row["cost_usd"])),
            instance_hours=Decimal(str(row["instance_hours"])),
            usage_type=str(row["usage_type"]),
        )
        for row in rows
    }


def endpoint_usage(calls: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, dict[str, TenantUsage]]]:
    """Endpoint ARN -> (model short name, tenant -> usage) from the gateway's call records."""
    usage: dict[str, tuple[str, dict[str, TenantUsage]]] = {}
    for call in calls:
        arn = str(call.get("modelId") or "").lower()
        if not is_endpoint_arn(arn):
            continue
        _, tenants = usage.setdefault(arn, (str(call.get("model") or arn), {}))
        tenant = str(call["tenant"])
        was = tenants.get(tenant, TenantUsage())
        tenants[tenant] = TenantUsage(
            requests=was.requests + 1,
            input_tokens=was.input_tokens + int(call.get("input_tokens", 0)),
            output_tokens=was.output_tokens + int(call.get("output_tokens", 0)),
            charged_nanos=was.charged_nanos + int(call.get("cost_nanos", 0)),
        )
    return usage


def split_exactly(
    total: Decimal, weights: Mapping[str, int], quantum: Decimal = QUANTUM
) -> dict[str, Decimal]:
    """`total` split in proportion to `weights`, in multiples of `quantum`, adding up to `total` exactly.

    Largest remainder: every part is first rounded down; the quanta left over go one each to the
    largest remainders (ties by name), so no part is ever more than one quantum off its exact share.
    """
    whole = sum(weights.values())
    if whole <= 0:
        raise ValueError("cannot split by weights that add up to zero")
    units = int((total / quantum).to_integral_value())
    exact = {name: Decimal(units) * weight / whole for name, weight in weights.items()}
    parts = {name: int(value.to_integral_value(rounding=ROUND_FLOOR)) for name, value in exact.items()}
    left = units - sum(parts.values())
    for name in sorted(exact, key=lambda n: (-(exact[n] - parts[n]), n))[:left]:
        parts[name] += 1
    return {name: part * quantum for name, part in parts.items()}


def allocate(
    cost: EndpointCost,
    model: str,
    tenants: Mapping[str, TenantUsage],
    capacity_tokens_per_hour: int | None = None,
) -> EndpointAllocation:
    tokens = sum(usage.tokens for usage in tenants.values())
    if tokens == 0:
        shares: tuple[TenantShare, ...] = (TenantShare(IDLE, 0, 0, 0, Decimal(100), cost.cost_usd, ZERO),)
    else:
        allocated = split_exactly(cost.cost_usd, {t: u.tokens for t, u in tenants.items() if u.tokens})
        shares = tuple(
            TenantShare(
                tenant=tenant,
                requests=usage.requests,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                share_percent=(Decimal(usage.tokens) * 100 / tokens).quantize(Decimal("0.01")),
                allocated_usd=allocated.get(tenant, ZERO),
                charged_usd=Decimal(usage.charged_nanos) / NANOS_PER_USD,
            )
            for tenant, usage in sorted(tenants.items(), key=lambda item: (-item[1].tokens, item[0]))
        )
    capacity_tokens = (
        None if capacity_tokens_per_hour is None else cost.instance_hours * capacity_tokens_per_hour
    )
    return EndpointAllocation(
        model=model,
        endpoint_arn=cost.endpoint_arn,
        cost_usd=cost.cost_usd,
        instance_hours=cost.instance_hours,
        tokens=tokens,
        shares=shares,
        effective_usd_per_million=None
        if tokens == 0
        else (cost.cost_usd * MILLION / tokens).quantize(QUANTUM),
        capacity_tokens_per_hour=capacity_tokens_per_hour,
        utilization_percent=None
        if not capacity_tokens
        else (Decimal(tokens) * 100 / capacity_tokens).quantize(Decimal("0.01")),
        full_utilization_usd_per_million=None
        if not capacity_tokens
        else (cost.cost_usd * MILLION / capacity_tokens).quantize(QUANTUM),
    )


def allocate_endpoints(
    costs: Mapping[str, EndpointCost],
    calls: Iterable[Mapping[str, Any]],
    capacities: Mapping[str, int] | None = None,
) -> list[EndpointAllocation]:
    """Every billed endpoint the gateway routed calls to (or billed with none: idle), by model name.

    `capacities` is keyed by model name or endpoint name. Endpoints billed in CUR that no call record
    names and no capacity mentions are not shared endpoints of this gateway (a tenant's dedicated
    endpoint is attributed by its tags) and are left out; the others with no calls are `(idle)`.
    """
    usage = endpoint_usage(calls)
    capacities = dict(capacities or {})
    allocations = []
    for arn, cost in sorted(costs.items()):
        endpoint_name = arn.rsplit("/", 1)[-1]
        # An endpoint no call names is known by its endpoint name (the model name lives in the calls).
        model, tenants = usage.get(arn, (endpoint_name, {}))
        capacity = capacities.get(model, capacities.get(endpoint_name))
        if arn not in usage and capacity is None:
            continue
        allocations.append(allocate(cost, model, tenants, capacity))
    return allocations


CSV_COLUMNS = (
    "model", "endpoint_arn", "tenant", "requests", "input_tokens", "output_tokens", "share_percent",
    "allocated_usd", "charged_usd", "endpoint_cost_usd", "instance_hours", "effective_usd_per_million_tokens",
    "utilization_percent", "full_utilization_usd_per_million_tokens",
)  # fmt: skip


def _text(value: Decimal | int | None) -> str:
    if value is None:
        return ""
    return plain(value) if isinstance(value, Decimal) else str(value)


def write_allocation_csv(allocations: Sequence[EndpointAllocation], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for a in allocations:
            for s in a.shares:
                writer.writerow(
                    [
                        a.model, a.endpoint_arn, s.tenant, s.requests, s.input_tokens, s.output_tokens,
                        _text(s.share_percent), _text(s.allocated_usd), _text(s.charged_usd), _text(a.cost_usd),
                        _text(a.instance_hours), _text(a.effective_usd_per_million), _text(a.utilization_percent),
                        _text(a.full_utilization_usd_per_million),
                    ]
                )  # fmt: skip
    return path


def synthesize_endpoint_hours(
    out_dir: Path,
    endpoint_arn: str,
    start: datetime,
    hours: int,
    hourly_usd: Decimal,
    instance_type: str = "ml.g5.xlarge",
    account_id: str = "111111111111",
    connection: Any = None,
) -> Path:
    """CUR 2.0 hosting line items of one endpoint running `hours` hours from `start` (one per hour), in a
    Parquet file of its own next to a CUR directory's other files (same columns as synth's)."""
    import duckdb

    from scripts.cli.reports.synth import _CUR_PROJECTION, REGION

    if hours < 1 or not account_id.isdigit() or len(account_id) != 12 or not is_endpoint_arn(endpoint_arn):
        raise ValueError("hours >= 1, a 12-digit account id and an endpoint ARN are required")
    con = connection or duckdb.connect(":memory:")
    usage_type = f"USE1-Host:{instance_type}"
    con.execute(
        "CREATE OR REPLACE TEMP TABLE endpoint_hours (line_id VARCHAR, usage_start TIMESTAMP, usage_end TIMESTAMP, "
        "interval_text VARCHAR, period_start TIMESTAMP, period_end TIMESTAMP, billing_period VARCHAR, cost DOUBLE)"
    )
    rows = []
    for hour in range(hours):
        begin = start + timedelta(hours=hour)
        end = begin + timedelta(hours=1)
        period_start = begin.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        period_end = (period_start + timedelta(days=32)).replace(day=1)
        interval = f"{begin:%Y-%m-%dT%H:%M:%SZ}/{end:%Y-%m-%dT%H:%M:%SZ}"
        rows.append(
            (
                f"sm{hour:014x}",
                begin,
                end,
                interval,
                period_start,
                period_end,
                f"{begin:%Y-%m}",
                float(hourly_usd),
            )
        )
    con.executemany("INSERT INTO endpoint_hours VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    periods = sorted({row[6] for row in rows})
    if len(periods) != 1:
        raise ValueError("synthesize one billing period at a time")
    source = f"""(
        SELECT line_id, interval_text, period_start, period_end, billing_period, '{account_id}' AS account_id,
            'Usage' AS line_item_type, usage_start, usage_end, 'AmazonSageMaker' AS product_code,
            '{usage_type}' AS usage_type, 'RunInstance' AS operation, '{endpoint_arn}' AS resource_id,
            1.0 AS usage_amount, CAST(cost AS VARCHAR) AS rate_text, cost,
            'Hosting {instance_type}' AS description, '' AS principal, 'Hrs' AS pricing_unit, '{REGION}' AS region,
            MAP {{'product_name': 'Amazon SageMaker', 'region': '{REGION}'}} AS product,
            MAP(['user_costSentryShared'], ['{endpoint_arn.rsplit("/", 1)[-1]}']) AS tags
        FROM endpoint_hours
    )"""  # noqa: S608 - inlined: a validated account id, an endpoint ARN and a catalog-free instance type
    target = out_dir / f"BILLING_PERIOD={periods[0]}" / "part-sagemaker.snappy.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    escaped = str(target).replace("'", "''")
    con.execute(
        f"COPY ({_CUR_PROJECTION.format(source=source)}) TO '{escaped}' (FORMAT parquet, COMPRESSION snappy)"
    )
    return target
