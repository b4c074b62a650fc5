"""`validate-real`: every module and account root validated, planned and tested with the REAL
hashicorp/aws provider, where the machine carries one in a Terraform filesystem mirror.

The real provider checks what the schema stand-in cannot (ARN formats, enum values, conflicting
arguments). It runs in a temporary copy of the HCL, never the source tree:

- the mirror is ``$COST_SENTRY_AWS_PROVIDER_MIRROR``, else found by looking for
  ``registry.terraform.io/hashicorp/aws/<version>/<os_arch>/terraform-provider-aws_v*`` under a few
  usual folders (/opt, /usr/local/share, /usr/share, ~/.terraform.d);
- a CLI configuration with ``provider_installation { filesystem_mirror { ... } }`` (no network);
- the copy's aws version constraints relaxed to ``>= <mirror version>`` (the roots pin 6.69.1);
- a provider configuration with fake credentials and every ``skip_*`` flag, so nothing calls AWS:
  an ``*_override.tf`` in the roots (which have a provider block), a plain file in the modules (in a
  second copy, so the roots call provider-free modules).

No mirror: one printed skip line, and success (the stand-in run still covers every unit).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from scripts.testbed.terraform_offline.hcl_scan import REPO_ROOT, discover_modules, discover_roots
from scripts.testbed.terraform_offline.runner import (
    OUTPUT_TAIL_LINES,
    TFVARS,
    Report,
    StepResult,
    _display,
    _print_result,
    build_lambda,
    terraform,
)
from scripts.testbed.terraform_offline.workspace import BACKEND_OVERRIDE, COPIED_TOP_LEVEL, NOT_LINKED

MIRROR_SETTING = "COST_SENTRY_AWS_PROVIDER_MIRROR"
SEARCHED = (Path("/opt"), Path("/usr/local/share"), Path("/usr/share"), Path.home() / ".terraform.d")
_BINARY_GLOB = "registry.terraform.io/hashicorp/aws/*/*/terraform-provider-aws_v*"
# What the mirror's provider (5.100) predates, in one place: the copy drops it before the real run, and the
# run says so. The schema stand-in (6.69.1) still checks all of it.
NEWER_THAN_MIRROR_ARGUMENTS = {
    # API Gateway REST response streaming (November 2025): aws_api_gateway_integration in provider 6.x.
    "response_transfer_mode": "aws_api_gateway_integration response streaming (provider 6.x)",
}
NEWER_THAN_MIRROR_TESTS = {
    # logging_config is a list of blocks in 6.x and one nested object in 5.x: the assertions index it.
    "modules/invocation-logging/tests/logging.tftest.hcl": "logging_config's 6.x block shape",
    # The surfaces' assertions read response_transfer_mode (above).
    "modules/gateway/tests/surfaces.tftest.hcl": "the SDK surfaces' streaming integrations",
}
_NEWER_ARGUMENT = re.compile(
    r"^[ \t]*(?:" + "|".join(map(re.escape, NEWER_THAN_MIRROR_ARGUMENTS)) + r")[ \t]*=.*\n", re.M
)


def drop_newer_than_mirror(directory: Path) -> None:
    """Remove from a copy what the mirror's older provider cannot know (NEWER_THAN_MIRROR_*)."""
    for path in directory.rglob("*.tf"):
        text = path.read_text(encoding="utf-8")
        dropped = _NEWER_ARGUMENT.sub("", text)
        if dropped != text:
            path.write_text(dropped, encoding="utf-8")
    for test in NEWER_THAN_MIRROR_TESTS:
        (directory.parent / test).unlink(missing_ok=True)


_IGNORED = shutil.ignore_patterns(".terraform", "*.tfstate", "*.tfstate.*", "tfplan", "*.tfplan", "crash.log")
# `version = "6.69.1"` / `version = ">= 6.0"` inside the aws entry of required_providers.
_AWS_VERSION = re.compile(r'(source\s*=\s*"hashicorp/aws"\s*\n\s*version\s*=\s*)"[^"]*"')

PROVIDER_CONFIG = """# Written by scripts/testbed/terraform_offline/real_provider.py into a temporary copy only:
# the real provider with fake credentials; nothing here may reach AWS.
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "real-provider-check"
  secret_key                  = "real-provider-check"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  allowed_account_ids         = null
}
"""


@dataclass(frozen=True)
class Mirror:
    path: Path  # the folder that holds registry.terraform.io/
    version: str


def find_mirror(environ: os._Environ[str] | dict[str, str] = os.environ) -> Mirror | None:
    """The filesystem mirror with a real hashicorp/aws provider, from the setting or by discovery."""
    candidates = [Path(environ[MIRROR_SETTING])] if environ.get(MIRROR_SETTING) else []
    for base in SEARCHED:
        if base.is_dir():
            candidates += [base / entry for entry in sorted(os.listdir(base))]
    for folder in candidates:
        for binary in sorted(folder.glob(_BINARY_GLOB)):
            if os.access(binary, os.X_OK):
                return Mirror(path=folder, version=binary.parent.parent.name)
    return None


def write_cli_config(path: Path, mirror: Mirror) -> None:
    path.write_text(
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{mirror.path}"\n'
        '    include = ["registry.terraform.io/hashicorp/aws"]\n'
        "  }\n"
        "}\n",
        encoding="utf-8",
    )


def relax_versions(directory: Path, version: str) -> None:
    for path in directory.rglob("*.tf"):
        text = path.read_text(encoding="utf-8")
        relaxed = _AWS_VERSION.sub(rf'\g<1>">= {version}"', text)
        if relaxed != text:
            path.write_text(relaxed, encoding="utf-8")


