"""Reconciliation: what the gateway ledger says each tenant and user spent vs what AWS billed (CUR 2.0).

The ledger prices calls with the model catalog at request time; CUR is the bill. They should agree to
within rounding; a difference above both tolerances is flagged (a wrong catalog price, calls that
bypassed the gateway, lost call records, or CUR's usual day of delay at the edge of the period).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from scripts.cli.reports.chargeback import PrincipalSpend
from scripts.cli.reports.money import ZERO, nanos_to_usd, percent


@dataclass(frozen=True)
class Tolerance:
    absolute_usd: Decimal = Decimal("0.001")
    relative_percent: Decimal = Decimal("1")

    def __post_init__(self) -> None:
        if self.absolute_usd < 0 or self.relative_percent < 0:
            raise ValueError("tolerances must not be negative")


@dataclass(frozen=True)
class ReconciliationLine:
    level: str  # "tenant" | "principal"
    tenant: str
    user: str
    ledger_usd: Decimal
    cur_usd: Decimal
    ledger_calls: int
    tolerance: Tolerance

    @property
    def difference_usd(self) -> Decimal:
        return self.cur_usd - self.ledger_usd

    @property
    def difference_percent(self) -> Decimal | None:
        return percent(self.difference_usd, self.ledger_usd)

    @property
    def flagged(self) -> bool:
        """Outside both tolerances: small absolute noise and small relative noise are both accepted."""
        if abs(self.difference_usd) <= self.tolerance.absolute_usd:
            return False
        relative = self.difference_percent
        return relative is None or abs(relative) > self.tolerance.relative_percent


@dataclass(frozen=True)
class Reconciliation:
    period: str
    tolerance: Tolerance
    lines: list[ReconciliationLine]

    @property
    def tenant_lines(self) -> list[ReconciliationLine]:
        return [line for line in self.lines if line.level == "tenant"]

    @property
    def principal_lines(self) -> list[ReconciliationLine]:
        return [line for line in self.lines if line.level == "principal"]

    @property
    def flagged(self) -> list[ReconciliationLine]:
        return [line for line in self.lines if line.flagged]


# The gateway's role session name for calls that name no end user (lambda_src/cost_sentry/adapters/sessions.py).
APP_SESSION_SUFFIX = "-app"


def user_of_call(call: Mapping[str, Any]) -> str:
    """The user a call record is billed to in CUR: its end user, else the tenant's application session.

    The record's `principal` is the caller's API key id, not an IAM principal, so it is used only when
    it is an assumed-role ARN.
    """
    user = str(call.get("user") or "")
    if user:
        return user
    principal = str(call.get("principal") or "")
    if principal.startswith("arn:") and ":assumed-role/" in principal:
        return principal.rsplit("/", 1)[-1]
    return f"{call['pk']}{APP_SESSION_SUFFIX}"


def ledger_totals(calls: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], tuple[Decimal, int]]:
    """(tenant, user) -> (USD spent per the ledger, number of calls)."""
    from scripts.cli.reports.sagemaker import is_sagemaker_call

    totals: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, 0])
    for call in calls:
        if is_sagemaker_call(call):
            continue  # billed per instance-hour, not per token: the sagemaker report splits it
        key = (str(call["pk"]), user_of_call(call))
        totals[key][0] += int(call.get("cost_nanos", 0))
        totals[key][1] += 1
    return {key: (nanos_to_usd(nanos), count) for key, (nanos, count) in totals.items()}


def cur_totals(principals: Sequence[PrincipalSpend]) -> dict[tuple[str, str], Decimal]:
    totals: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for spend in principals:
        totals[(spend.tenant, spend.user)] += spend.cost_usd
    return dict(totals)


def reconcile(
    ledger: Mapping[tuple[str, str], tuple[Decimal, int]],
    cur: Mapping[tuple[str, str], Decimal],
    period: str,
    tolerance: Tolerance = Tolerance(),
) -> Reconciliation:
    """Tenant lines and principal lines over the union of both sides (missing on one side = zero)."""
    lines: list[ReconciliationLine] = []
    tenant_ledger: dict[str, list[Any]] = defaultdict(lambda: [ZERO, 0])
    tenant_cur: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for key in sorted(set(ledger) | set(cur)):
        tenant, user = key
        ledger_usd, calls = ledger.get(key, (ZERO, 0))
        cur_usd = cur.get(key, ZERO)
        tenant_ledger[tenant][0] += ledger_usd
        tenant_ledger[tenant][1] += calls
        tenant_cur[tenant] += cur_usd
        lines.append(ReconciliationLine("principal", tenant, user, ledger_usd, cur_usd, calls, tolerance))
    for tenant in sorted(set(tenant_ledger) | set(tenant_cur)):
        ledger_usd, calls = tenant_ledger.get(tenant, (ZERO, 0))
        lines.append(
            ReconciliationLine(
                "tenant", tenant, "", ledger_usd, tenant_cur.get(tenant, ZERO), calls, tolerance
            )
        )
    lines.sort(key=lambda line: (line.level != "tenant", not line.flagged, line.tenant, line.user))
    return Reconciliation(period=period, tolerance=tolerance, lines=lines)
