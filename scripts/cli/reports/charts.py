"""Inline SVG charts for the HTML report: no scripts, no external resources, readable when printed.

Amounts stay Decimal until they become pixel coordinates; only geometry is float.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal

from markupsafe import Markup, escape

from scripts.cli.reports.money import format_usd

PALETTE = ("#2563eb", "#f97316", "#10b981", "#a855f7", "#ef4444", "#0ea5e9", "#eab308", "#64748b", "#ec4899")
FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif\""
STATE_COLOURS = {"ok": "#10b981", "warning": "#f59e0b", "over": "#ef4444"}


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def nice_ceiling(value: Decimal) -> tuple[Decimal, Decimal]:
    """An axis maximum >= value and its tick step, both from the 1-2-5 series."""
    if value <= 0:
        return Decimal(1), Decimal("0.25")
    exponent = math.floor(math.log10(float(value) / 4))
    for multiplier in (1, 2, 5, 10):
        step = Decimal(multiplier).scaleb(exponent)
        ticks = math.ceil(value / step)
        if ticks <= 5:
            return step * ticks, step
    step = Decimal(10).scaleb(exponent + 1)
    return step * math.ceil(value / step), step


def _svg(width: int, height: int, body: list[str], title: str) -> Markup:
    return Markup(  # noqa: S704 - every text interpolated into `body` is escaped where it is built
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{escape(title)}" {FONT} font-size="12">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def line_chart(
    series: Mapping[str, Sequence[tuple[date, Decimal]]], places: int, width: int = 760, height: int = 300
) -> Markup:
    """Daily spend per tenant: one line per tenant over a shared date axis."""
    days = sorted({day for points in series.values() for day, _ in points})
    if len(days) == 1:
        # one day is not a trend: show that day's spend per tenant instead of isolated dots
        totals = [(name, sum((cost for _, cost in points), Decimal(0))) for name, points in series.items()]
        return bar_chart(totals, places, width, title=f"Spend per tenant on {days[0].isoformat()}")
    if not days:
        return _svg(
            width,
            60,
            ['<text x="10" y="30" fill="#64748b">No Bedrock spend in this period.</text>'],
            "Spend per tenant over time",
        )
    left, right, top, bottom = 70, 150, 16, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((cost for points in series.values() for _, cost in points), default=Decimal(0))
    axis_max, step = nice_ceiling(peak)
    body: list[str] = []
    tick = Decimal(0)
    while tick <= axis_max:
        y = top + plot_h - float(tick / axis_max) * plot_h
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e2e8f0"/>')
        body.append(
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" fill="#64748b">'
            f"{escape(format_usd(tick, places if step < 1 else 0))}</text>"
        )
        tick += step
    span = max(len(days) - 1, 1)
    index = {day: number for number, day in enumerate(days)}

    def x_of(day: date) -> float:
        return left + (index[day] / span) * plot_w if len(days) > 1 else left + plot_w / 2

    label_every = max(1, math.ceil(len(days) / 8))
    for number, day in enumerate(days):
        last = number == len(days) - 1
        crowds_last = not last and (len(days) - 1 - number) < label_every * 0.6
        if last or (number % label_every == 0 and not crowds_last):
            body.append(
                f'<text x="{x_of(day):.1f}" y="{height - 12}" text-anchor="middle" fill="#64748b">'
                f"{day.strftime('%b %d')}</text>"
            )
    for number, (name, points) in enumerate(series.items()):
        by_day = dict(points)
        coords = [
            (x_of(day), top + plot_h - float(by_day.get(day, Decimal(0)) / axis_max) * plot_h) for day in days
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        body.append(
            f'<polyline points="{path}" fill="none" stroke="{colour(number)}" stroke-width="2.2" '
            f'stroke-linejoin="round" stroke-linecap="round"/>'
        )
        if len(days) <= 31:
            body.extend(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.6" fill="{colour(number)}"/>' for x, y in coords
            )
        legend_y = top + 8 + number * 20
        body.append(
            f'<rect x="{left + plot_w + 18}" y="{legend_y - 9}" width="12" height="12" rx="2" '
            f'fill="{colour(number)}"/>'
        )
        body.append(f'<text x="{left + plot_w + 36}" y="{legend_y + 1}" fill="#0f172a">{escape(name)}</text>')
    body.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#94a3b8"/>'
    )
    return _svg(width, height, body, "Spend per tenant over time")


def bar_chart(items: Sequence[tuple[str, Decimal]], places: int, width: int = 760, title: str = "") -> Markup:
    """Horizontal bars, largest first (top principals)."""
    if not items:
        return _svg(width, 60, ['<text x="10" y="30" fill="#64748b">Nothing to show.</text>'], title)
    label_w, value_w, row_h = 300, 110, 26
    height = row_h * len(items) + 10
    peak = max(cost for _, cost in items) or Decimal(1)
    body: list[str] = []
    for number, (label, cost) in enumerate(items):
        y = 5 + number * row_h
        bar_w = max(float(cost / peak) * (width - label_w - value_w), 1.0) if cost > 0 else 0.0
        shown = label if len(label) <= 46 else "…" + label[-45:]
        body.append(
            f'<text x="{label_w - 10}" y="{y + 17}" text-anchor="end" fill="#0f172a">'
            f"<title>{escape(label)}</title>{escape(shown)}</text>"
        )
        body.append(
            f'<rect x="{label_w}" y="{y + 4}" width="{bar_w:.1f}" height="{row_h - 8}" rx="3" '
            f'fill="{colour(0)}" fill-opacity="{1 - number * 0.05:.2f}"/>'
        )
        body.append(
            f'<text x="{label_w + bar_w + 8:.1f}" y="{y + 17}" fill="#334155">'
            f"{escape(format_usd(cost, places))}</text>"
        )
    return _svg(width, height, body, title)


def donut(items: Sequence[tuple[str, Decimal]], places: int, width: int = 760, title: str = "") -> Markup:
    """Shares of a whole (model mix) as a donut with a legend."""
    total = sum((cost for _, cost in items), Decimal(0))
    if total <= 0:
        return _svg(width, 60, ['<text x="10" y="30" fill="#64748b">Nothing to show.</text>'], title)
    size = 220
    cx = cy = size / 2
    outer, inner = 100.0, 62.0
    height = max(size, 24 * len(items) + 20)
    body: list[str] = []
    angle = -math.pi / 2
    for number, (_label, cost) in enumerate(items):
        share = float(cost / total)
        if share >= 0.999999:
            body.append(
                f'<circle cx="{cx}" cy="{cy}" r="{(outer + inner) / 2}" fill="none" '
                f'stroke="{colour(number)}" stroke-width="{outer - inner}"/>'
            )
            break
        end = angle + share * 2 * math.pi
        large = 1 if share > 0.5 else 0
        points = [
            (cx + outer * math.cos(angle), cy + outer * math.sin(angle)),
            (cx + outer * math.cos(end), cy + outer * math.sin(end)),
            (cx + inner * math.cos(end), cy + inner * math.sin(end)),
            (cx + inner * math.cos(angle), cy + inner * math.sin(angle)),
        ]
        (x1, y1), (x2, y2), (x3, y3), (x4, y4) = points
        body.append(
            f'<path d="M{x1:.2f},{y1:.2f} A{outer},{outer} 0 {large} 1 {x2:.2f},{y2:.2f} '
            f'L{x3:.2f},{y3:.2f} A{inner},{inner} 0 {large} 0 {x4:.2f},{y4:.2f} Z" fill="{colour(number)}" '
            f'stroke="#fff" stroke-width="1.5"/>'
        )
        angle = end
    body.append(
        f'<text x="{cx}" y="{cy - 2}" text-anchor="middle" font-size="15" font-weight="600" '
        f'fill="#0f172a">{escape(format_usd(total, places))}</text>'
    )
    body.append(f'<text x="{cx}" y="{cy + 16}" text-anchor="middle" fill="#64748b">Bedrock total</text>')
    for number, (label, cost) in enumerate(items):
        y = 20 + number * 24
        share = (cost * 100 / total).quantize(Decimal("0.1"))
        body.append(
            f'<rect x="{size + 40}" y="{y - 10}" width="12" height="12" rx="2" fill="{colour(number)}"/>'
        )
        body.append(f'<text x="{size + 60}" y="{y}" fill="#0f172a">{escape(label)}</text>')
        body.append(
            f'<text x="{width - 10}" y="{y}" text-anchor="end" fill="#334155">'
            f"{escape(format_usd(cost, places))} · {share}%</text>"
        )
    return _svg(width, height, body, title)


def budget_bars(rows: Sequence[tuple[str, Decimal, Decimal, str]], places: int, width: int = 760) -> Markup:
    """Used vs limit per tenant: a track scaled to 100% (or more when over), a marker at the limit."""
    title = "Budget used vs limit"
    if not rows:
        return _svg(width, 60, ['<text x="10" y="30" fill="#64748b">No budgets configured.</text>'], title)
    label_w, value_w, row_h = 140, 230, 34
    track_w = width - label_w - value_w
    height = row_h * len(rows) + 10
    scale = max(
        [Decimal(100)] + [min(used * 100 / limit, Decimal(300)) for _, used, limit, _ in rows if limit > 0]
    )
    body: list[str] = []
    for number, (tenant, used, limit, state) in enumerate(rows):
        y = 5 + number * row_h
        used_percent = used * 100 / limit if limit > 0 else Decimal(0)
        bar = float(min(used_percent, scale) / scale) * track_w
        marker = label_w + float(Decimal(100) / scale) * track_w
        body.append(
            f'<text x="{label_w - 10}" y="{y + 20}" text-anchor="end" fill="#0f172a">{escape(tenant)}</text>'
        )
        body.append(f'<rect x="{label_w}" y="{y + 8}" width="{track_w}" height="16" rx="8" fill="#e2e8f0"/>')
        body.append(
            f'<rect x="{label_w}" y="{y + 8}" width="{bar:.1f}" height="16" rx="8" '
            f'fill="{STATE_COLOURS.get(state, colour(0))}"/>'
        )
        body.append(
            f'<line x1="{marker:.1f}" y1="{y + 3}" x2="{marker:.1f}" y2="{y + 29}" stroke="#0f172a" '
            f'stroke-width="2"/>'
        )
        shown_percent = used_percent.quantize(Decimal("0.1"))
        text = f"{format_usd(used, places)} of {format_usd(limit, places)} ({shown_percent}%)"
        body.append(f'<text x="{label_w + track_w + 10}" y="{y + 20}" fill="#334155">{escape(text)}</text>')
    return _svg(width, height, body, title)
