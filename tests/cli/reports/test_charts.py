"""Inline SVG charts: axis scales, escaping of names, the one-day case."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from scripts.cli.reports import charts

D = Decimal


def test_axis_maximum_and_step_come_from_the_1_2_5_series() -> None:
    assert charts.nice_ceiling(D("0.64")) == (D("0.8"), D("0.2"))
    assert charts.nice_ceiling(D("4704.16")) == (D("5000"), D("1000"))
    assert charts.nice_ceiling(D(0)) == (D(1), D("0.25"))


def test_names_from_the_bill_are_escaped_in_every_chart() -> None:
    hostile = '<script>alert("x")</script>'
    outputs = [
        charts.bar_chart([(hostile, D(1))], 2, title=hostile),
        charts.donut([(hostile, D(1)), ("ok", D(2))], 2, title="mix"),
        charts.budget_bars([(hostile, D(1), D(2), "ok")], 2),
        charts.line_chart({hostile: [(date(2026, 11, 1), D(1)), (date(2026, 11, 2), D(2))]}, 2),
    ]
    for svg in outputs:
        assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_a_single_day_is_shown_as_bars_per_tenant_not_as_dots() -> None:
    svg = charts.line_chart(
        {"sales": [(date(2026, 11, 22), D("0.5"))], "support": [(date(2026, 11, 22), D("0.03"))]}, 4
    )

    assert "Spend per tenant on 2026-11-22" in svg and "<polyline" not in svg
    assert "$0.5000" in svg and "$0.0300" in svg


def test_lines_have_one_point_per_day_of_the_report() -> None:
    days = [date(2026, 11, day) for day in range(1, 11)]
    svg = charts.line_chart({"sales": [(day, D(day.day)) for day in days], "legal": [(days[0], D(3))]}, 2)

    assert svg.count("<polyline") == 2
    # legal spent only on day 1: its line still spans every day, at zero on the others
    legal_points = svg.split("<polyline")[2].split('points="')[1].split('"')[0].split()
    assert len(legal_points) == 10
