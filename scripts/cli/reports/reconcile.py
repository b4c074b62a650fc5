"""Reconciliation: what the gateway ledger says each tenant and user spent vs what AWS billed (CUR 2.0).

The ledger prices calls with the model catalog at request time; CUR is the bill. They should agree to
within rounding; a difference above both tolerances is flagged (a wrong catalog price, calls that
bypassed the gateway, lost call records, or CUR's usual day of delay at the edge of the period).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    # Buckets of calls charged at the worst case, with what CUR billed for them (estimated_buckets).
    estimated: list[EstimatedBucket] = field(default_factory=list)

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
    """The user a call record is billed to in CUR: the session name of the principal it ran as (a per-user
    session is named after its user; the gateway's own role session after its function), else its end
    user, else the tenant's application session."""
    principal = str(call.get("principal") or "")
    if principal.startswith("arn:") and ":assumed-role/" in principal:
        return principal.rsplit("/", 1)[-1]
    user = str(call.get("user") or "")
    if user:
        return user
    return f"{call['tenant']}{APP_SESSION_SUFFIX}"


def ledger_totals(calls: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], tuple[Decimal, int]]:
    """(tenant, user) -> (USD spent per the ledger, number of calls)."""
    from scripts.cli.reports.sagemaker import is_sagemaker_call

    totals: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, 0])
    for call in calls:
        if is_sagemaker_call(call):
            continue  # billed per instance-hour, not per token: the sagemaker report splits it
        key = (str(call["tenant"]), user_of_call(call))
        # A credited overcharge (credit command) is no longer spend.
        totals[key][0] += int(call.get("cost_nanos", 0)) - int(call.get("credited_nanos", 0))
        totals[key][1] += 1
    return {key: (nanos_to_usd(nanos), count) for key, (nanos, count) in totals.items()}


@dataclass(frozen=True)
class UserSpend:
    """One end user of one tenant, as the ledger's call records show them: the user the gateway proved
    or was told (per-user key, OIDC token, x-cost-sentry-user) and the IAM principal Bedrock billed
    (CUR 2.0's line_item_iam_principal: the user's own STS session with per-user sessions)."""

    tenant: str
    user: str
    principal: str
    calls: int
    cost_usd: Decimal


def spend_by_user(calls: Iterable[Mapping[str, Any]]) -> list[UserSpend]:
    """(tenant, user, principal) -> calls and USD (less credited overcharges), costliest first."""
    totals: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for call in calls:
        key = (str(call["tenant"]), str(call.get("user") or "-"), str(call.get("principal") or "-"))
        totals[key][0] += int(call.get("cost_nanos", 0)) - int(call.get("credited_nanos", 0))
        totals[key][1] += 1
    rows = [
        UserSpend(tenant, user, principal, count, nanos_to_usd(nanos))
        for (tenant, user, principal), (nanos, count) in totals.items()
    ]
    return sorted(rows, key=lambda row: (row.tenant, -row.cost_usd, row.user, row.principal))


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
    estimated: Sequence[EstimatedBucket] = (),
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
    return Reconciliation(period=period, tolerance=tolerance, lines=lines, estimated=list(estimated))


# -- Estimated charges (core/outcomes.py): what CUR billed for them, and the proven overcharge ----------
#
# A call the gateway charged at the worst case (its record has `estimated`) may have been billed less.
# CUR 2.0 has no request ids: its finest grain is the usage hour x IAM principal x resource (the
# application inference profile). A call is billed in some hour between its reservation and its end, not
# necessarily the hour of its record's timestamp (the settle time for the gateway's records, the reserve
# time for the sweep's), and a call near an hour boundary can land in either hour. So each call record
# gives a window of hours it may have been billed in; per principal x profile, calls whose windows share
# an hour are judged together over the union of their hours (a bucket): CUR's cost over all of them, less
# what the ledger charged for the bucket's calls with known usage, is what Bedrock billed for its
# estimated calls. When the estimated charges exceed that, the difference is a proven overcharge (never
# more than the estimated charges themselves); it is credited back once (`python -m scripts.cli.reports
# credit`). A bucket is judged only once CUR holds an hour later than its last possible hour (and its
# first hour is one the CUR query covers), so a bill still being delivered proves nothing.

