from datetime import UTC, datetime

import pytest

from cost_sentry.core.periods import (
    hold_key,
    ledger_partition,
    minute_key,
    period_end,
    period_key,
    previous_period_key,
    seconds_to_next_minute,
    seconds_to_period_end,
    shard_index,
    shard_key,
    shard_partition,
    user_key,
    user_partition,
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


def test_the_ledgers_sort_keys():
    assert shard_key("PERIOD#2026-11", 3) == "PERIOD#2026-11#S3"
    assert shard_index("PERIOD#2026-11", "PERIOD#2026-11#S12") == 12
    assert shard_index("PERIOD#2026-11", "PERIOD#2026-11") is None  # the head
    assert shard_index("PERIOD#2026-11", "PERIOD#2026-11-22#S1") is None  # another period
    assert hold_key("PERIOD#2026-11-22", "r-1") == "HOLD#2026-11-22#r-1"
    assert user_key("PERIOD#2026-11", "alice") == "USER#2026-11#alice"


def test_each_shard_and_each_user_has_its_own_partition():
    assert ledger_partition("acme", "PERIOD#2026-11") == "acme"  # the head
    assert ledger_partition("acme", "PERIOD#2026-11-22") == "acme"
    assert ledger_partition("acme", "PERIOD#2026-11#S3") == shard_partition("acme", 3) == "acme#S3"
    assert ledger_partition("acme", "PERIOD#2026-11-22#S12") == "acme#S12"
    assert (
        ledger_partition("acme", "USER#2026-11#al#ice") == user_partition("acme", "al#ice") == "acme#U#al#ice"
    )
    assert ledger_partition("acme", "CREDIT#r-1") == "acme"
    with pytest.raises(ValueError, match="shard_partition"):
        ledger_partition("acme", "HOLD#2026-11#r-1")


def test_the_previous_period():
    assert previous_period_key("MONTHLY", ts(2026, 11, 22, 14, 35, 0)) == "PERIOD#2026-10"
    assert previous_period_key("MONTHLY", ts(2026, 1, 1, 0, 0, 0)) == "PERIOD#2025-12"
    assert previous_period_key("DAILY", ts(2026, 11, 1, 0, 0, 1)) == "PERIOD#2026-10-31"
