"""Write the chargeback report: CSV files (exact amounts) and one self-contained HTML page."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2

from scripts.cli.reports import charts
from scripts.cli.reports.chargeback import ChargebackReport
from scripts.cli.reports.cost_explorer import CostExplorerRow
from scripts.cli.reports.money import ZERO, display_places, format_usd, nanos_to_usd, percent, plain
from scripts.cli.reports.reconcile import Reconciliation
from scripts.cli.reports.sagemaker import EndpointAllocation, write_allocation_csv

TEMPLATES = Path(__file__).with_name("templates")
HTML_NAME = "chargeback.html"
TOP_PRINCIPALS_CHART = 10
TOP_PRINCIPALS_TABLE = 25


def _cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return plain(value)
    if value is None:
        return ""
    return value


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([_cell(value) for value in row] for row in rows)
    return path


def write_csvs(
    report: ChargebackReport,
    out_dir: Path,
    reconciliation: Reconciliation | None = None,
    cost_explorer: Sequence[CostExplorerRow] = (),
) -> list[Path]:
    total = report.total_usd
    files = [
        write_csv(
            out_dir / "spend_by_tenant.csv",
            ["tenant", "cost_usd", "share_percent", "input_tokens", "output_tokens", "principals"],
            [
                (
                    t.tenant,
                    t.cost_usd,
                    percent(t.cost_usd, total),
                    t.input_tokens,
                    t.output_tokens,
                    t.principals,
                )
                for t in report.tenants
            ],
        ),
        write_csv(
            out_dir / "spend_by_principal.csv",
            ["tenant", "principal", "user", "cost_usd", "input_tokens", "output_tokens"],
            [
                (p.tenant, p.principal, p.user, p.cost_usd, p.input_tokens, p.output_tokens)
                for p in report.principals
            ],
        ),
        write_csv(
            out_dir / "spend_by_tag.csv",
            ["cost_center", "application_id", "environment", "cost_usd", "input_tokens", "output_tokens"],
            [
                (t.cost_center, t.application_id, t.environment, t.cost_usd, t.input_tokens, t.output_tokens)
                for t in report.tags
            ],
        ),
        write_csv(
            out_dir / "spend_by_model.csv",
            ["tenant", "model", "token_direction", "usage_type", "tokens", "cost_usd"],
            [
                (m.tenant, m.model, m.token_direction, m.usage_type, m.tokens, m.cost_usd)
                for m in report.models
            ],
        ),
        write_csv(
            out_dir / "daily_spend.csv",
            ["date", "tenant", "cost_usd"],
            [(d.day.isoformat(), d.tenant, d.cost_usd) for d in report.daily],
        ),
        write_csv(
            out_dir / "budget_status.csv",
            [
                "tenant",
                "period",
                "window",
                "limit_usd",
                "used_usd",
                "used_percent",
                "state",
                "days_over_limit",
            ],
            [
                (
                    b.tenant,
                    b.period,
                    b.window,
                    b.limit_usd,
                    b.used_usd,
                    b.used_percent,
                    b.state,
                    b.days_over_limit,
                )
                for b in report.budgets
            ],
        ),
    ]
    if reconciliation is not None:
        files.append(write_reconciliation_csv(reconciliation, out_dir))
        files.append(write_estimated_csv(reconciliation.estimated, out_dir))
    if cost_explorer:
        files.append(write_cost_explorer_csv(cost_explorer, out_dir))
    return files


def write_cost_explorer_csv(rows: Iterable[Any], out_dir: Path) -> Path:
    return write_csv(
        out_dir / "cost_explorer_by_tag.csv",
        ["start", "end", "tag_key", "tag_value", "amount", "unit", "estimated"],
        [
            (
                r.start.isoformat(),
                r.end.isoformat(),
                r.tag_key,
                r.tag_value,
                r.amount,
                r.unit,
                str(r.estimated).lower(),
            )
            for r in rows
        ],
    )


def write_estimated_csv(buckets: Iterable[Any], out_dir: Path) -> Path:
    """Worst-case charges per CUR bucket with what CUR billed for them (amounts in nano-dollars)."""
    return write_csv(
        out_dir / "estimated_charges.csv",
        [
            "tenant",
            "hour_utc",
            "principal",
            "model_id",
            "calls",
            "request_ids",
            "estimated_nanos",
            "actual_nanos_same_bucket",
            "cur_billed_nanos",
            "billed_for_estimated_nanos",
            "overcharge_nanos",
        ],
        [
            (
                bucket.tenant,
                bucket.hour,
                bucket.principal,
                bucket.model_id,
                len(bucket.calls),
                " ".join(call.request_id for call in bucket.calls),
                bucket.estimated_nanos,
                bucket.actual_nanos,
                "" if bucket.cur_nanos is None else bucket.cur_nanos,
                "" if bucket.billed_for_estimated_nanos is None else bucket.billed_for_estimated_nanos,
                bucket.overcharge_nanos,
            )
            for bucket in buckets
        ],
    )


def write_reconciliation_csv(reconciliation: Reconciliation, out_dir: Path) -> Path:
    return write_csv(
        out_dir / "reconciliation.csv",
        [
            "level",
            "tenant",
            "user",
            "ledger_usd",
            "cur_usd",
            "difference_usd",
            "difference_percent",
            "ledger_calls",
            "flagged",
        ],
        [
            (
                line.level,
                line.tenant,
                line.user,
                line.ledger_usd,
                line.cur_usd,
                line.difference_usd,
                line.difference_percent,
                line.ledger_calls,
                "yes" if line.flagged else "no",
            )
            for line in reconciliation.lines
        ],
    )


def _model_mix(report: ChargebackReport) -> list[dict[str, Any]]:
    totals: dict[str, list[Any]] = defaultdict(lambda: [0, 0, ZERO])
    token_columns = {"input": 0, "output": 1}
    for spend in report.models:
        entry = totals[spend.model]
        if spend.token_direction in token_columns:
            entry[token_columns[spend.token_direction]] += spend.tokens
        entry[2] += spend.cost_usd
    rows = [
        {"model": m, "input_tokens": i, "output_tokens": o, "cost_usd": c} for m, (i, o, c) in totals.items()
    ]
    return sorted(rows, key=lambda row: (-row["cost_usd"], row["model"]))


def render_html(
    report: ChargebackReport,
    reconciliation: Reconciliation | None = None,
    cost_explorer: Sequence[CostExplorerRow] = (),
    title: str = "Amazon Bedrock chargeback",
    sagemaker: Sequence[EndpointAllocation] = (),
) -> str:
    places = display_places(report.total_usd)
    series: dict[str, list[tuple[Any, Decimal]]] = defaultdict(list)
    tenant_order = [t.tenant for t in report.tenants]
    for spend in report.daily:
        series[spend.tenant].append((spend.day, spend.cost_usd))
    ordered_series = {tenant: series[tenant] for tenant in tenant_order if tenant in series}
    model_mix = _model_mix(report)
    bedrock_bill = next((s.cost_usd for s in report.services if s.product_code == "AmazonBedrock"), None)
    whole_bill = sum((s.cost_usd for s in report.services), ZERO)
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["usd"] = lambda amount: format_usd(amount, places)
    environment.filters["exact"] = plain
    environment.filters["count"] = lambda number: f"{number:,}"
    environment.filters["pct"] = lambda value: "–" if value is None else f"{value}%"
    # Nano-dollar amounts (estimated charges) shown to the nano-dollar: they are small and exact.
    environment.filters["nanos"] = lambda nanos: (
        "not billed yet" if nanos is None else format_usd(nanos_to_usd(nanos), 9)
    )
    template = environment.get_template("chargeback.html.j2")
    return template.render(
        title=title,
        report=report,
        places=places,
        total=report.total_usd,
        share=lambda amount: percent(amount, report.total_usd),
        over_budget=[b for b in report.budgets if b.state == "over"],
        bedrock_share=percent(bedrock_bill, whole_bill) if bedrock_bill is not None else None,
        whole_bill=whole_bill,
        model_mix=model_mix,
        top_principals=report.principals[:TOP_PRINCIPALS_TABLE],
        reconciliation=reconciliation,
        cost_explorer=list(cost_explorer),
        sagemaker=list(sagemaker),
        chart_daily=charts.line_chart(ordered_series, places),
        chart_principals=charts.bar_chart(
            [(f"{p.tenant} · {p.user}", p.cost_usd) for p in report.principals[:TOP_PRINCIPALS_CHART]],
            places,
            title="Top principals",
        ),
        chart_models=charts.donut(
            [(row["model"], row["cost_usd"]) for row in model_mix[:8]]
            + (
                [("other", sum((row["cost_usd"] for row in model_mix[8:]), ZERO))]
                if len(model_mix) > 8
                else []
            ),
            places,
            title="Model mix",
        ),
        chart_budgets=charts.budget_bars(
            [
                (b.tenant + (" (daily)" if b.period == "DAILY" else ""), b.used_usd, b.limit_usd, b.state)
                for b in report.budgets
            ],
            places,
        ),
    )


def write_report(
    report: ChargebackReport,
    out_dir: Path,
    reconciliation: Reconciliation | None = None,
    cost_explorer: Sequence[CostExplorerRow] = (),
    sagemaker: Sequence[EndpointAllocation] = (),
) -> Path:
    """CSV files and chargeback.html into `out_dir`; returns the HTML path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csvs(report, out_dir, reconciliation, cost_explorer)
    if sagemaker:
        write_allocation_csv(sagemaker, out_dir / "sagemaker_allocation.csv")
    html_path = out_dir / HTML_NAME
    html_path.write_text(
        render_html(report, reconciliation, cost_explorer, sagemaker=sagemaker), encoding="utf-8"
    )
    return html_path
