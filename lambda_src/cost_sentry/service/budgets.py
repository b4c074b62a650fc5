"""AWS Budgets -> gateway: budget amounts changed in the console, and budget alerts that block a tenant.

Two entry points share this module (their handlers are thin, in cost_sentry.handlers):

- `BudgetSync.run()`, scheduled every few minutes: reads every tenant's AWS Budget (DescribeBudget of
  `<name_prefix>-<tenant>`) and, where its amount differs from what the gateway enforces, writes the
  `limit#<tenant>` override into the config table and moves the current period's ledger item
  (the head's `limit_nanos`, and its `pool_nanos` by the same delta, then a lowered limit clawed back
  from the shards) conditional on the old limit, so two syncs, or a sync and a gateway rebasing the same
  change, apply it once. Idempotent: a second run changes nothing.
- `BudgetAlerts.handle_message()`, subscribed to the budgets SNS topic: an ACTUAL alert at or above a
  tenant's `block_at_actual` percent sets `blocked` on the tenant's period head and shards, which the
  gateway's reservation condition refuses. FORECASTED alerts and tenants without blocking only get a log line.

Contracts: docs/design.md sections 3 (config table) and 4 (ledger). Money is integer nano-dollars.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cost_sentry.adapters.aws import LazyClient
from cost_sentry.adapters.config_store import scan_config_table
from cost_sentry.adapters.ledger import Ledger
from cost_sentry.core.errors import ServiceUnavailable
from cost_sentry.core.log import default_logger
from cost_sentry.core.metrics import emf_metadata
from cost_sentry.core.money import NANOS_PER_USD, nanos_to_usd, parse_decimal, usd_to_nanos_floor
from cost_sentry.core.names import TENANT_ID
from cost_sentry.core.periods import period_key
from cost_sentry.core.settings import BudgetSettings
from cost_sentry.core.tenants import (
    ConfigError,
    TenantConfig,
    limit_item_key,
    tenant_from_document,
    tenant_item_key,
)

LIMIT_SOURCE = "aws-budgets"
NANOS_PER_CENT = NANOS_PER_USD // 100


def budget_name(prefix: str, tenant_id: str) -> str:
    """The name Terraform gives a tenant's budget."""
    return f"{prefix}-{tenant_id}"


def tenant_of_budget(prefix: str, name: str) -> str | None:
    tenant_id = name.removeprefix(f"{prefix}-")
    if tenant_id == name or not TENANT_ID.fullmatch(tenant_id):
        return None
    return tenant_id


def _utc_iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- limit sync ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetAmount:
    """What a tenant's AWS Budget says now."""

    name: str
    limit_nanos: int
    time_unit: str
    # CalculatedSpend.ActualSpend of the current period, when Budgets reports it.
    actual_spend_nanos: int | None = None


def budget_amount(budget: Mapping[str, Any]) -> BudgetAmount:
    """Parse one DescribeBudgets entry; refuses anything but a fixed USD cost amount."""
    name = budget.get("BudgetName", "?")
    limit = budget.get("BudgetLimit")
    if not isinstance(limit, Mapping):
        raise ValueError(f"budget {name} has no fixed BudgetLimit (planned limits are not supported)")
    if limit.get("Unit") != "USD":
        raise ValueError(f"budget {name} is in {limit.get('Unit')!r}, not USD")
    amount = parse_decimal(limit.get("Amount"), f"budget {name} BudgetLimit.Amount")
    if amount <= 0:
        raise ValueError(f"budget {name} has a non-positive amount {amount}")
    actual = (budget.get("CalculatedSpend") or {}).get("ActualSpend") or {}
    actual_nanos = None
    if actual.get("Unit") == "USD" and actual.get("Amount") is not None:
        actual_nanos = usd_to_nanos_floor(parse_decimal(actual["Amount"], f"budget {name} ActualSpend"))
    return BudgetAmount(
        name=name,
        limit_nanos=usd_to_nanos_floor(amount),
        time_unit=str(budget.get("TimeUnit", "")),
        actual_spend_nanos=actual_nanos,
    )


