"""Budget pacing (docs/design.md section 4, "Pacing"): how much of a period's limit may be spent or held
by a given moment. Pure; integer nano-dollars and milliseconds, no floats.

By any moment of the period a paced budget's spend and holds may not exceed the elapsed share of the
limit plus a burst allowance (a share of the limit, a number of hours' share of it, or both). The
ledger enforces it where budget leaves the period's pool (adapters/ledger/budget.py): the pool keeps
``limit - allowance`` back, so the shards, and with them every hold, never hold more than the pace.
"""

from __future__ import annotations

from dataclasses import dataclass

from cost_sentry.core.periods import period_end, period_start

PPM = 1_000_000


@dataclass(frozen=True)
class Pace:
    """A budget's pace: the burst allowance above the elapsed share, as parts per million of the limit
    (``burst_percent = 10`` is 100,000) and as seconds of the period's share (24 hours: 86,400)."""

    burst_ppm: int = 0
    burst_seconds: int = 0


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


@dataclass(frozen=True)
class PaceAt:
    """A pace applied to one limit at one moment of one period."""

    limit: int
    start_ms: int
    end_ms: int
    now_ms: int
    pace: Pace

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms

    @property
    def burst(self) -> int:
        """The burst allowance in nano-dollars (rounded down: rounding never adds budget)."""
        return (
            self.limit * self.pace.burst_ppm // PPM
            + self.limit * self.pace.burst_seconds * 1000 // self.duration_ms
        )

    def allowance_at(self, moment_ms: int) -> int:
        elapsed = min(max(moment_ms - self.start_ms, 0), self.duration_ms)
        return min(self.limit, self.limit * elapsed // self.duration_ms + self.burst)

    @property
    def allowance(self) -> int:
        """What may be spent or held by now: the elapsed share plus the burst, at most the limit."""
        return self.allowance_at(self.now_ms)

    @property
    def reserve(self) -> int:
        """What the period's pool must still hold back now: ``limit - allowance``."""
        return self.limit - self.allowance

    def fits_at_ms(self, needed: int) -> int:
        """The first millisecond at which the allowance reaches ``needed`` (now, if it already does).
        ``needed`` above the limit never fits: the period's end is returned (the budget denies it)."""
        if needed <= self.allowance:
            return self.now_ms
        if needed > self.limit:
            return self.end_ms
        # limit * elapsed // duration >= needed - burst  <=>  elapsed >= ceil((needed - burst) * d / limit)
        rest = needed - self.burst
        return max(self.now_ms, self.start_ms + _ceil_div(rest * self.duration_ms, self.limit))

    def wait_seconds(self, needed: int) -> int:
        """Whole seconds from now until ``needed`` fits (at least 1 when it does not fit now)."""
        wait_ms = self.fits_at_ms(needed) - self.now_ms
        return 0 if wait_ms <= 0 else max(1, _ceil_div(wait_ms, 1000))


def pace_at(pace: Pace, limit: int, budget_period: str, now: float) -> PaceAt:
    """The pace of a ``limit`` at ``now`` (epoch seconds) in its MONTHLY or DAILY period."""
    start = period_start(budget_period, now)
    end = period_end(budget_period, now)
    return PaceAt(
        limit=limit,
        start_ms=int(start.timestamp()) * 1000,
        end_ms=int(end.timestamp()) * 1000,
        now_ms=int(now * 1000),
        pace=pace,
    )


def pool_reserve(pace: Pace | None, limit: int, budget_period: str, now: float) -> int:
    """What a budget's pool must still hold back at ``now``: ``limit - allowance`` for a paced budget,
    0 for one that is not. The refills give out only what the pool holds beyond it, and a lowered
    limit is clawed back from the shards until the pool holds it again (adapters/ledger/maintenance.py)."""
    return 0 if pace is None else pace_at(pace, limit, budget_period, now).reserve