NANOS_PER_USD = Decimal(1_000_000_000)
ANY_PRINCIPAL = "*"
HOUR_SECONDS = 3_600
# A call record without its window (`reserved_at` and `ended_at`, epoch milliseconds) ran within one hold
# lifetime of its timestamp, before it (the gateway's records are stamped at the settle) or after it (the
# sweep's at the reserve). The widest hold lifetime: Lambda's 900 s maximum duration + the 30 s margin.
MAX_CALL_SECONDS = 930


@dataclass(frozen=True)
class EstimatedCall:
    tenant: str
    request_id: str
    sort_key: str
    period_key: str
    shard: int
    charged_nanos: int
    credited_nanos: int


@dataclass(frozen=True)
class EstimatedBucket:
    """CUR billing buckets (hours x principal x profile) holding at least one estimated call: every hour
    any of its calls may have been billed in."""

    tenant: str
    hour: str  # YYYY-MM-DDTHH, UTC; "first..last" when the calls may have been billed over several hours
    principal: str  # the IAM principal, or ANY_PRINCIPAL when the calls ran as the function's own role
    model_id: str
    calls: tuple[EstimatedCall, ...]
    actual_nanos: int  # what the ledger charged for the bucket's calls with known usage
    cur_nanos: int | None  # what CUR billed over the bucket's hours; None while CUR does not cover them
    hours: tuple[str, ...] = ()

    @property
    def estimated_nanos(self) -> int:
        return sum(call.charged_nanos for call in self.calls)

    @property
    def billed_for_estimated_nanos(self) -> int | None:
        return None if self.cur_nanos is None else max(0, self.cur_nanos - self.actual_nanos)

    @property
    def overcharge_nanos(self) -> int:
        billed = self.billed_for_estimated_nanos
        if billed is None:
            return 0
        return min(self.estimated_nanos, max(0, self.estimated_nanos - billed))

    def credits(self) -> list[tuple[EstimatedCall, int]]:
        """The overcharge spread over the bucket's estimated calls in proportion to their charges (exact
        nanos: the remainder goes to the last call), less what each was already credited."""
        total, estimated = self.overcharge_nanos, self.estimated_nanos
        shares: list[tuple[EstimatedCall, int]] = []
        given = 0
        for index, call in enumerate(self.calls):
            last = index == len(self.calls) - 1
            share = total - given if last else total * call.charged_nanos // estimated if estimated else 0
            given += share
            shares.append((call, max(0, share - call.credited_nanos)))
        return shares


def _hour_text(value: Any) -> str:
    return value.strftime("%Y-%m-%dT%H") if hasattr(value, "strftime") else str(value)[:13].replace(" ", "T")


def _hour_of_epoch(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H")


def _epoch_of_hour(hour: str) -> int:
    return int(datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC).timestamp())


def _usd_to_nanos_ceiling(usd: Decimal) -> int:
    # Rounded up: what CUR billed is never underestimated, so a credit is never more than proven.
    nanos = usd * NANOS_PER_USD
    whole = int(nanos)
    return whole + (1 if nanos > whole else 0)


def _principal_of(call: Mapping[str, Any]) -> str:
    principal = str(call.get("principal") or "")
    return principal if principal.startswith("arn:") else ANY_PRINCIPAL


