"""`terraform test` of the account roots, offline.

`validate-all` plans every root with its terraform.tfvars and tests every module; the roots' own tests
(terraform/accounts/<account>/tests/*.tftest.hcl: the example tenants, the normalized tenants output, a
fourth tenant adding only its own resources; modules/tenants/tests covers every refused input) run
here, in the same offline workspace.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scripts.devtools import build_lambda
from scripts.testbed.terraform_offline.hcl_scan import REPO_ROOT
from scripts.testbed.terraform_offline.workspace import offline_workspace

ROOTS_WITH_TESTS = sorted(
    path.parent.parent for path in (REPO_ROOT / "terraform" / "accounts").glob("*/tests/*.tftest.hcl")
)


def terraform(arguments: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scripts.cli.tf", *arguments],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


@pytest.mark.slow
@pytest.mark.terraform
@pytest.mark.parametrize("root", ROOTS_WITH_TESTS, ids=lambda path: path.name)
def test_account_root_terraform_tests_pass(root: Path) -> None:
    # The workload root hashes the Lambda zip at plan time.
    build_lambda.build()
    with offline_workspace() as workspace:
        copy = workspace.prepare_root(root)
        env = workspace.environment()

        init = terraform(["init", "-input=false", "-no-color"], copy, env)
        assert init.returncode == 0, init.stdout + init.stderr

        result = terraform(["test", "-no-color"], copy, env)

    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    assert "0 failed" in result.stdout


def test_the_workload_root_has_terraform_tests() -> None:
    assert REPO_ROOT / "terraform" / "accounts" / "workload" in ROOTS_WITH_TESTS