@dataclass(frozen=True)
class RealWorkspace:
    root: Path
    cli_config: Path

    def mirror(self, source: Path) -> Path:
        return self.root / source.resolve().relative_to(REPO_ROOT)

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "AWS_"))}
        env.update(
            TF_CLI_CONFIG_FILE=str(self.cli_config),
            CHECKPOINT_DISABLE="1",
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            AWS_EC2_METADATA_DISABLED="true",
            PYTHONPATH=str(REPO_ROOT),
        )
        return env


@contextmanager
def real_workspace(mirror: Mirror) -> Iterator[RealWorkspace]:
    base = Path(tempfile.mkdtemp(prefix="cost-sentry-real-tf-"))
    try:
        cli_config = base / "real.tfrc"
        write_cli_config(cli_config, mirror)
        copy = base / "repo"
        copy.mkdir()
        for entry in REPO_ROOT.iterdir():
            if entry.name in COPIED_TOP_LEVEL and entry.is_dir():
                shutil.copytree(entry, copy / entry.name, ignore=_IGNORED, symlinks=True)
                relax_versions(copy / entry.name, mirror.version)
                drop_newer_than_mirror(copy / entry.name)
            elif entry.name not in NOT_LINKED:
                (copy / entry.name).symlink_to(entry)
        yield RealWorkspace(root=copy, cli_config=cli_config)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _has_provider_block(directory: Path) -> bool:
    return any(
        re.search(r'^provider\s+"aws"', p.read_text(encoding="utf-8"), re.M) for p in directory.glob("*.tf")
    )


def check_unit(source: Path, workspace: RealWorkspace, is_root: bool) -> list[StepResult]:
    unit, copy, env = f"{_display(source)} (real)", workspace.mirror(source), workspace.environment()
    if _has_provider_block(copy):
        (copy / "zz_real_provider_override.tf").write_text(PROVIDER_CONFIG, encoding="utf-8")
    elif any(copy.glob("*.tf")) and "hashicorp/aws" in "".join(p.read_text() for p in copy.glob("*.tf")):
        (copy / "zz_real_provider.tf").write_text(PROVIDER_CONFIG, encoding="utf-8")
    for example in sorted(copy.glob("examples/*")):  # the examples configure a provider of their own
        if _has_provider_block(example):
            (example / "zz_real_provider_override.tf").write_text(PROVIDER_CONFIG, encoding="utf-8")
    steps: list[tuple[str, list[str]]]
    if is_root:
        state = workspace.root.parent / "state" / f"{source.name}.tfstate"
        state.parent.mkdir(exist_ok=True)
        (copy / "zz_local_backend_override.tf").write_text(BACKEND_OVERRIDE % state, encoding="utf-8")
        plan = ["plan", "-refresh=false", "-input=false", "-lock=false", "-no-color"]
        if (copy / TFVARS).is_file():
            plan.append(f"-var-file={TFVARS}")
        steps = [("init", ["init", "-input=false", "-no-color"]), ("validate", ["validate", "-no-color"])]
        steps.append(("plan", plan))
    else:
        steps = [
            ("init", ["init", "-input=false", "-backend=false", "-no-color"]),
            ("validate", ["validate", "-no-color"]),
        ]
    if any((copy / "tests").glob("*.tftest.hcl")):
        steps.append(("test", ["test", "-no-color"]))
    results: list[StepResult] = []
    for step, arguments in steps:
        results.append(terraform(unit, step, arguments, copy, env))
        if not results[-1].ok:
            break
    return results


def validate_real(jobs: int = 2, find: Callable[[], Mirror | None] = find_mirror) -> Report:
    report = Report()
    mirror = find()
    if mirror is None:
        print(
            "real AWS provider: skipped, no hashicorp/aws in a filesystem mirror on this machine "
            f"(searched {', '.join(map(str, SEARCHED))}; set {MIRROR_SETTING} to its folder)",
            flush=True,
        )
        return report
    started = time.monotonic()
    modules, roots = discover_modules(), discover_roots()
    print(
        f"real AWS provider: hashicorp/aws {mirror.version} from the filesystem mirror {mirror.path}: "
        f"validate + test of {len(modules)} modules, validate + plan + test of {len(roots)} account roots",
        flush=True,
    )
    print(
        "  not checked by this older provider (the stand-in checks them): "
        + "; ".join([*NEWER_THAN_MIRROR_ARGUMENTS.values(), *NEWER_THAN_MIRROR_TESTS]),
        flush=True,
    )

    def record(results: StepResult | list[StepResult] | None) -> None:
        for item in [results] if isinstance(results, StepResult) else (results or []):
            report.results.append(item)
            _print_result(item)

    record(build_lambda(dict(os.environ)))
    # Two copies: a module checked on its own gets a provider block, which the same module must not
    # have when a root calls it (with count/for_each).
    with (
        real_workspace(mirror) as module_copy,
        real_workspace(mirror) as root_copy,
        ThreadPoolExecutor(max_workers=max(1, jobs)) as pool,
    ):
        tasks: list[Callable[[], list[StepResult]]] = [
            *(lambda m=m: check_unit(m, module_copy, is_root=False) for m in modules),
            *(lambda r=r: check_unit(r, root_copy, is_root=True) for r in roots),
        ]
        for future in [pool.submit(task) for task in tasks]:
            record(future.result())
    failures = [result for result in report.results if not result.ok]
    for failure in failures:
        print(f"\n--- {failure.unit}: {failure.step} failed ---")
        print("\n".join(failure.output.splitlines()[-OUTPUT_TAIL_LINES:]))
    verdict = "passed" if report.ok else f"FAILED ({len(failures)} step(s))"
    print(f"\nreal AWS provider {mirror.version} {verdict} in {time.monotonic() - started:.1f}s", flush=True)
    return report


def main() -> int:
    return 0 if validate_real().ok else 1


if __name__ == "__main__":
    sys.exit(main())
