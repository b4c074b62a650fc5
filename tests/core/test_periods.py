from datetime import UTC, datetime

from cost_sentry.core.periods import (
    Hold,
    minute_key,
    period_end,
    period_key,
    retry_after_for_shortfall,
    seconds_to_next_minute,
    seconds_to_period_end,
)


def ts(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def test_period_keys_at_month_and_day_boundaries():
    last_second_of_november = ts(2026, 11, 30, 23, 59, 59)
    first_second_of_december = ts(2026, 12, 1, 0, 0, 0)
    assert period_key("MONTHLY", last_second_of_november) == "PERIOD#2026-11"
    assert period_key("MONTHLY", first_second_of_december) == "PERIOD#2026-12"
    assert period_key("DAILY", last_second_of_november) == "PERIOD#2026-11-30"
    assert period_key("DAILY", first_second_of_december) == "PERIOD#2026-12-01"


def test_period_end_rolls_over_the_year():
    assert period_end("MONTHLY", ts(2026, 12, 31, 12)) == datetime(2027, 1, 1, tzinfo=UTC)
    assert period_end("DAILY", ts(2026, 12, 31, 12)) == datetime(2027, 1, 1, tzinfo=UTC)
    assert period_end("MONTHLY", ts(2028, 2, 29, 1)) == datetime(2028, 3, 1, tzinfo=UTC)


def test_minute_key():
    assert minute_key(ts(2026, 11, 22, 14, 35, 59)) == "rpm_202611221435"


def test_seconds_to_next_minute():
    assert seconds_to_next_minute(ts(2026, 11, 22, 14, 35, 0)) == 60
    assert seconds_to_next_minute(ts(2026, 11, 22, 14, 35, 59) + 0.5) == 1
    assert seconds_to_next_minute(ts(2026, 11, 22, 14, 35, 15)) == 45


def test_seconds_to_period_end():
    assert seconds_to_period_end("DAILY", ts(2026, 11, 22, 23, 59, 0)) == 60
    assert seconds_to_period_end("MONTHLY", ts(2026, 11, 30, 23, 0, 0)) == 3600


def test_retry_after_waits_for_the_earliest_holds_that_free_enough():
    now = ts(2026, 11, 22, 12)
    holds = [Hold("b", 300, 0, int(now) + 90), Hold("a", 200, 0, int(now) + 30)]
    # 100 available + 200 (expires in 30 s) = 300 < 350; + 300 (expires in 90 s) = 600 >= 350.
    assert (
        retry_after_for_shortfall(
            needed=350, available=100, holds=holds, amount_of="nanos", budget_period="DAILY", now=now
        )
        == 90
    )
    assert (
        retry_after_for_shortfall(
            needed=250, available=100, holds=holds, amount_of="nanos", budget_period="DAILY", now=now
        )
        == 30
    )


def test_retry_after_is_the_period_end_when_holds_cannot_help():
    now = ts(2026, 11, 22, 12)
    holds = [Hold("a", 200, 5, int(now) + 30)]
    assert (
        retry_after_for_shortfall(
            needed=1000, available=100, holds=holds, amount_of="nanos", budget_period="DAILY", now=now
        )
        == 12 * 3600
    )
    assert (
        retry_after_for_shortfall(
            needed=10, available=1, holds=holds, amount_of="tokens", budget_period="DAILY", now=now
        )
        == 12 * 3600
    )
