"""The real-provider runs' equipment: finding the mirror, relaxing versions, stubbing what moto lacks."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from scripts.testbed.terraform_offline.hcl_scan import REPO_ROOT
from scripts.testbed.terraform_offline.real_provider import MIRROR_SETTING, find_mirror, relax_versions
from scripts.testbed.terraform_offline.smoke_apply import UNSUPPORTED_BY_MOTO, stub_unsupported


def fake_mirror(base: Path, version: str = "5.100.0") -> Path:
    folder = base / "registry.terraform.io" / "hashicorp" / "aws" / version / "linux_amd64"
    binary = folder / f"terraform-provider-aws_v{version}_x5"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    return base


def test_the_setting_names_the_mirror_and_its_version(tmp_path: Path) -> None:
    mirror = find_mirror({MIRROR_SETTING: str(fake_mirror(tmp_path / "plugins", "5.99.1"))})

    assert mirror is not None
    assert (mirror.path, mirror.version) == (tmp_path / "plugins", "5.99.1")


def test_a_folder_without_an_executable_provider_is_no_mirror(tmp_path: Path) -> None:
    base = fake_mirror(tmp_path / "plugins")
    for binary in base.rglob("terraform-provider-aws_v*"):
        binary.chmod(0o644)

    found = find_mirror({MIRROR_SETTING: str(base)})

    assert found is None or found.path != base


def test_version_constraints_are_relaxed_in_the_copy_only(tmp_path: Path) -> None:
    copy = tmp_path / "terraform"
    shutil.copytree(REPO_ROOT / "terraform", copy)

    relax_versions(copy, "5.100.0")

    text = (copy / "accounts" / "workload" / "versions.tf").read_text()
    assert re.search(r'version\s*=\s*">= 5.100.0"', text)
    assert '"6.69.1"' in (REPO_ROOT / "terraform" / "accounts" / "workload" / "versions.tf").read_text()


def test_only_the_listed_types_are_stubbed_and_every_reference_follows(tmp_path: Path) -> None:
    copy = tmp_path / "modules"
    shutil.copytree(REPO_ROOT / "modules", copy, ignore=shutil.ignore_patterns(".terraform"))

    stubbed = stub_unsupported(copy)

    assert {line.split(": ")[1].split(".")[0] for line in stubbed} == set(UNSUPPORTED_BY_MOTO)
    every_tf = "\n".join(p.read_text() for p in copy.rglob("*.tf"))
    for type_name in UNSUPPORTED_BY_MOTO:
        assert not re.search(rf'resource\s+"{type_name}"', every_tf)
        assert not re.search(rf"\b{type_name}\.\w", every_tf), type_name
    assert 'resource "aws_lambda_function"' in every_tf  # what moto can create stays real
    profiles = (copy / "inference-profiles" / "main.tf").read_text()
    stub_header = r'resource "terraform_data" "stub__aws_bedrock_inference_profile__this" \{\n  for_each ='
    assert re.search(stub_header, profiles)  # the stand-in keeps the resource's for_each


def test_without_a_mirror_the_real_provider_run_says_it_skips(capsys: pytest.CaptureFixture[str]) -> None:
    from scripts.testbed.terraform_offline.real_provider import validate_real

    report = validate_real(find=lambda: None)

    assert report.ok and not report.results
    assert "real AWS provider: skipped, no hashicorp/aws in a filesystem mirror" in capsys.readouterr().out


def test_the_smoke_apply_may_destroy_the_container_examples_load_balancer() -> None:
    from scripts.testbed.terraform_offline.smoke_apply import CONTAINER_EXAMPLE, EXAMPLES, throwaway_overrides

    # The complete example is applied beside the roots, with its deletion protection off for the destroy
    assert CONTAINER_EXAMPLE in EXAMPLES
    assert (
        throwaway_overrides(CONTAINER_EXAMPLE)
        == 'module "gateway_container" {\n  deletion_protection = false\n}\n'
    )
    # ... as the workload root's gateway module's, and the container module's when the root builds it
    overrides = throwaway_overrides(REPO_ROOT / "terraform" / "accounts" / "workload")
    assert 'module "gateway" {\n  deletion_protection = false\n}' in overrides
    assert 'module "gateway_container" {\n  deletion_protection = false\n}' in overrides
