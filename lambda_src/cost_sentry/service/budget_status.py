"""``GET /v1/budget``: the tenant's budget for the period as the ledger holds it, its pace, and the user's."""

from __future__ import annotations

from typing import Any

from cost_sentry.core.errors import iso_time
from cost_sentry.core.money import nanos_to_usd
from cost_sentry.core.pacing import Pace, pace_at
from cost_sentry.core.tenants import TenantConfig


def budget_document(
    request_id: str, tenant: TenantConfig, status: Any, user_status: Any, now: float
) -> dict[str, Any]:
    """``status``: the ledger's PeriodStatus (every shard summed); ``user_status``: the calling user's
    (adapters/user_budget.py), or None without a user."""
    body: dict[str, Any] = {
        "requestId": request_id,
        "tenantId": tenant.tenant_id,
        "period": status.period_key.removeprefix("PERIOD#"),
        "periodType": tenant.budget_period,
        "limitUsd": nanos_to_usd(status.limit_nanos),
        "spentUsd": nanos_to_usd(status.spent_nanos),
        "heldUsd": nanos_to_usd(status.held_nanos),
        "remainingUsd": nanos_to_usd(status.available_nanos),
        "requests": status.requests,
        "inputTokens": status.input_tokens,
        "outputTokens": status.output_tokens,
        "tokensRemaining": status.tokens_available,
        "blocked": status.blocked,
        "enforce": tenant.enforce,
    }
    if tenant.pace is not None:
        spent_or_held = status.limit_nanos - status.available_nanos
        body["pace"] = pace_report(tenant.pace, status.limit_nanos, spent_or_held, tenant, now)
    if user_status is not None:
        body["user"] = user_block = _user_budget(user_status)
        if tenant.user_pace is not None and user_status.limit_nanos is not None:
            user_block["pace"] = pace_report(
                tenant.user_pace,
                user_status.limit_nanos,
                user_status.limit_nanos - (user_status.available_nanos or 0),
                tenant,
                now,
            )
    return body


def pace_report(
    pace: Pace, limit: int, spent_or_held: int, tenant: TenantConfig, now: float
) -> dict[str, Any]:
    """A paced budget's figures now: what the pace allows (elapsed share plus burst), what is spent or
    held against it, what is left of it, and when the allowance reaches the whole limit."""
    paced = pace_at(pace, limit, tenant.budget_period, now)
    return {
        "allowanceUsd": nanos_to_usd(paced.allowance),
        "burstUsd": nanos_to_usd(paced.burst),
        "spentOrHeldUsd": nanos_to_usd(spent_or_held),
        "remainingUsd": nanos_to_usd(max(paced.allowance - spent_or_held, 0)),
        "fullAt": iso_time(paced.fits_at_ms(limit) / 1000),
    }


def _user_budget(status: Any) -> dict[str, Any]:
    """The calling user's own figures; null amounts without a per-user budget."""
    if status.limit_nanos is None:
        return {"id": status.user, "limitUsd": None, "spentUsd": None, "heldUsd": None, "remainingUsd": None}
    return {
        "id": status.user,
        "limitUsd": nanos_to_usd(status.limit_nanos),
        "spentUsd": nanos_to_usd(status.spent_nanos),
        "heldUsd": nanos_to_usd(status.held_nanos),
        "remainingUsd": nanos_to_usd(max(status.available_nanos, 0)),
        "requests": status.requests,
    }
