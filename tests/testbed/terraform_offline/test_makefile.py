"""The Makefile's account targets: they refuse to run without ACCOUNT (or with an unknown one) and say what
to run, use the operator's Terraform at the pinned version or the pinned one, and never the stand-in."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from scripts.testbed.terraform_offline.hcl_scan import REPO_ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make(*arguments: str, path_first: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TERRAFORM", "MAKEFLAGS", "ACCOUNT")}
    if path_first is not None:
        env["PATH"] = f"{path_first}{os.pathsep}{env['PATH']}"
    return subprocess.run(
        ["make", "--no-print-directory", *arguments],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def fake_terraform(directory: Path, version: str, exit_code: int = 0) -> Path:
    """A `terraform` on PATH that reports ``version`` (and fails every other command with ``exit_code``)."""
    script = directory / "terraform"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = version ]; then echo "Terraform v{version}"; echo "on linux_amd64"; exit 0; fi\n'
        f'echo "fake terraform $*"; exit {exit_code}\n'
    )
    script.chmod(0o755)
    return directory


def test_plan_without_account_fails_with_an_example() -> None:
    completed = make("plan")

    assert completed.returncode != 0
    assert "ACCOUNT is required, for example: make plan ACCOUNT=workload" in completed.stdout


def test_plan_uses_the_real_provider_configuration(tmp_path: Path) -> None:
    # An operator's Terraform at another version: the pinned one runs instead.
    completed = make("-n", "plan", "ACCOUNT=workload", path_first=fake_terraform(tmp_path, "1.11.4"))

    assert completed.returncode == 0, completed.stderr
    assert "-m scripts.cli.tf -chdir=terraform/accounts/workload plan" in completed.stdout
    for forbidden in ("TF_CLI_CONFIG_FILE", "dev_overrides", "terraform_offline"):
        assert forbidden not in completed.stdout


def test_apply_without_account_says_to_plan_first_and_lists_the_accounts() -> None:
    completed = make("apply")

    assert completed.returncode == 2
    assert "make plan ACCOUNT=workload saves a plan, then make apply ACCOUNT=workload" in completed.stdout
    assert "accounts: billing workload" in completed.stdout


def test_an_unknown_account_lists_the_valid_ones() -> None:
    for target in ("plan", "apply", "output", "preview"):
        completed = make(target, "ACCOUNT=prod")

        assert completed.returncode == 2
        assert "unknown ACCOUNT 'prod': the accounts are billing workload" in completed.stdout


def test_the_operators_terraform_at_the_pinned_version_is_used(tmp_path: Path) -> None:
    completed = make("-n", "apply", "ACCOUNT=workload", path_first=fake_terraform(tmp_path, "1.15.2"))

    assert "\nterraform -chdir=terraform/accounts/workload apply -input=false tfplan" in completed.stdout


def test_terraform_chooses_the_command(tmp_path: Path) -> None:
    completed = make(
        "-n",
        "output",
        "ACCOUNT=workload",
        "NAME=api_key_values",
        "TERRAFORM=/opt/tf/terraform",
        path_first=fake_terraform(tmp_path, "1.15.2"),
    )

    assert (
        "/opt/tf/terraform -chdir=terraform/accounts/workload output -json api_key_values" in completed.stdout
    )


def test_plan_that_cannot_init_points_at_the_offline_preview(tmp_path: Path) -> None:
    failing = fake_terraform(tmp_path, "1.15.5", exit_code=1)

    completed = make("plan", "ACCOUNT=workload", path_first=failing)

    assert completed.returncode != 0
    assert "make plan: terraform init failed" in completed.stdout
    assert "'make preview ACCOUNT=workload' shows what the plan would create" in completed.stdout
