"""Budget periods (UTC, like AWS Budgets), the ledger's sort keys, and the Retry-After arithmetic of
denials. Pure functions."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta


def _utc(epoch_seconds: float) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, tz=UTC)


def period_key(budget_period: str, epoch_seconds: float) -> str:
    """``PERIOD#2026-11`` (monthly) or ``PERIOD#2026-11-22`` (daily): the ledger's sort key."""
    moment = _utc(epoch_seconds)
    if budget_period == "DAILY":
        return f"PERIOD#{moment:%Y-%m-%d}"
    return f"PERIOD#{moment:%Y-%m}"


def period_label(budget_period: str, epoch_seconds: float) -> str:
    return period_key(budget_period, epoch_seconds).removeprefix("PERIOD#")


def period_end(budget_period: str, epoch_seconds: float) -> datetime:
    """The first instant of the next period."""
    moment = _utc(epoch_seconds)
    if budget_period == "DAILY":
        return datetime(moment.year, moment.month, moment.day, tzinfo=UTC) + timedelta(days=1)
    if moment.month == 12:
        return datetime(moment.year + 1, 1, 1, tzinfo=UTC)
    return datetime(moment.year, moment.month + 1, 1, tzinfo=UTC)


def shard_key(period: str, index: int) -> str:
    """``PERIOD#2026-11#S3``: one shard of the period's budget (the head is ``PERIOD#2026-11`` itself)."""
    return f"{period}#S{index}"


def shard_index(period: str, sort_key: str) -> int | None:
    """The shard number of a sort key of ``period``, or None for the head or another item."""
    prefix = f"{period}#S"
    if not sort_key.startswith(prefix) or not sort_key[len(prefix) :].isdigit():
        return None
    return int(sort_key[len(prefix) :])


def hold_key(period: str, request_id: str) -> str:
    """``HOLD#2026-11#<request id>``: one in-flight reservation."""
    return f"HOLD#{period.removeprefix('PERIOD#')}#{request_id}"


def user_key(period: str, user: str) -> str:
    """``USER#2026-11#<user>``: one end user's budget in the period."""
    return f"USER#{period.removeprefix('PERIOD#')}#{user}"


def minute_key(epoch_seconds: float) -> str:
    """``rpm_202611221435``: the attribute counting requests started in that UTC minute."""
    return f"rpm_{_utc(epoch_seconds):%Y%m%d%H%M}"


def _at_least_one(seconds: float) -> int:
    return max(1, math.ceil(seconds))


def seconds_to_next_minute(epoch_seconds: float) -> int:
    return _at_least_one(60 - (epoch_seconds % 60))


def seconds_to_period_end(budget_period: str, epoch_seconds: float) -> int:
    return _at_least_one(period_end(budget_period, epoch_seconds).timestamp() - epoch_seconds)
