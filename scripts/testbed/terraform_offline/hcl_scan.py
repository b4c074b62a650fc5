"""Find the Terraform modules, account roots and AWS resource types in the repository by scanning the HCL.

Plain regular expressions over `*.tf` files are enough here: resource and data headers are always a
keyword followed by quoted labels on one line, and `terraform fmt` keeps them that way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from scripts import REPO_ROOT

_BLOCK_HEADER = re.compile(r'^\s*(resource|data)\s+"(aws_[a-z0-9_]+)"', re.MULTILINE)


@dataclass(frozen=True)
class UsedTypes:
    resources: frozenset[str]
    data_sources: frozenset[str]


def tf_files(*directories: Path) -> list[Path]:
    """Every `.tf` file below the directories, skipping Terraform's own working directories."""
    files: list[Path] = []
    for directory in directories:
        if directory.is_dir():
            files.extend(path for path in directory.rglob("*.tf") if ".terraform" not in path.parts)
    return sorted(files)


def used_aws_types(*directories: Path) -> UsedTypes:
    resources: set[str] = set()
    data_sources: set[str] = set()
    for path in tf_files(*directories):
        for kind, type_name in _BLOCK_HEADER.findall(path.read_text(encoding="utf-8")):
            (resources if kind == "resource" else data_sources).add(type_name)
    return UsedTypes(frozenset(resources), frozenset(data_sources))


def has_tf_files(directory: Path) -> bool:
    return any(directory.glob("*.tf"))


def discover_modules(repo_root: Path = REPO_ROOT) -> list[Path]:
    """Every `modules/<concern>/` that holds Terraform code."""
    modules_dir = repo_root / "modules"
    if not modules_dir.is_dir():
        return []
    return sorted(path for path in modules_dir.iterdir() if path.is_dir() and has_tf_files(path))


def discover_roots(repo_root: Path = REPO_ROOT) -> list[Path]:
    """Every `terraform/accounts/<account>/` that holds Terraform code."""
    accounts_dir = repo_root / "terraform" / "accounts"
    if not accounts_dir.is_dir():
        return []
    return sorted(path for path in accounts_dir.iterdir() if path.is_dir() and has_tf_files(path))


_REQUIRED_PROVIDERS = re.compile(r"\brequired_providers\s*\{")
_MODULE_HEADER = re.compile(r'^\s*module\s+"([^"]+)"\s*\{', re.MULTILINE)
_SOURCE = re.compile(r'^\s*source\s*=\s*"([^"]+)"', re.MULTILINE)


def _block_body(text: str, opening_brace: int) -> str:
    """The text between a `{` and its matching `}` (HCL strings rarely hold braces in these blocks)."""
    depth = 0
    for index in range(opening_brace, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return text[opening_brace + 1 : index]
    return text[opening_brace + 1 :]


def offline_blockers(*directories: Path) -> list[str]:
    """What `terraform init` could only fetch from the network: other providers, non-local modules."""
    blockers: list[str] = []
    for path in tf_files(*directories):
        text = path.read_text(encoding="utf-8")
        shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
        for match in _REQUIRED_PROVIDERS.finditer(text):
            for source in _SOURCE.findall(_block_body(text, match.end() - 1)):
                if source.lower() not in ("hashicorp/aws", "registry.terraform.io/hashicorp/aws"):
                    blockers.append(
                        f"{shown}: provider {source} (only hashicorp/aws has an offline stand-in)"
                    )
        for match in _MODULE_HEADER.finditer(text):
            sources = _SOURCE.findall(_block_body(text, match.end() - 1))
            if sources and not sources[0].startswith(("./", "../")):
                blockers.append(
                    f'{shown}: module "{match.group(1)}" from {sources[0]} (only local modules work offline)'
                )
    return blockers
