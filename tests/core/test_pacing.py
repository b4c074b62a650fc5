"""Budget pacing, the pure part (core/pacing.py): the allowance is the elapsed share of the limit plus a
burst, in integer nano-dollars; the moment a need fits is exact to the millisecond; the tenant document's
pace and enforce flag parse exactly or are refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cost_sentry.core.errors import PACE_RETRY_WITHIN_SECONDS, LimitExceeded, is_final
from cost_sentry.core.pacing import Pace, pace_at
from cost_sentry.core.tenants import ConfigError, tenant_from_document
from tests.service.conftest import tenant_document

USD = 1_000_000_000
NOVEMBER_1 = datetime(2026, 11, 1, tzinfo=UTC).timestamp()  # a 30-day month


def test_the_allowance_is_the_elapsed_share_plus_the_burst() -> None:
    pace = Pace(burst_ppm=100_000)  # 10 %
    limit = 30 * USD

    at_start = pace_at(pace, limit, "MONTHLY", NOVEMBER_1)
    at_noon = pace_at(pace, limit, "MONTHLY", NOVEMBER_1 + 12 * 3600)
    day_ten = pace_at(pace, limit, "MONTHLY", NOVEMBER_1 + 10 * 86_400)

    assert at_start.burst == 3 * USD
    assert at_start.allowance == 3 * USD  # the burst alone
    assert at_noon.allowance == 3 * USD + USD // 2  # half a day's share (USD 1 a day) on top
    assert day_ten.allowance == 13 * USD
    assert at_noon.reserve == limit - at_noon.allowance


def test_the_allowance_never_passes_the_limit() -> None:
    late = pace_at(Pace(burst_ppm=500_000), 30 * USD, "MONTHLY", NOVEMBER_1 + 29 * 86_400)

    assert late.allowance == 30 * USD
    assert late.reserve == 0


def test_a_burst_in_hours_is_that_many_hours_share_of_the_period() -> None:
    day = pace_at(Pace(burst_seconds=3600), 24 * USD, "DAILY", NOVEMBER_1 + 6 * 3600)
    month = pace_at(Pace(burst_seconds=86_400), 30 * USD, "MONTHLY", NOVEMBER_1)

    assert day.burst == USD and day.allowance == 7 * USD  # 6 hours elapsed + 1 hour's share
    assert month.burst == USD  # one day's share of a 30-day month


def test_rounding_never_adds_budget() -> None:
    # USD 1 over a 30-day month: 2,592,000,000 ms; one ms is 0.3858... nanos, rounded down.
    paced = pace_at(Pace(burst_ppm=1), USD + 7, "MONTHLY", NOVEMBER_1 + 0.001)

    assert paced.burst == 1_000  # (1e9 + 7) * 1 // 1e6
    assert paced.allowance == 1_000  # the 1 ms share (0.38 nanos) rounds to 0


def test_the_moment_a_need_fits_is_exact_on_both_sides() -> None:
    paced = pace_at(Pace(burst_ppm=100_000), 30 * USD, "MONTHLY", NOVEMBER_1 + 3600)
    needed = 4 * USD  # the burst (3) plus one day's share (1)

    fits = paced.fits_at_ms(needed)

    assert datetime.fromtimestamp(fits / 1000, UTC) == datetime(2026, 11, 2, tzinfo=UTC)
    assert paced.allowance_at(fits) >= needed
    assert paced.allowance_at(fits - 1) < needed
    assert paced.wait_seconds(needed) == 23 * 3600
    assert paced.fits_at_ms(paced.allowance) == paced.now_ms and paced.wait_seconds(paced.allowance) == 0
    assert paced.fits_at_ms(31 * USD) == paced.end_ms  # more than the limit: only the budget answers


def test_a_pace_denial_is_retryable_when_near_and_final_when_far() -> None:
    near = LimitExceeded("pace_exceeded", "paced", retry_after_seconds=PACE_RETRY_WITHIN_SECONDS, now=0)
    far = LimitExceeded("pace_exceeded", "paced", retry_after_seconds=PACE_RETRY_WITHIN_SECONDS + 1, now=0)

    assert not near.final and not is_final(near) and near.headers == {"Retry-After": "60"}
    assert far.final and is_final(far)
    assert far.headers["x-should-retry"] == "false" and "Retry-After" not in far.headers
    assert far.details == {"resetsAt": "1970-01-01T00:01:01Z", "resetInSeconds": 61}


def test_the_document_pace_and_enforce_parse_exactly() -> None:
    document = tenant_document(
        budget={"limitUsd": "30", "period": "MONTHLY", "pace": {"burstPercent": "2.5", "burstHours": "0"}},
        users={"defaultLimitUsd": "1", "pace": {"burstPercent": "0", "burstHours": "1.5"}},
        enforce=False,
    )

    tenant = tenant_from_document(document)

    assert tenant.pace == Pace(burst_ppm=25_000, burst_seconds=0)
    assert tenant.user_pace == Pace(burst_ppm=0, burst_seconds=5400)
    assert tenant.enforce is False
    plain = tenant_from_document(tenant_document())
    assert plain.pace is None and plain.user_pace is None and plain.enforce is True


@pytest.mark.parametrize(
    ("pace", "enforce", "says"),
    [
        ({"burstPercent": "0", "burstHours": "0"}, True, "needs a burst"),
        ({"burstPercent": "101"}, True, "burstPercent must be 0..100"),
        ({"burstPercent": "0.00001"}, True, "at most 4 decimals"),
        ({"burstHours": "-1"}, True, "burstHours"),
        ({"burstPercent": 0.5}, True, "decimal string"),
        ({"burstPercent": "10"}, "no", "enforce must be true or false"),
    ],
)
def test_a_bad_pace_or_enforce_is_refused(pace: dict[str, object], enforce: object, says: str) -> None:
    document = tenant_document(budget={"limitUsd": "1", "pace": pace}, enforce=enforce)

    with pytest.raises(ConfigError, match=says):
        tenant_from_document(document)