def block_lifted(
    *, blocked_at_budget_nanos: int, budget: BudgetAmount, block_at_percent: Decimal | None
) -> bool:
    """Whether a budget-alert block no longer holds: the budget was raised since the block, and the
    actual spend Budgets reports is now below the tenant's block_at_actual percent of it."""
    if block_at_percent is None or budget.actual_spend_nanos is None:
        return False
    if budget.limit_nanos <= blocked_at_budget_nanos:
        return False
    return budget.actual_spend_nanos * 100 < block_at_percent * budget.limit_nanos


@dataclass(frozen=True)
class LimitChange:
    tenant_id: str
    budget_name: str
    enforced_limit_usd: str
    budget_limit_usd: str
    override_written: bool
    ledger_period: str | None = None
    ledger_delta_usd: str | None = None
    unblocked: bool = False


@dataclass
class SyncReport:
    changed: list[LimitChange] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    missing_budgets: list[str] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    def emf(self, namespace: str, timestamp_ms: int) -> dict[str, Any]:
        """The report as one Embedded Metric Format document: counts CloudWatch can alarm on."""
        counts = {
            "BudgetSyncChanged": len(self.changed),
            "BudgetSyncErrors": len(self.errors),
            "BudgetSyncMissingBudgets": len(self.missing_budgets),
        }
        return {
            "_aws": emf_metadata(namespace, [[]], dict.fromkeys(counts, "Count"), timestamp_ms),
            "event": "budget_sync",
            **counts,
            **self.to_dict(),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "changed": [asdict(change) for change in self.changed],
            "unchanged": sorted(self.unchanged),
            "missingBudgets": sorted(self.missing_budgets),
            "errors": self.errors,
        }


class _BudgetJob:
    """What the sync and the alerts share: the settings, the client of the config and ledger tables
    (injected, or a default made on first use), the clock, and the ledger built from them."""

    dynamodb_client = LazyClient("dynamodb")

    def __init__(self, settings: BudgetSettings, dynamodb_client: Any, clock: Callable[[], float]) -> None:
        self._settings = settings
        self.dynamodb_client = dynamodb_client
        self._clock = clock
        self._ledger: Ledger | None = None

    @property
    def settings(self) -> BudgetSettings:
        return self._settings

    @property
    def ledger(self) -> Ledger:
        """The ledger's writes go through the one owner of its items."""
        if self._ledger is None:
            self._ledger = Ledger.for_settings(self.dynamodb_client, self._settings, clock=self._clock)
        return self._ledger


