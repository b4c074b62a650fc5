"""Bursts of concurrent first requests (issue 14, item 4): no request that fits is refused, and nothing
passes the limit, at the start of a period and mid-period, on 1, 8 and 16 shards. The whole grid (150
and 512 requests) is printed by ``make bench`` (scripts/devtools/bench_bursts.py)."""

from __future__ import annotations

import pytest

from scripts.devtools.bench_bursts import EXHAUST_CONCURRENT, run_burst

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ledger_bursts")]


@pytest.mark.parametrize(
    ("kind", "phase", "shards", "concurrent"),
    [
        ("fits", "start", 1, 150),  # 20 of these were refused budget_exhausted before the fix
        ("fits", "start", 16, 150),
        ("fits", "mid", 8, 150),
        ("exhaust", "start", 16, EXHAUST_CONCURRENT),  # exactly the 97 that fit, never 96 nor 98
    ],
)
def test_a_burst_admits_every_request_that_fits_and_nothing_more(
    moto_endpoint: str, kind: str, phase: str, shards: int, concurrent: int
) -> None:
    burst = run_burst(moto_endpoint, kind=kind, phase=phase, shards=shards, concurrent=concurrent)
    assert burst.admitted == min(burst.fits, concurrent), burst
    assert burst.overspend_nanos == 0
    assert set(burst.denials) <= {"budget_exhausted"}
