"""`make preview ACCOUNT=x`: an account root planned offline, against the schema-only provider stand-in.

What `make plan` would propose, without network, credentials or a state bucket: the resources to
create per tenant, or, when Terraform refuses the tfvars, each broken rule in a line (the tenant
contract's messages name the tenant and the value, modules/tenants/variables.tf). The stand-in knows
no live state, so every resource is "to create", and values known only after an apply are absent:
it answers "is my tenant map right and what would it add", not "what changes in the account"
(that is `make plan`, docs/offline-terraform.md).
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

from scripts.testbed.terraform_offline.outputs import _PLACEHOLDER_ZIP, _declares_variable
from scripts.testbed.terraform_offline.runner import TFVARS, terraform
from scripts.testbed.terraform_offline.workspace import offline_workspace

_UP_DIRS = re.compile(r"^(\.\./)+")
# A resource keyed by a tenant: ["sales"] or ["sales/<model or purpose>"] (every module keys so).
_TENANT_KEY = re.compile(r'\["([a-z0-9-]{1,32})(?:/[^"]*)?"\]')


def diagnostics(json_lines: str) -> list[dict[str, Any]]:
    """The error diagnostics of a ``terraform ... -json`` run, in order, each once."""
    found: list[dict[str, Any]] = []
    for line in json_lines.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        diagnostic = message.get("diagnostic") if isinstance(message, dict) else None
        if diagnostic and diagnostic.get("severity") == "error" and diagnostic not in found:
            found.append(diagnostic)
    return found


def broken_rules(found: Iterable[Mapping[str, Any]]) -> list[str]:
    """One line per diagnostic: its message (a validation's own error_message), where it was checked."""
    lines = []
    for diagnostic in found:
        detail = " ".join(str(diagnostic.get("detail") or "").split())
        checked = re.search(r"This was checked by the validation rule at (\S+?)\.?$", detail)
        detail = detail[: checked.start()].strip() if checked else detail
        summary = str(diagnostic.get("summary") or "error")
        # The rule's file as the repository names it (Terraform names it from the root's copy).
        rule = f" ({_UP_DIRS.sub('', checked.group(1))})" if checked else ""
        lines.append(f"- {detail or summary}{rule}")
    return lines


def planned_changes(shown: Mapping[str, Any]) -> tuple[Counter[str], dict[str, Counter[str]]]:
    """(resources by action, and per tenant (its key in the address) by resource type)."""
    actions: Counter[str] = Counter()
    per_tenant: dict[str, Counter[str]] = {}
    for change in shown.get("resource_changes", []):
        if change.get("mode") != "managed":
            continue
        action = "/".join(change["change"]["actions"])
        actions[action] += 1
        keys = _TENANT_KEY.findall(change["address"])
        tenant = next((key for key in keys if key in _tenants(shown)), None)
        if tenant is not None:
            per_tenant.setdefault(tenant, Counter())[change["type"]] += 1
    return actions, per_tenant


def _tenants(shown: Mapping[str, Any]) -> Mapping[str, Any]:
    value = shown.get("planned_values", {}).get("outputs", {}).get("tenants", {}).get("value")
    return value if isinstance(value, Mapping) else {}


def preview(root: Path, var_file: Path | None = None, out: TextIO = sys.stdout) -> int:
    """Print the offline plan of ``root`` (with its terraform.tfvars, or ``var_file``); 0 when it plans."""
    root = root.resolve()
    var_file = var_file.resolve() if var_file else (root / TFVARS if (root / TFVARS).is_file() else None)
    shown_vars = (
        var_file.relative_to(Path.cwd()) if var_file and var_file.is_relative_to(Path.cwd()) else var_file
    )
    print(
        f"Offline preview of {root.name} ({shown_vars or 'no var file'}), schema-only AWS provider stand-in:",
        file=out,
    )
    with offline_workspace() as workspace:
        copy, env = workspace.prepare_root(root), workspace.environment()
        for automatic in [copy / TFVARS, *copy.glob("*.auto.tfvars"), *copy.glob("*.auto.tfvars.json")]:
            automatic.unlink(missing_ok=True)
        scratch = workspace.root.parent
        plan_file = scratch / "tfplan"
        arguments = ["plan", "-refresh=false", "-input=false", "-lock=false", "-json", f"-out={plan_file}"]
        arguments += [f"-var-file={var_file}"] if var_file else []
        if _declares_variable(root, "lambda_zip_path"):
            placeholder = scratch / "placeholder.zip"
            placeholder.write_bytes(_PLACEHOLDER_ZIP)
            arguments.append(f"-var=lambda_zip_path={placeholder}")
        unit = root.name
        initialised = terraform(unit, "init", ["init", "-input=false", "-no-color"], copy, env)
        if not initialised.ok:
            print(initialised.output, file=out)
            return 1
        planned = terraform(unit, "plan", arguments, copy, env)
        if not planned.ok:
            found = diagnostics(planned.stdout or planned.output)
            print(f"Terraform refuses the configuration ({len(found)} error(s)):", file=out)
            for line in broken_rules(found) or [planned.output.strip()]:
                print(line, file=out)
            return 1
        shown = terraform(unit, "show", ["show", "-json", "-no-color", str(plan_file)], copy, env)
        if not shown.ok:
            print(shown.output, file=out)
            return 1
        document = json.loads(shown.stdout)
    actions, per_tenant = planned_changes(document)
    print(
        "  plans: " + ", ".join(f"{count} to {action}" for action, count in sorted(actions.items())),
        file=out,
    )
    tenants = _tenants(document)
    for tenant_id in sorted(tenants):
        tenant = tenants[tenant_id]
        resources = per_tenant.get(tenant_id, Counter())
        budget = tenant.get("budget") or {}
        print(
            f"  tenant {tenant_id}: models {', '.join(tenant.get('models', []))}; budget USD "
            f"{budget.get('limit_usd')} {budget.get('period', '')}; {sum(resources.values())} resources keyed by it",
            file=out,
        )
    print(
        "Nothing was sent to AWS. `make plan ACCOUNT=...` (network, credentials, the state bucket) shows what "
        "changes in the account.",
        file=out,
    )
    return 0
