"""`python -m scripts.cli.tf`: the pinned Terraform CLI, arguments through, exit code back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.testbed.terraform_offline.hcl_scan import REPO_ROOT

pytestmark = pytest.mark.terraform


def tf(*arguments: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "scripts.cli.tf", *arguments],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_runs_terraform_1_15() -> None:
    completed = tf("version")

    assert completed.returncode == 0
    assert completed.stdout.startswith("Terraform v1.15.")


def test_preserves_the_exit_code_and_output_of_a_failing_command(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('variable "x" {\ntype=string\n}\n', encoding="utf-8")

    completed = tf("fmt", "-check", "-no-color", cwd=tmp_path)

    assert completed.returncode == 3  # terraform fmt -check: "not formatted"
    assert "main.tf" in completed.stdout
    assert (tmp_path / "main.tf").read_text() == 'variable "x" {\ntype=string\n}\n'


def test_unknown_commands_fail() -> None:
    completed = tf("no-such-command")

    assert completed.returncode == 1
    assert 'Terraform has no command named "no-such-command"' in completed.stderr
