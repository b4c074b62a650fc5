"""An account root's output values, evaluated by Terraform itself from an offline plan.

Terraform is the only evaluator of the tenant contract (modules/tenants): the local stack, the demo and
the reports never parse ``terraform.tfvars``; they read the root's outputs (``tenants``, ``name_prefix``,
``per_user_sessions``, ...) from ``terraform plan -out`` + ``terraform show -json`` run against the
offline provider stand-in. Outputs known only after an apply (ARNs, API key ids) are absent.

A plan takes about 4 s, so results are cached under ``build/terraform-outputs/`` by a hash of
everything the plan reads: the root's ``*.tf``, the var file, every module's ``*.tf`` and the model
catalog. A wrong tfvars raises ``PlanError`` with Terraform's own message (the variable's validation).

CLI: ``python -m scripts.testbed.terraform_offline outputs terraform/accounts/workload [--var-file F]``
prints the values as JSON (the shape of ``terraform output -json``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scripts.testbed.terraform_offline.hcl_scan import REPO_ROOT, tf_files
from scripts.testbed.terraform_offline.runner import TFVARS, terraform
from scripts.testbed.terraform_offline.workspace import offline_workspace

ACCOUNTS_DIR = REPO_ROOT / "terraform" / "accounts"
WORKLOAD_ROOT = ACCOUNTS_DIR / "workload"
CACHE_DIR = REPO_ROOT / "build" / "terraform-outputs"
MODEL_CATALOG = REPO_ROOT / "lambda_src" / "cost_sentry" / "data" / "models.json"
# Bump when the way outputs are produced changes, so old cache entries are never read.
CACHE_FORMAT = "2"
# Only the plan's outputs are read: the package's hash is irrelevant, so any file will do.
_PLACEHOLDER_ZIP = b"PK\x05\x06" + b"\x00" * 18


class PlanError(RuntimeError):
    """Terraform refused the configuration or the var file; the message is Terraform's."""


def account_root(account: str, accounts_dir: Path = ACCOUNTS_DIR) -> Path:
    root = accounts_dir / account
    if not re.fullmatch(r"[a-z0-9-]+", account) or not any(root.glob("*.tf")):
        known = sorted(p.name for p in accounts_dir.iterdir() if any(p.glob("*.tf")))
        raise PlanError(f"no account root {account!r}; accounts: {', '.join(known)}")
    return root


def _fingerprint(root: Path, var_text: str | None) -> str:
    digest = hashlib.sha256(f"format {CACHE_FORMAT}\n".encode())
    files = [p for p in tf_files(root, REPO_ROOT / "modules") if "tests" not in p.parts] + [MODEL_CATALOG]
    for path in sorted(files):
        digest.update(str(path.relative_to(REPO_ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(b"vars\0" + (var_text or "").encode())
    return digest.hexdigest()


def output_values(document: Mapping[str, Any]) -> dict[str, Any]:
    """Name -> value from ``terraform output -json`` ({"name": {"value": ..., "sensitive": ...}})."""
    return {
        name: item["value"]
        for name, item in document.items()
        if isinstance(item, Mapping) and "value" in item
    }


def _planned_outputs(shown: Mapping[str, Any]) -> dict[str, Any]:
    """``terraform show -json`` of a plan -> the ``terraform output -json`` shape (known values only)."""
    planned = shown.get("planned_values", {}).get("outputs", {})
    return {
        name: {"sensitive": bool(item.get("sensitive")), "value": item["value"]}
        for name, item in planned.items()
        if "value" in item
    }


def _plan(root: Path, var_file: Path | None, defaults: Mapping[str, str]) -> dict[str, Any]:
    with offline_workspace() as workspace:
        copy, env = workspace.prepare_root(root), workspace.environment()
        # Terraform would load these by itself; the only values are the ones given below (in the copy).
        for automatic in [copy / TFVARS, *copy.glob("*.auto.tfvars"), *copy.glob("*.auto.tfvars.json")]:
            automatic.unlink(missing_ok=True)
        scratch = workspace.root.parent
        placeholder = scratch / "placeholder.zip"
        placeholder.write_bytes(_PLACEHOLDER_ZIP)
        plan_file = scratch / "tfplan"
        arguments = [
            "plan",
            "-refresh=false",
            "-input=false",
            "-lock=false",
            "-no-color",
            f"-out={plan_file}",
        ]
        # -var before -var-file: Terraform lets the later one win, so the file overrides the defaults.
        arguments += [f"-var={name}={value}" for name, value in sorted(defaults.items())]
        arguments += [f"-var-file={var_file}"] if var_file else []
        if _declares_variable(root, "lambda_zip_path"):
            arguments.append(f"-var=lambda_zip_path={placeholder}")
        unit = str(root.relative_to(REPO_ROOT)) if root.is_relative_to(REPO_ROOT) else str(root)
        for step, args in (("init", ["init", "-input=false", "-no-color"]), ("plan", arguments)):
            result = terraform(unit, step, args, copy, env)
            if not result.ok:
                raise PlanError(f"terraform {step} of {unit} failed:\n{_diagnostics(result.output)}")
        shown = terraform(unit, "show", ["show", "-json", "-no-color", str(plan_file)], copy, env)
        if not shown.ok:
            raise PlanError(f"terraform show of {unit} failed:\n{shown.output}")
        return _planned_outputs(json.loads(shown.stdout))


def _declares_variable(root: Path, name: str) -> bool:
    declaration = re.compile(rf'^variable\s+"{re.escape(name)}"', re.MULTILINE)
    return any(declaration.search(path.read_text(encoding="utf-8")) for path in root.glob("*.tf"))


def _diagnostics(output: str) -> str:
    """Terraform's errors without the plan it printed before them."""
    start = output.find("Error: ")
    return output[start:].strip() if start >= 0 else output.strip()


def plan_outputs(
    root: Path = WORKLOAD_ROOT,
    *,
    var_file: Path | None = None,
    tfvars_text: str | None = None,
    defaults: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The root's output values (``terraform output -json`` shape) for its terraform.tfvars, a var file,
    or tfvars text (tests); ``defaults`` are variables the var file may leave out (e.g. account_id).
    From the cache when nothing the plan reads has changed."""
    if var_file is not None and tfvars_text is not None:
        raise ValueError("give var_file or tfvars_text, not both")
    root = root.resolve()
    if tfvars_text is None:
        default = root / TFVARS
        var_path = var_file or (default if default.is_file() else None)
        tfvars_text = var_path.read_text(encoding="utf-8") if var_path else None
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    defaults = dict(defaults or {})
    key = json.dumps(defaults, sort_keys=True) + "\n" + (tfvars_text or "")
    cached = CACHE_DIR / f"{root.name}-{_fingerprint(root, key)}.json"
    if cached.is_file():
        return dict(json.loads(cached.read_text(encoding="utf-8")))
    with tempfile.TemporaryDirectory(prefix="cost-sentry-vars-") as scratch:
        var_path = None
        if tfvars_text is not None:
            var_path = Path(scratch) / "vars.tfvars"
            var_path.write_text(tfvars_text, encoding="utf-8")
        outputs = _plan(root, var_path, defaults)
    # Atomic: two test workers planning the same input both write whole files.
    partial = cached.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(outputs, sort_keys=True), encoding="utf-8")
    partial.replace(cached)
    return outputs


def plan_output_values(
    root: Path = WORKLOAD_ROOT,
    *,
    var_file: Path | None = None,
    tfvars_text: str | None = None,
    defaults: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Name -> value of the root's planned outputs."""
    return output_values(plan_outputs(root, var_file=var_file, tfvars_text=tfvars_text, defaults=defaults))
