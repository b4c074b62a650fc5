"""Who is who in the bill: tenants, their cost allocation tags, invoker roles and budgets.

Terraform evaluates the tenant contract (modules/tenants); this module only reads its result: the
workload root's `tenants` output, from `terraform output -json` (a file the user gives) or from an
offline plan of the root (`workload_directory`), optionally overridden by a limits JSON file. The
directory attributes CUR 2.0 line items to tenants: tags first, then the invoker role name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cached_property
from pathlib import Path
from typing import Any

UNATTRIBUTED = "(unattributed)"
BUDGET_PERIODS = ("MONTHLY", "DAILY")


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
    # As Terraform names it (modules/tenants); "" when the tenant is known only from a limits file.
    invoker_role_name: str = ""


@dataclass(frozen=True)
class TenantDirectory:
    """Resolves a CUR line's tags and IAM principal to a tenant id."""

    tenants: Mapping[str, Tenant] = field(default_factory=dict)
    name_prefix: str = ""
    account_id: str = ""
    # The principal CUR records for calls the gateway makes with its own role (gateway_principals output).
    own_principal: str = ""

    @cached_property
    def _by_application(self) -> dict[str, str]:
        return {t.application_id: t.tenant_id for t in self.tenants.values() if t.application_id}

    @cached_property
    def _by_role(self) -> dict[str, str]:
        return {t.invoker_role_name: t.tenant_id for t in self.tenants.values() if t.invoker_role_name}

    def resolve(self, application_id: str, role_name: str = "") -> str:
        """The tenant of one line item: its applicationId tag, else its invoker role, else the raw tag."""
        if application_id in self._by_application:
            return self._by_application[application_id]
        if role_name in self._by_role:
            return self._by_role[role_name]
        return application_id or UNATTRIBUTED

    def sql_resolve(self, application_id: str, role_name: str) -> str:
        """`resolve` as a SQL expression over two columns, for queries that attribute inside the engine
        (the dashboard's Athena view); tests/cli/dashboards proves both give the same tenants."""

        def literal(text: str) -> str:
            return "'" + text.replace("'", "''") + "'"

        def case(column: str, mapping: Mapping[str, str], otherwise: str) -> str:
            if not mapping:
                return otherwise
            whens = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in sorted(mapping.items()))
            return f"CASE {column} {whens} ELSE {otherwise} END"

        raw = f"COALESCE(NULLIF({application_id}, ''), {literal(UNATTRIBUTED)})"
        return case(application_id, self._by_application, case(role_name, self._by_role, raw))


def directory_from_outputs(values: Mapping[str, Any], where: str = "outputs") -> TenantDirectory:
    """The directory from the workload root's output values (name -> value)."""
    tenants_output = values.get("tenants")
    if not isinstance(tenants_output, Mapping) or not tenants_output:
        raise TenantConfigError(f"{where}: no `tenants` output (the workload root's terraform output)")
    tenants: dict[str, Tenant] = {}
    for tenant_id, entry in tenants_output.items():
        try:
            # Amounts from the config document: Terraform wrote them as decimal strings, so they are exact.
            budget = entry["config"]["budget"]
            tenants[tenant_id] = Tenant(
                tenant_id=tenant_id,
                application_id=str(entry["application_id"]),
                cost_center=str(entry["cost_center"]),
                environment=str(entry["environment"]),
                limit_usd=parse_limit(str(budget["limitUsd"]), f"{where}: tenants.{tenant_id}"),
                budget_period=str(budget["period"]),
                invoker_role_name=str(entry["invoker_role_name"]),
            )
        except (KeyError, TypeError) as error:
            raise TenantConfigError(f"{where}: tenants.{tenant_id} lacks {error}") from error
    return TenantDirectory(
        tenants=tenants,
        name_prefix=str(values.get("name_prefix") or ""),
        account_id=str(values.get("account_id") or ""),
        own_principal=str((values.get("gateway_principals") or {}).get("gateway") or ""),
    )


def load_outputs_json(path: Path) -> TenantDirectory:
    """`terraform -chdir=terraform/accounts/workload output -json > tenants.json` (or name -> value JSON)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise TenantConfigError(f"cannot read tenants from {path}: {error}") from error
    if not isinstance(document, dict):
        raise TenantConfigError(f"{path}: expected the JSON of `terraform output -json`")
    values = {
        name: item["value"] if isinstance(item, dict) and "value" in item else item
        for name, item in document.items()
    }
    return directory_from_outputs(values, where=str(path))


def workload_directory(account: str = "workload") -> TenantDirectory:
    """The directory of an account root's own terraform.tfvars, evaluated by an offline Terraform plan."""
    from scripts.testbed.terraform_offline.outputs import PlanError, account_root, plan_output_values

    try:
        return directory_from_outputs(plan_output_values(account_root(account)), where=f"account {account}")
    except PlanError as error:
        raise TenantConfigError(str(error)) from error


def parse_limit(raw: Any, where: str) -> Decimal:
    """A budget amount as Decimal; refuses floats that are not what the file says, negatives and junk."""
    if isinstance(raw, bool):
        raise TenantConfigError(f"{where}: limit must be a number, got {raw!r}")
    # A float (a JSON number) goes through repr(), the shortest text that round-trips.
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


def load_limits_json(path: Path, base: TenantDirectory | None = None) -> TenantDirectory:
    """Budget limits from JSON: `{"sales": "0.50"}` or `{"sales": {"limitUsd": "0.50", "period": "DAILY"}}`.

    Amounts should be strings (or integers) so nothing parses them as binary floats. Limits override
    those of `base` (Terraform's tenants) tenant by tenant; tenants only in the JSON are added.
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
            invoker_role_name=existing.invoker_role_name,
        )
    return TenantDirectory(
        tenants=tenants,
        name_prefix=base.name_prefix if base else "",
        account_id=base.account_id if base else "",
        own_principal=base.own_principal if base else "",
    )