def call_window(call: Mapping[str, Any], max_call_seconds: int = MAX_CALL_SECONDS) -> tuple[float, float]:
    """The epoch seconds between which Bedrock may have billed the call: from its reservation to its end
    (the settle, or the hold's expiry for a call the sweep charged), as the call record gives them; else
    the record's timestamp widened by the longest a call can run, on both sides."""
    if call.get("reserved_at") is not None and call.get("ended_at") is not None:
        start = int(Decimal(str(call["reserved_at"]))) / 1000
        end = int(Decimal(str(call["ended_at"]))) / 1000
        return min(start, end), max(start, end)
    # sk = CALL#<ISO-8601 UTC>#<requestId>
    stamp = datetime.fromisoformat(str(call["sk"]).split("#")[1].replace("Z", "+00:00"))
    moment = (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()
    return moment - max_call_seconds, moment + max_call_seconds


def hours_between(start: float, end: float) -> list[str]:
    first = int(start) // HOUR_SECONDS * HOUR_SECONDS
    return [_hour_of_epoch(moment) for moment in range(first, int(end) + 1, HOUR_SECONDS)]


def estimated_buckets(
    calls: Iterable[Mapping[str, Any]],
    cur_hourly: Sequence[Mapping[str, Any]],
    *,
    first_hour: str | None = None,
    max_call_seconds: int = MAX_CALL_SECONDS,
) -> list[EstimatedBucket]:
    """The CUR buckets holding estimated calls, with what the ledger and CUR say about each.

    ``cur_hourly``: rows of the spend_by_principal_hour query (usage_hour, principal, resource_id,
    cost_usd). ``first_hour``: the first hour the query covers (the period's start); a bucket reaching
    back before it is not judged, since CUR's part of it is missing.
    """
    cur: dict[tuple[str, str, str], Decimal] = defaultdict(lambda: ZERO)
    last_hour = ""
    for row in cur_hourly:
        hour = _hour_text(row["usage_hour"])
        last_hour = max(last_hour, hour)
        cost = Decimal(row["cost_usd"] or 0)
        cur[(hour, str(row["principal"] or ""), str(row["resource_id"] or ""))] += cost
        cur[(hour, ANY_PRINCIPAL, str(row["resource_id"] or ""))] += cost
    # Per tenant x principal x profile: each call with the span of hours it may have been billed in.
    groups: dict[tuple[str, str, str], list[tuple[float, float, Mapping[str, Any]]]] = defaultdict(list)
    for call in calls:
        key = (str(call["tenant"]), _principal_of(call), str(call.get("modelId") or ""))
        start, end = call_window(call, max_call_seconds)
        first = _epoch_of_hour(_hour_of_epoch(start))
        groups[key].append((first, end, call))
    buckets = []
    for key in sorted(groups):
        tenant, principal, model_id = key
        # Calls whose hours overlap are one bucket: any of them may be billed in any of its hours.
        clusters: list[tuple[float, float, list[Mapping[str, Any]]]] = []
        for first, end, call in sorted(groups[key], key=lambda entry: entry[0]):
            if clusters and first <= clusters[-1][1]:
                start, latest, listed = clusters[-1]
                clusters[-1] = (start, max(latest, end), [*listed, call])
            else:
                clusters.append((first, end, [call]))
        for first, end, listed in clusters:
            estimated = [call for call in listed if call.get("estimated")]
            if not estimated:
                continue
            hours = tuple(hours_between(first, end))
            judged = hours[-1] < last_hour and (first_hour is None or hours[0] >= first_hour)
            billed = sum((cur.get((hour, principal, model_id), ZERO) for hour in hours), ZERO)
            buckets.append(
                EstimatedBucket(
                    tenant=tenant,
                    hour=hours[0] if len(hours) == 1 else f"{hours[0]}..{hours[-1]}",
                    principal=principal,
                    model_id=model_id,
                    calls=tuple(
                        sorted((_estimated_call(call) for call in estimated), key=lambda c: c.sort_key)
                    ),
                    actual_nanos=sum(
                        int(call.get("cost_nanos", 0)) for call in listed if not call.get("estimated")
                    ),
                    cur_nanos=_usd_to_nanos_ceiling(billed) if judged else None,
                    hours=hours,
                )
            )
    return sorted(buckets, key=lambda bucket: (bucket.tenant, bucket.hour, bucket.principal, bucket.model_id))


def _estimated_call(call: Mapping[str, Any]) -> EstimatedCall:
    sort_key = str(call["sk"])
    return EstimatedCall(
        tenant=str(call["tenant"]),
        request_id=str(call.get("requestId") or sort_key.rsplit("#", 1)[-1]),
        sort_key=sort_key,
        period_key=str(call.get("period") or ""),
        shard=int(call.get("shard", 0)),
        charged_nanos=int(call.get("cost_nanos", 0)),
        credited_nanos=int(call.get("credited_nanos", 0)),
    )
