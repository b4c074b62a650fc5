from decimal import Decimal

import pytest

from cost_sentry.core.money import (
    nanos_to_usd,
    parse_decimal,
    price_per_million_to_nanos_per_token,
    usd_to_nanos_floor,
)


def test_prices_per_million_become_whole_nanos_per_token():
    assert price_per_million_to_nanos_per_token(Decimal("0.035"), "p") == 35
    assert price_per_million_to_nanos_per_token(Decimal("1.25"), "p") == 1250
    assert price_per_million_to_nanos_per_token(Decimal("15.00"), "p") == 15000


def test_a_price_finer_than_a_nano_per_token_is_refused():
    with pytest.raises(ValueError, match="whole nano-dollars"):
        price_per_million_to_nanos_per_token(Decimal("0.0355"), "p")


def test_limits_round_down_never_up():
    assert usd_to_nanos_floor(Decimal("0.50")) == 500_000_000
    assert usd_to_nanos_floor(Decimal("0.0000000019")) == 1


@pytest.mark.parametrize(
    ("nanos", "text"),
    [
        (0, "0.00"),
        (500_000_000, "0.50"),
        (123_000, "0.000123"),
        (1, "0.000000001"),
        (12_340_000_000, "12.34"),
    ],
)
def test_usd_strings_are_exact(nanos, text):
    assert nanos_to_usd(nanos) == text


@pytest.mark.parametrize("value", [0.5, True, None, "abc", "NaN", "Infinity", [1]])
def test_parse_decimal_refuses_floats_and_junk(value):
    with pytest.raises(ValueError):
        parse_decimal(value, "x")


def test_parse_decimal_takes_strings_and_ints():
    assert parse_decimal(" 0.25 ", "x") == Decimal("0.25")
    assert parse_decimal(3, "x") == Decimal(3)
