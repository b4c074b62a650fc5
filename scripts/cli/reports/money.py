"""Exact money helpers: Decimal USD, integer nano-dollars (docs/design.md section 4), display formats."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

NANOS_PER_USD = Decimal(1_000_000_000)
ZERO = Decimal(0)


def nanos_to_usd(nanos: int) -> Decimal:
    """Integer nano-dollars to exact USD (a nano-dollar has 9 decimal places, so this never rounds)."""
    return Decimal(int(nanos)) / NANOS_PER_USD


def usd_to_nanos(amount: Decimal) -> int:
    """Exact USD to nano-dollars; refuses amounts finer than a nano-dollar instead of rounding silently."""
    nanos = amount * NANOS_PER_USD
    if nanos != nanos.to_integral_value():
        raise ValueError(f"{amount} USD is not a whole number of nano-dollars")
    return int(nanos)


def plain(amount: Decimal) -> str:
    """The exact value as a plain decimal string (no exponent, no trailing zeros) for CSV files."""
    if amount == 0:
        return "0"
    text = format(amount.normalize(), "f")
    return text


def display_places(total: Decimal) -> int:
    """Cents once the bill is large enough to talk in cents; four places for small (demo) bills."""
    return 2 if abs(total) >= 100 else 4


def format_usd(amount: Decimal, places: int = 2) -> str:
    """`$1,234.56`-style text, rounded half-even to `places` for display only."""
    quantum = Decimal(1).scaleb(-places)
    rounded = amount.quantize(quantum, rounding=ROUND_HALF_EVEN)
    sign = "-" if rounded < 0 else ""
    return f"{sign}${abs(rounded):,.{places}f}"


def console_usd(amount: Decimal) -> str:
    """Money in a console line: cents from a dollar up, four places below (fractions of a cent)."""
    return format_usd(amount, 2 if abs(amount) >= 1 else 4)


def plural(count: int, noun: str) -> str:
    """`1 call`, `2 calls`, `1,024 tokens`."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def percent(part: Decimal, whole: Decimal) -> Decimal | None:
    """`part` as a percentage of `whole` to one decimal place, or None when `whole` is zero."""
    if whole == 0:
        return None
    return (part * 100 / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
