"""The real Terraform 1.15 with the stand-in: validate, plan, terraform test and the refused apply."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.testbed.terraform_offline.conftest import TerraformRunner

pytestmark = [pytest.mark.terraform, pytest.mark.slow]


def test_a_tiny_config_validates_and_plans(tiny_config: Path, offline_terraform: TerraformRunner) -> None:
    assert offline_terraform(tiny_config, "init", "-input=false", "-backend=false").returncode == 0
    validated = offline_terraform(tiny_config, "validate")
    assert validated.returncode == 0, validated.stderr

    planned = offline_terraform(tiny_config, "plan", "-refresh=false", "-input=false", "-out=tfplan")
    assert planned.returncode == 0, planned.stderr
    shown = offline_terraform(tiny_config, "show", "-json", "tfplan")
    plan = json.loads(shown.stdout)

    topic = next(r for r in plan["resource_changes"] if r["address"] == "aws_sns_topic.alerts")
    assert topic["change"]["actions"] == ["create"]
    assert topic["change"]["after"]["name"] == "alerts-eu-west-1"
    assert topic["change"]["after_unknown"]["arn"] is True
    policy = json.loads(plan["planned_values"]["outputs"]["policy"]["value"])
    assert policy["Statement"][0]["Principal"] == {"Service": "budgets.amazonaws.com"}
    assert policy["Statement"][0]["Resource"] == "arn:aws:sns:eu-west-1:111111111111:alerts"


def test_an_unknown_argument_fails_validation(tiny_config: Path, offline_terraform: TerraformRunner) -> None:
    main = tiny_config / "main.tf"
    main.write_text(main.read_text().replace('name = "alerts-', 'nmae = "alerts-'), encoding="utf-8")
    offline_terraform(tiny_config, "init", "-input=false", "-backend=false")

    validated = offline_terraform(tiny_config, "validate")

    assert validated.returncode == 1
    assert 'An argument named "nmae" is not expected here' in validated.stderr


def test_apply_is_refused_by_the_stand_in(tiny_config: Path, offline_terraform: TerraformRunner) -> None:
    offline_terraform(tiny_config, "init", "-input=false", "-backend=false")

    applied = offline_terraform(tiny_config, "apply", "-auto-approve", "-input=false", "-refresh=false")

    assert applied.returncode == 1
    assert "schema-only stand-in: apply is refused" in applied.stderr
    assert (
        not (tiny_config / "terraform.tfstate").exists()
        or "aws_sns_topic" not in (tiny_config / "terraform.tfstate").read_text()
    )


TEST_FILE = """
run "publish_policy_is_scoped_to_budgets" {
  command = plan

  assert {
    condition = jsondecode(data.aws_iam_policy_document.publish.json).Statement[0].Principal.Service == "%s"
    error_message = "only AWS Budgets may publish"
  }
}
"""


@pytest.mark.parametrize(
    ("service", "passes"), [("budgets.amazonaws.com", True), ("sns.amazonaws.com", False)]
)
def test_terraform_test_asserts_on_rendered_policies(
    tiny_config: Path, offline_terraform: TerraformRunner, service: str, passes: bool
) -> None:
    (tiny_config / "tests").mkdir()
    (tiny_config / "tests" / "policy.tftest.hcl").write_text(TEST_FILE % service, encoding="utf-8")
    offline_terraform(tiny_config, "init", "-input=false", "-backend=false")

    tested = offline_terraform(tiny_config, "test")

    assert (tested.returncode == 0) is passes, tested.stdout + tested.stderr
    if not passes:
        assert "only AWS Budgets may publish" in tested.stdout + tested.stderr
