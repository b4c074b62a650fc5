"""A throwaway copy of the repository's HCL, wired to the offline provider stand-in.

Nothing here ever writes into the source tree: Terraform's working directories, the backend override
and every state file live in a temporary directory that is removed afterwards. Module and account
directories are copied (they receive `.terraform/` and, for roots, a local-backend override); every
other top-level entry is symlinked so that paths like `${path.module}/../../build/lambda.zip` resolve
exactly as they do in the repository.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from scripts.testbed.terraform_offline.hcl_scan import REPO_ROOT

COPIED_TOP_LEVEL = ("modules", "terraform")
NOT_LINKED = frozenset({".git", ".venv", ".terraform"})
_IGNORED = shutil.ignore_patterns(".terraform", "*.tfstate", "*.tfstate.*", "tfplan", "*.tfplan", "crash.log")

BACKEND_OVERRIDE = """# Written by scripts/testbed/terraform_offline into a temporary copy, never into the repository:
# the account roots keep their S3 backend, offline verification keeps its state here.
terraform {
  backend "local" {
    path = "%s"
  }
}
"""


@dataclass(frozen=True)
class OfflineWorkspace:
    root: Path  # mirror of the repository root
    cli_config: Path

    def mirror(self, source: Path) -> Path:
        """The copy of a repository directory inside the workspace."""
        return self.root / source.resolve().relative_to(REPO_ROOT)

    def environment(self) -> dict[str, str]:
        return offline_environment(self.cli_config)

    def prepare_root(self, source: Path) -> Path:
        """The copy of an account root, with its backend swapped for a local one inside the workspace."""
        copy = self.mirror(source)
        state = self.root.parent / "state" / f"{source.name}.tfstate"
        state.parent.mkdir(exist_ok=True)
        (copy / "zz_offline_backend_override.tf").write_text(BACKEND_OVERRIDE % state, encoding="utf-8")
        return copy


def offline_environment(cli_config: Path) -> dict[str, str]:
    """The environment for Terraform commands that must use the stand-in and never the network."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TF_", "AWS_")) and key != "CHECKPOINT_DISABLE"
    }
    env.update(
        TF_CLI_CONFIG_FILE=str(cli_config),
        CHECKPOINT_DISABLE="1",
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        PYTHONPATH=str(REPO_ROOT),
        # The stand-in never calls AWS; these only keep any stray SDK use away from real accounts.
        AWS_ACCESS_KEY_ID="offline",
        AWS_SECRET_ACCESS_KEY="offline",  # noqa: S106 - a placeholder, not a secret
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def install_standin(base: Path) -> Path:
    """Write the plugin launcher and the dev_overrides CLI configuration under base; return the config."""
    plugin_dir = base / "plugins"
    plugin_dir.mkdir(parents=True, exist_ok=True)
    write_plugin_launcher(plugin_dir)
    cli_config = base / "offline.tfrc"
    write_cli_config(cli_config, plugin_dir)
    return cli_config


def write_cli_config(path: Path, plugin_dir: Path) -> None:
    path.write_text(
        "provider_installation {\n"
        "  dev_overrides {\n"
        f'    "hashicorp/aws" = "{plugin_dir}"\n'
        "  }\n"
        "  direct {}\n"
        "}\n",
        encoding="utf-8",
    )


def write_plugin_launcher(plugin_dir: Path) -> Path:
    """The executable Terraform starts as `terraform-provider-aws`: our stand-in on this venv's Python."""
    launcher = plugin_dir / "terraform-provider-aws"
    launcher.write_text(
        "#!/bin/sh\n"
        f"PYTHONPATH='{REPO_ROOT}' exec '{sys.executable}' -m scripts.testbed.terraform_offline.provider \"$@\"\n",
        encoding="utf-8",
    )
    launcher.chmod(launcher.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return launcher


@contextmanager
def offline_workspace(keep: bool = False) -> Iterator[OfflineWorkspace]:
    base = Path(tempfile.mkdtemp(prefix="cost-sentry-offline-tf-"))
    try:
        cli_config = install_standin(base)
        mirror = base / "repo"
        mirror.mkdir()
        for entry in REPO_ROOT.iterdir():
            if entry.name in COPIED_TOP_LEVEL and entry.is_dir():
                shutil.copytree(entry, mirror / entry.name, ignore=_IGNORED, symlinks=True)
            elif entry.name not in NOT_LINKED:
                (mirror / entry.name).symlink_to(entry)
        yield OfflineWorkspace(root=mirror, cli_config=cli_config)
    finally:
        if keep:
            print(f"kept the offline workspace at {base}", file=sys.stderr)
        else:
            shutil.rmtree(base, ignore_errors=True)
