"""Who is who in the bill: tenants, their cost allocation tags, invoker roles and budgets.

Read from an account's `terraform.tfvars` (docs/design.md section 2) or from a limits JSON file, and used
to attribute CUR 2.0 line items (tags first, then the invoker role name) to tenants.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cached_property
from pathlib import Path
from typing import Any

UNATTRIBUTED = "(unattributed)"
BUDGET_PERIODS = ("MONTHLY", "DAILY")
_TENANT_ID = re.compile(r"^[a-z0-9-]{1,32}$")


class TenantConfigError(ValueError):
    """The tenants file or limits file is not usable; the message says which entry and why."""


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    application_id: str = ""
    cost_center: str = ""
    environment: str = ""
    limit_usd: Decimal | None = None
    budget_period: str = "MONTHLY"


@dataclass(frozen=True)
class TenantDirectory:
    """Resolves a CUR line's tags and IAM principal to a tenant id."""

    tenants: Mapping[str, Tenant] = field(default_factory=dict)
    name_prefix: str = ""
    account_id: str = ""

    @cached_property
    def _by_application(self) -> dict[str, str]:
        return {t.application_id: t.tenant_id for t in self.tenants.values() if t.application_id}

    def invoker_role_name(self, tenant_id: str) -> str:
        prefix = f"{self.name_prefix}-" if self.name_prefix else ""
        return f"{prefix}{tenant_id}-invoker"

    def resolve(self, application_id: str, role_name: str = "") -> str:
        """The tenant of one line item: its applicationId tag, else its invoker role, else the raw tag."""
        if application_id in self._by_application:
            return self._by_application[application_id]
        if role_name:
            for tenant_id in self.tenants:
                if role_name == self.invoker_role_name(tenant_id):
                    return tenant_id
        return application_id or UNATTRIBUTED

    def limit_of(self, tenant_id: str) -> Tenant | None:
        return self.tenants.get(tenant_id)


def _unquote(value: Any) -> Any:
    # python-hcl2 keeps the quotes of string literals ("\"sales\""); numbers and bools arrive bare.
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, list):
        return [_unquote(item) for item in value]
    if isinstance(value, dict):
        return {key: _unquote(item) for key, item in value.items()}
    return value


def parse_limit(raw: Any, where: str) -> Decimal:
    """A budget amount as Decimal; refuses floats that are not what the file says, negatives and junk."""
    if isinstance(raw, bool):
        raise TenantConfigError(f"{where}: limit must be a number, got {raw!r}")
    # HCL numbers reach us as Python floats; repr() gives the shortest text that round-trips, which is
    # the literal as written in the tfvars for any budget with at most 15 significant digits.
    text = repr(raw) if isinstance(raw, float) else str(raw)
    try:
        amount = Decimal(text)
    except InvalidOperation as error:
        raise TenantConfigError(f"{where}: limit {raw!r} is not a number") from error
    if not amount.is_finite() or amount <= 0:
        raise TenantConfigError(f"{where}: limit must be a positive amount, got {raw!r}")
    return amount


def _period(raw: Any, where: str) -> str:
    period = str(raw or "MONTHLY").upper()
    if period not in BUDGET_PERIODS:
        raise TenantConfigError(f"{where}: budget period must be one of {BUDGET_PERIODS}, got {raw!r}")
    return period


def load_tfvars(path: Path) -> TenantDirectory:
    """The tenants map of one account root's terraform.tfvars (docs/design.md section 2)."""
    import hcl2  # local: only the CLI paths that take a tfvars file need python-hcl2

    try:
        with path.open(encoding="utf-8") as handle:
            document = _unquote(hcl2.load(handle))
    except OSError as error:
        raise TenantConfigError(f"cannot read {path}: {error}") from error
    except Exception as error:  # python-hcl2 raises lark errors of several kinds
        raise TenantConfigError(f"{path} is not valid HCL: {error}") from error
    tenants_block = document.get("tenants")
    if not isinstance(tenants_block, dict) or not tenants_block:
        raise TenantConfigError(f"{path}: no `tenants` map")
    default_environment = str(document.get("environment") or "")
    tenants: dict[str, Tenant] = {}
    for tenant_id, entry in tenants_block.items():
        where = f"{path}: tenants.{tenant_id}"
        if not _TENANT_ID.match(tenant_id) or not isinstance(entry, dict):
            raise TenantConfigError(f"{where}: not a valid tenant entry")
        budget = entry.get("budget") or {}
        tenants[tenant_id] = Tenant(
            tenant_id=tenant_id,
            application_id=str(entry.get("application_id") or ""),
            cost_center=str(entry.get("cost_center") or ""),
            environment=str(entry.get("environment") or default_environment),
            limit_usd=parse_limit(budget["limit_usd"], where) if "limit_usd" in budget else None,
            budget_period=_period(budget.get("period"), where),
        )
    return TenantDirectory(
        tenants=tenants,
        name_prefix=str(document.get("name_prefix") or ""),
        account_id=str(document.get("account_id") or ""),
    )


def load_limits_json(path: Path, base: TenantDirectory | None = None) -> TenantDirectory:
    """Budget limits from JSON: `{"sales": "0.50"}` or `{"sales": {"limitUsd": "0.50", "period": "DAILY"}}`.

    Amounts should be strings (or integers) so nothing parses them as binary floats. Limits override
    those of `base` (the tfvars) tenant by tenant; tenants only in the JSON are added.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except (OSError, json.JSONDecodeError) as error:
        raise TenantConfigError(f"cannot read limits from {path}: {error}") from error
    if not isinstance(document, dict):
        raise TenantConfigError(f"{path}: expected an object of tenant id -> limit")
    tenants = dict(base.tenants) if base else {}
    for tenant_id, entry in document.items():
        where = f"{path}: {tenant_id}"
        spec = entry if isinstance(entry, dict) else {"limitUsd": entry}
        if "limitUsd" not in spec:
            raise TenantConfigError(f"{where}: missing limitUsd")
        existing = tenants.get(tenant_id, Tenant(tenant_id=tenant_id))
        tenants[tenant_id] = Tenant(
            tenant_id=tenant_id,
            application_id=str(spec.get("applicationId", existing.application_id)),
            cost_center=str(spec.get("costCenter", existing.cost_center)),
            environment=str(spec.get("environment", existing.environment)),
            limit_usd=parse_limit(spec["limitUsd"], where),
            budget_period=_period(spec.get("period", existing.budget_period), where),
        )
    return TenantDirectory(
        tenants=tenants,
        name_prefix=base.name_prefix if base else "",
        account_id=base.account_id if base else "",
    )
