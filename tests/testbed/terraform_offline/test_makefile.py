"""The Makefile's account targets: they refuse to run without ACCOUNT and never use the stand-in."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from scripts.testbed.terraform_offline.hcl_scan import REPO_ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *arguments],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_plan_without_account_fails_with_an_example() -> None:
    completed = make("plan")

    assert completed.returncode != 0
    assert "ACCOUNT is required, for example: make plan ACCOUNT=workload" in completed.stdout


def test_plan_uses_the_real_provider_configuration() -> None:
    completed = make("-n", "plan", "ACCOUNT=workload")

    assert completed.returncode == 0, completed.stderr
    assert "-m scripts.cli.tf -chdir=terraform/accounts/workload plan" in completed.stdout
    for forbidden in ("TF_CLI_CONFIG_FILE", "dev_overrides", "terraform_offline"):
        assert forbidden not in completed.stdout
