"""The HTML report in a real headless Chromium: a non-blank screenshot of the right size, right figures."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from scripts.cli.reports.chargeback import build_chargeback
from scripts.cli.reports.cost_explorer import CostExplorerRow
from scripts.cli.reports.engines import DuckDBEngine
from scripts.cli.reports.reconcile import Tolerance, reconcile
from scripts.cli.reports.render import write_report
from scripts.cli.reports.tenants import TenantDirectory

WIDTH, HEIGHT = 1280, 2200
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def chromium() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail(
            "headless Chromium is not installed: run `make install` (bash scripts/devtools/install.sh)"
        )
    return binary


def run_chromium(profile: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def png_pixels(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the decompressed scanlines of a PNG (no imaging library needed)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    offset, width, height, compressed = 8, 0, 0, b""
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            compressed += body
        offset += 12 + length
    return width, height, zlib.decompress(compressed)


@pytest.fixture
def report_html(tiny_cur: Path, workload_tenants: TenantDirectory, tmp_path: Path) -> Path:
    report = build_chargeback(DuckDBEngine(tiny_cur), workload_tenants, ["2026-11"], source="tiny fixture")
    ledger = {("sales", "alice"): (Decimal("0.50"), 3), ("services", "carol"): (Decimal("1.50"), 2)}
    cur = {("sales", "alice"): Decimal("0.50"), ("services", "carol"): Decimal("1.60")}
    reconciliation = reconcile(ledger, cur, "2026-11", Tolerance())
    explorer = [
        CostExplorerRow(
            date(2026, 11, 1), date(2026, 12, 1), "costCenter", "sales", Decimal("0.64"), "USD", False
        )
    ]
    return write_report(report, tmp_path / "out", reconciliation=reconciliation, cost_explorer=explorer)


@pytest.mark.browser
def test_the_report_renders_as_a_non_blank_page_of_the_requested_size(
    report_html: Path, tmp_path: Path
) -> None:
    screenshot = tmp_path / "report.png"

    run_chromium(
        tmp_path / "profile-shot",
        f"--window-size={WIDTH},{HEIGHT}",
        f"--screenshot={screenshot}",
        report_html.as_uri(),
    )

    width, height, pixels = png_pixels(screenshot)
    assert (width, height) == (WIDTH, HEIGHT)
    # a blank page decompresses to a handful of byte values; charts, text and colours give many
    assert len(set(pixels)) > 100
    row_bytes = len(pixels) // height
    header_row = pixels[40 * row_bytes : 41 * row_bytes]  # the dark header band, not white
    assert header_row.count(0xFF) < len(header_row) // 2


@pytest.mark.browser
def test_the_rendered_dom_carries_the_tenants_and_totals(report_html: Path, tmp_path: Path) -> None:
    dom = run_chromium(tmp_path / "profile-dom", "--dump-dom", report_html.as_uri()).stdout

    assert '<div class="value" id="total-spend">$2.6350</div>' in dom
    for tenant, amount in (("sales", "$0.6400"), ("services", "$1.6000"), ("support", "$0.3600")):
        assert f"<td>{tenant}</td>" in dom and amount in dom
    assert "<svg" in dom and "Budget used vs limit" in dom and "flagged" in dom
    # self-contained: nothing is fetched from anywhere
    assert "<script" not in dom and "http://" not in dom.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in dom