class BudgetSync(_BudgetJob):
    """Makes the gateway enforce what each tenant's AWS Budget says. Clients injected (lazy defaults)."""

    budgets_client = LazyClient("budgets")
    sts_client = LazyClient("sts")

    def __init__(
        self,
        settings: BudgetSettings,
        *,
        budgets_client: Any = None,
        dynamodb_client: Any = None,
        sts_client: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(settings, dynamodb_client, clock)
        self.budgets_client = budgets_client
        # Asked only when the settings do not name the account (BUDGETS_ACCOUNT_ID).
        self.sts_client = sts_client
        self._account_id = settings.account_id

    @property
    def account_id(self) -> str:
        if self._account_id is None:
            self._account_id = str(self.sts_client.get_caller_identity()["Account"])
        return self._account_id

    def run(self) -> SyncReport:
        """One pass over every tenant; a tenant that fails is reported and the others still sync."""
        from botocore.exceptions import BotoCoreError, ClientError

        tenants = self._load_tenants()
        report = SyncReport()
        now = self._clock()
        for tenant_id in sorted(tenants):
            tenant = tenants[tenant_id]
            try:
                raw = self._describe_budget(budget_name(self._settings.budget_name_prefix, tenant_id))
                if raw is None:
                    report.missing_budgets.append(tenant_id)
                    continue
                change = self._sync_tenant(tenant, budget_amount(raw), now)
            except (ValueError, ConfigError, BotoCoreError, ClientError, ServiceUnavailable) as exc:
                report.errors.append({"tenant": tenant_id, "error": str(exc)})
                continue
            if change is None:
                report.unchanged.append(tenant_id)
            else:
                report.changed.append(change)
        return report

    def _sync_tenant(self, tenant: TenantConfig, budget: BudgetAmount, now: float) -> LimitChange | None:
        if budget.time_unit and budget.time_unit != tenant.budget_period:
            raise ValueError(
                f"budget {budget.name} is {budget.time_unit} "
                f"but the tenant's period is {tenant.budget_period}"
            )
        override_written = False
        if budget.limit_nanos != tenant.budget_limit_nanos:
            self._write_override(tenant.tenant_id, budget, now)
            override_written = True
        # The ledger item is checked even when the config already agrees: a gateway that still ran on
        # the old config may have created or rebased this period's item with the old limit.
        key = period_key(tenant.budget_period, now)
        # With the tenant (its pace): a lowered paced budget is clawed back to its pace too.
        delta = self.ledger.move_limit(tenant, key, budget.limit_nanos)
        unblocked = self._lift_block(tenant, key, budget)
        if not override_written and delta is None and not unblocked:
            return None
        return LimitChange(
            tenant_id=tenant.tenant_id,
            budget_name=budget.name,
            enforced_limit_usd=nanos_to_usd(tenant.budget_limit_nanos),
            budget_limit_usd=nanos_to_usd(budget.limit_nanos),
            override_written=override_written,
            ledger_period=key if delta is not None else None,
            ledger_delta_usd=_signed_usd(delta) if delta is not None else None,
            unblocked=unblocked,
        )

    def _lift_block(self, tenant: TenantConfig, key: str, budget: BudgetAmount) -> bool:
        """Remove a budget-alert block from the period once a raised budget no longer justifies it.

        Blocks set by hand (any other `source`) are left alone; the removal is conditional on the block
        still being the one read, so a fresher alert is never undone.
        """
        if tenant.block_at_actual_percent is None:
            return False
        blocked = self.ledger.block_reason(tenant.tenant_id, key)
        if not blocked or blocked.get("source", {}).get("S") != LIMIT_SOURCE:
            return False
        was = blocked.get("budgetedUsd", {}).get("S")
        if was is None:
            return False
        blocked_at_budget = usd_to_nanos_floor(parse_decimal(was, "blocked.budgetedUsd"))
        if not block_lifted(
            blocked_at_budget_nanos=blocked_at_budget,
            budget=budget,
            block_at_percent=tenant.block_at_actual_percent,
        ):
            return False
        return self.ledger.lift_block(tenant, key, blocked)

    def _write_override(self, tenant_id: str, budget: BudgetAmount, now: float) -> None:
        limit_usd = Decimal(budget.limit_nanos).scaleb(-9).normalize()
        self.dynamodb_client.put_item(
            TableName=self._settings.config_table,
            Item={
                **limit_item_key(tenant_id),
                "limitUsd": {"S": format(limit_usd, "f")},
                "source": {"S": LIMIT_SOURCE},
                "budgetName": {"S": budget.name},
                "updatedAt": {"S": _utc_iso(now)},
            },
        )

    def _load_tenants(self) -> Mapping[str, TenantConfig]:
        return scan_config_table(self.dynamodb_client, self._settings.config_table).tenants

    def _describe_budget(self, name: str) -> Mapping[str, Any] | None:
        """One DescribeBudget per tenant: authorized by the least-privilege policy on exactly the
        `<prefix>-*` budget ARNs, which a listing of the whole account (DescribeBudgets) may not be."""
        from botocore.exceptions import ClientError

        try:
            answer = self.budgets_client.describe_budget(AccountId=self.account_id, BudgetName=name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NotFoundException":
                return None
            raise
        budget: Mapping[str, Any] = answer["Budget"]
        return budget


def _signed_usd(nanos: int) -> str:
    return ("-" if nanos < 0 else "+") + nanos_to_usd(abs(nanos))


# -- budget alerts -------------------------------------------------------------------------------

_FIELD = re.compile(r"^(?P<key>[A-Za-z ]+):\s*(?P<value>.+?)\s*$", re.MULTILINE)
_AMOUNT = re.compile(r"\$?\s*(?P<number>[0-9][0-9,]*(?:\.[0-9]+)?)")


@dataclass(frozen=True)
class BudgetNotification:
    """The fields of an AWS Budgets notification (the plain-text message Budgets publishes to SNS)."""

    budget_name: str
    alert_type: str  # ACTUAL | FORECASTED
    account_id: str | None  # the "AWS Account" line: the account whose budget it is
    budgeted_nanos: int
    threshold_nanos: int | None
    amount_nanos: int | None  # the ACTUAL (or FORECASTED) amount the alert reports
    about_yesterday: bool  # daily budgets are reported the next day ("Yesterday, the ACTUAL Cost ...")


def _amount_nanos(text: str | None) -> int | None:
    if text is None:
        return None
    match = _AMOUNT.search(text)
    if match is None:
        return None
    return int(Decimal(match["number"].replace(",", "")) * NANOS_PER_USD)


def parse_budget_notification(message: str) -> BudgetNotification | None:
    """Parse the text AWS Budgets sends, e.g.::

        AWS Budget Notification November 22, 2026
        AWS Account 111111111111
        ...
        Budget Name: cost-sentry-support
        Budget Type: Cost
        Budgeted Amount: $0.25
        Alert Type: ACTUAL
        Alert Threshold: > $0.25
        ACTUAL Amount: $0.26

    Returns None for any message that is not a cost budget notification.
    """
    if "AWS Budget Notification" not in message:
        return None
    fields = {match["key"].strip(): match["value"] for match in _FIELD.finditer(message)}
    name = fields.get("Budget Name")
    alert_type = (fields.get("Alert Type") or "").strip().upper()
    budgeted = _amount_nanos(fields.get("Budgeted Amount"))
    if not name or alert_type not in {"ACTUAL", "FORECASTED"} or budgeted is None or budgeted <= 0:
        return None
    if (fields.get("Budget Type") or "Cost").strip().lower() != "cost":
        return None
    account = re.search(r"^AWS Account (\d{12})\s*$", message, re.MULTILINE)
    return BudgetNotification(
        budget_name=name.strip(),
        alert_type=alert_type,
        account_id=account[1] if account else None,
        budgeted_nanos=budgeted,
        threshold_nanos=_amount_nanos(fields.get("Alert Threshold")),
        amount_nanos=_amount_nanos(fields.get(f"{alert_type} Amount")),
        about_yesterday=bool(re.search(r"\bYesterday,", message)),
    )


def proven_spend_nanos(notification: BudgetNotification) -> int:
    """What the alert proves was spent: the reported amount, or at least the threshold it passed."""
    return max(notification.amount_nanos or 0, notification.threshold_nanos or 0)


def reached_percent(notification: BudgetNotification) -> Decimal:
    return Decimal(proven_spend_nanos(notification)) * 100 / Decimal(notification.budgeted_nanos)


def block_reached(notification: BudgetNotification, block_at_percent: Decimal) -> bool:
    """Whether the alert shows spend at block_at_actual percent of the budget.

    Budgets writes amounts in whole cents, so the block level is compared in whole cents too: the
    notification at exactly block_at_actual (which Terraform creates) must block even when rounding
    made "$0.264" read "$0.26".
    """
    block_level = Decimal(notification.budgeted_nanos) * block_at_percent / 100 / NANOS_PER_CENT
    block_level_nanos = int(block_level.quantize(Decimal(1), rounding=ROUND_HALF_UP)) * NANOS_PER_CENT
    return proven_spend_nanos(notification) >= block_level_nanos


@dataclass(frozen=True)
class AlertOutcome:
    action: str  # blocked | already_blocked | ignored
    reason: str
    tenant_id: str | None = None
    period: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}


class BudgetAlerts(_BudgetJob):
    """Turns AWS Budgets notifications into `blocked` on the tenant's ledger period item."""

    def __init__(
        self,
        settings: BudgetSettings,
        *,
        dynamodb_client: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(settings, dynamodb_client, clock)

    def handle_message(
        self, message: str, sent_at: float | None = None, *, topic_arn: str | None = None
    ) -> AlertOutcome:
        # Trust: only the budgets topic may deliver (its policy admits only AWS Budgets and Cost
        # Anomaly Detection of this account), and the budget must be this account's, named for a tenant.
        trusted_topic = self._settings.budget_topic_arn
        if trusted_topic is not None and topic_arn != trusted_topic:
            return AlertOutcome("ignored", f"not delivered by the budgets topic (TopicArn {topic_arn})")
        notification = parse_budget_notification(message)
        if notification is None:
            return AlertOutcome("ignored", "not an AWS Budgets cost notification")
        account_id = self._settings.account_id
        if account_id is not None and notification.account_id != account_id:
            return AlertOutcome(
                "ignored", f"the budget is account {notification.account_id}'s, not {account_id}'s"
            )
        tenant_id = tenant_of_budget(self._settings.budget_name_prefix, notification.budget_name)
        if tenant_id is None:
            return AlertOutcome("ignored", f"budget {notification.budget_name} is not a Cost Sentry tenant's")
        if notification.alert_type != "ACTUAL":
            return AlertOutcome("ignored", "forecasts never block", tenant_id)
        tenant = self._tenant(tenant_id)
        if tenant is None:
            return AlertOutcome("ignored", "no such tenant in the config table", tenant_id)
        block_at = tenant.block_at_actual_percent
        if block_at is None:
            return AlertOutcome("ignored", "the tenant is never blocked by alerts", tenant_id)
        percent = reached_percent(notification)
        if not block_reached(notification, block_at):
            return AlertOutcome(
                "ignored",
                f"{_percent(percent)}% of the budget is below block_at_actual {block_at}%",
                tenant_id,
            )
        moment = self._clock() if sent_at is None else sent_at
        if notification.about_yesterday and tenant.budget_period == "DAILY":
            moment -= timedelta(days=1).total_seconds()
        key = period_key(tenant.budget_period, moment)
        newly = self._block(tenant, key, notification, percent)
        return AlertOutcome(
            "blocked" if newly else "already_blocked",
            f"actual spend reached {_percent(percent)}% (block_at_actual {block_at}%)",
            tenant_id,
            key,
        )

    def _tenant(self, tenant_id: str) -> TenantConfig | None:
        item = self.dynamodb_client.get_item(
            TableName=self._settings.config_table,
            Key=tenant_item_key(tenant_id),
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            return None
        return tenant_from_document(json.loads(item["config"]["S"]))

    def _block(
        self, tenant: TenantConfig, key: str, notification: BudgetNotification, percent: Decimal
    ) -> bool:
        reason = {
            "source": {"S": LIMIT_SOURCE},
            "budgetName": {"S": notification.budget_name},
            "budgetedUsd": {"S": nanos_to_usd(notification.budgeted_nanos)},
            "actualPercent": {"N": _percent(percent)},
            "at": {"S": _utc_iso(self._clock())},
        }
        return self.ledger.block(tenant, key, reason)


def _percent(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01")).normalize(), "f")


def sns_messages(event: Mapping[str, Any]) -> Iterable[tuple[str, float | None, str | None]]:
    """(message, sent at, topic ARN) of each SNS record of a Lambda event; other records are skipped."""
    for record in event.get("Records") or []:
        sns = record.get("Sns") if isinstance(record, Mapping) else None
        if not isinstance(sns, Mapping) or not isinstance(sns.get("Message"), str):
            default_logger().warning(
                "budget_alert_record_skipped", event="budget_alert_record_skipped", reason="not an SNS record"
            )
            continue
        sent_at = None
        timestamp = sns.get("Timestamp")
        if isinstance(timestamp, str):
            try:
                sent_at = datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
            except ValueError:
                sent_at = None
        topic_arn = sns.get("TopicArn")
        yield sns["Message"], sent_at, topic_arn if isinstance(topic_arn, str) else None
