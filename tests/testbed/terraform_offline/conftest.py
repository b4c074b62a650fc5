"""Equipment for running the real Terraform 1.15 against the offline stand-in in a temporary directory."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from scripts.testbed.terraform_offline.hcl_scan import REPO_ROOT
from scripts.testbed.terraform_offline.workspace import install_standin, offline_environment

TerraformRunner = Callable[..., subprocess.CompletedProcess[str]]

TINY_CONFIG = """
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0"
    }
  }
}

provider "aws" {
  region = "eu-west-1"
}

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

resource "aws_sns_topic" "alerts" {
  name = "alerts-${data.aws_region.current.region}"
}

data "aws_iam_policy_document" "publish" {
  statement {
    sid       = "AllowBudgetsToPublish"
    actions   = ["sns:Publish"]
    resources = ["arn:aws:sns:eu-west-1:${data.aws_caller_identity.current.account_id}:alerts"]
    principals {
      type        = "Service"
      identifiers = ["budgets.amazonaws.com"]
    }
  }
}

output "policy" {
  value = data.aws_iam_policy_document.publish.json
}

output "topic_arn" {
  value = aws_sns_topic.alerts.arn
}
"""


@pytest.fixture
def tiny_config(tmp_path: Path) -> Path:
    config = tmp_path / "config"
    config.mkdir()
    (config / "main.tf").write_text(TINY_CONFIG, encoding="utf-8")
    return config


@pytest.fixture
def offline_terraform(tmp_path: Path) -> TerraformRunner:
    """Run `python -m scripts.cli.tf ARGS` in a directory with the stand-in as hashicorp/aws."""
    env = offline_environment(install_standin(tmp_path / "standin"))

    def run(directory: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "scripts.cli.tf", *arguments, "-no-color"],
            cwd=directory,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    return run


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT
