"""Money as integer nano-dollars (1e-9 USD): exact for every per-million-token price in the catalog.

Conversions from decimal strings refuse anything that is not a whole number of nano-dollars instead of
rounding silently, except budget limits, which round down (a limit may only ever get stricter).
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal, InvalidOperation

NANOS_PER_USD = 1_000_000_000
TOKENS_PER_MILLION = 1_000_000


def parse_decimal(value: object, what: str) -> Decimal:
    """A finite Decimal from a JSON number or numeric string; floats are refused (they are inexact)."""
    if isinstance(value, bool | float):
        raise ValueError(f"{what} must be a decimal string or integer, got {value!r}")
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{what} is not a number: {value!r}") from None
    else:
        raise ValueError(f"{what} must be a number, got {type(value).__name__}")
    if not number.is_finite():
        raise ValueError(f"{what} must be finite, got {value!r}")
    return number


def usd_to_nanos_floor(usd: Decimal) -> int:
    """Nano-dollars in ``usd``, rounded down (used for limits, where rounding must never add budget)."""
    return int((usd * NANOS_PER_USD).to_integral_value(rounding=ROUND_FLOOR))


def price_per_million_to_nanos_per_token(usd_per_million: Decimal, what: str) -> int:
    """USD per million tokens -> integer nano-dollars per token; refuses prices that are not exact."""
    nanos = usd_per_million * NANOS_PER_USD / TOKENS_PER_MILLION
    if nanos != nanos.to_integral_value() or nanos < 0:
        raise ValueError(f"{what}: {usd_per_million} USD/million tokens is not whole nano-dollars per token")
    return int(nanos)


def nanos_to_usd(nanos: int) -> str:
    """Exact decimal USD string: trailing zeros dropped, but at least cents ("0.50", "0.000123")."""
    text = format(Decimal(nanos).scaleb(-9), "f")
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0").ljust(2, "0")
    return f"{whole}.{fraction}"
