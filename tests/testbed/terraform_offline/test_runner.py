"""validate-all's own checks: schema coverage, checkov skip reasons, and what it refuses to run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.testbed.terraform_offline import runner
from scripts.testbed.terraform_offline.hcl_scan import REPO_ROOT, discover_roots


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_skip_without_a_reason_fails(tmp_path: Path) -> None:
    write(
        tmp_path / "main.tf",
        'resource "aws_sqs_queue" "a" {\n'
        "  #checkov:skip=CKV_AWS_27:messages are non-sensitive budget events, encrypted by SSE-SQS\n"
        "}\n"
        'resource "aws_sqs_queue" "b" {\n'
        "  #checkov:skip=CKV_AWS_27\n"
        "}\n",
    )

    result = runner.check_skip_reasons([tmp_path])

    assert not result.ok
    assert result.output.count("needs a reason") == 1
    assert "main.tf:5: skip of CKV_AWS_27" in result.output


def test_skips_with_reasons_pass(tmp_path: Path) -> None:
    write(tmp_path / "main.tf", "# checkov:skip=CKV2_AWS_53:the Lambda validates every body itself\n")

    assert runner.check_skip_reasons([tmp_path]).ok


def test_a_type_outside_the_schema_subset_is_reported_with_the_fix(tmp_path: Path) -> None:
    write(tmp_path / "main.tf", 'resource "aws_instance" "x" {}\ndata "aws_vpc" "y" {}\n')

    result = runner.check_schema_coverage([tmp_path])

    assert not result.ok
    assert "data aws_vpc, resource aws_instance" in result.output
    assert "gen_schema" in result.output


def test_only_refuses_a_directory_that_is_not_a_module_or_root(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="not a module or account root"):
        runner.validate_all(only=[tmp_path], run_checks=False)


def test_plan_json_refuses_a_directory_that_is_not_a_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert runner.plan_json(tmp_path) == 2
    assert "not an account root" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.terraform
def test_plan_json_of_an_account_root_leaves_the_source_tree_clean(
    capsys: pytest.CaptureFixture[str],
) -> None:
    roots = discover_roots()
    if not roots:
        pytest.skip("no account root yet")
    before = sorted(
        p for p in (REPO_ROOT / "terraform").rglob("*") if ".terraform" in p.parts or "tfstate" in p.name
    )

    code = runner.plan_json(roots[0])

    captured = capsys.readouterr()
    assert code == 0, captured.err
    plan = json.loads(captured.out)
    assert plan["format_version"].startswith("1.")
    assert plan["resource_changes"]
    after = sorted(
        p for p in (REPO_ROOT / "terraform").rglob("*") if ".terraform" in p.parts or "tfstate" in p.name
    )
    assert after == before
    assert not list(roots[0].glob("*_override.tf"))


def test_providers_and_modules_that_need_the_network_are_named(tmp_path: Path) -> None:
    write(
        tmp_path / "versions.tf",
        "terraform {\n  required_providers {\n"
        '    aws = {\n      source  = "hashicorp/aws"\n      version = ">= 6.0"\n    }\n'
        '    archive = {\n      source = "hashicorp/archive"\n    }\n  }\n}\n'
        'module "local" {\n  source = "../budgets"\n}\n'
        'module "vpc" {\n  source  = "terraform-aws-modules/vpc/aws"\n  version = "6.0.0"\n}\n',
    )

    result = runner.check_offline_dependencies([tmp_path])

    assert not result.ok
    lines = result.output.splitlines()
    assert len(lines) == 2
    assert "provider hashicorp/archive" in lines[0]
    assert 'module "vpc" from terraform-aws-modules/vpc/aws' in lines[1]


def test_the_repository_needs_nothing_from_the_network() -> None:
    result = runner.check_offline_dependencies([REPO_ROOT / "modules", REPO_ROOT / "terraform"])

    assert result.ok, result.output
