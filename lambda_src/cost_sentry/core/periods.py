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


def period_key_like(key: str, epoch_seconds: float) -> str:
    """The key of the period ``epoch_seconds`` falls in, of the same kind (monthly or daily) as ``key``."""
    return period_key("DAILY" if key.count("-") == 2 else "MONTHLY", epoch_seconds)


def previous_period_key(budget_period: str, epoch_seconds: float) -> str:
    """The key of the period before the one ``epoch_seconds`` falls in."""
    return period_key(budget_period, period_start(budget_period, epoch_seconds).timestamp() - 1)


def period_label(budget_period: str, epoch_seconds: float) -> str:
    return period_key(budget_period, epoch_seconds).removeprefix("PERIOD#")


def period_start(budget_period: str, epoch_seconds: float) -> datetime:
    """The first instant of the period ``epoch_seconds`` falls in."""
    moment = _utc(epoch_seconds)
    return datetime(moment.year, moment.month, moment.day if budget_period == "DAILY" else 1, tzinfo=UTC)


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
    """``HOLD#2026-11#<request id>``: a hold of the layout before holds were keyed like their call records
    (``CALL#<reserved at>#<request id>``, adapters/ledger/items.py); the sweep still charges them."""
    return f"HOLD#{period.removeprefix('PERIOD#')}#{request_id}"


def user_key(period: str, user: str) -> str:
    """``USER#2026-11#<user>``: one end user's budget in the period."""
    return f"USER#{period.removeprefix('PERIOD#')}#{user}"


def shard_partition(tenant_id: str, index: int) -> str:
    """``acme#S3``: the partition key of shard 3 of tenant ``acme``, and of the holds drawn on it and the
    call records charged on it (docs/design.md section 4). Tenant ids never contain ``#``."""
    return f"{tenant_id}#S{index}"


def user_partition(tenant_id: str, user: str) -> str:
    """``acme#U#alice``: the partition key of one end user's budget items."""
    return f"{tenant_id}#U#{user}"


def ledger_partition(tenant_id: str, sort_key: str) -> str:
    """The partition key of a ledger item whose place follows from its sort key: a shard
    (``PERIOD#<p>#S<k>``) is in its shard's partition, a user item (``USER#<p>#<user>``) in its user's,
    the head (``PERIOD#<p>``) and credits in the tenant's own. Holds and call records name their shard
    explicitly (``shard_partition``)."""
    if sort_key.startswith("PERIOD#"):
        _, _, rest = sort_key.partition("#")
        period, _, shard = rest.partition("#S")
        if shard.isdigit() and "#" not in period:
            return shard_partition(tenant_id, int(shard))
        return tenant_id
    if sort_key.startswith("USER#"):
        return user_partition(tenant_id, sort_key.split("#", 2)[2])
    if sort_key.startswith(("HOLD#", "CALL#")):
        raise ValueError(f"{sort_key} lives in its shard's partition: use shard_partition")
    return tenant_id


def minute_key(epoch_seconds: float) -> str:
    """``rpm_202611221435``: the attribute counting requests started in that UTC minute."""
    return f"rpm_{_utc(epoch_seconds):%Y%m%d%H%M}"


def _at_least_one(seconds: float) -> int:
    return max(1, math.ceil(seconds))


def seconds_to_next_minute(epoch_seconds: float) -> int:
    return _at_least_one(60 - (epoch_seconds % 60))


def seconds_to_period_end(budget_period: str, epoch_seconds: float) -> int:
    return _at_least_one(period_end(budget_period, epoch_seconds).timestamp() - epoch_seconds)
