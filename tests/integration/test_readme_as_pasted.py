"""The README works as pasted: `make serve` (its own command, on free ports) prints the export lines, and
each SDK snippet of the README, exported and run as a new user would in a shell, answers against the
workload account's tenants; the "Adding a tenant" HCL is `terraform fmt`-clean as written."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts import REPO_ROOT
from tests.conftest import free_port

pytestmark = pytest.mark.xdist_group("readme_as_pasted")

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
SNIPPETS = dict(re.findall(r"<!-- snippet: ([\w-]+) -->\n```python\n(.*?)```", README, re.DOTALL))


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """The export lines `make serve` prints, while it runs (make's own command, free ports)."""
    log = tmp_path_factory.mktemp("serve") / "stderr"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env.pop("MAKEFLAGS", None)
    with log.open("w") as errors:
        process = subprocess.Popen(
            # This interpreter's venv (the one pytest runs in) for make's own recipe.
            [
                "make",
                "--no-print-directory",
                "serve",
                f"PORT={free_port()}",
                f"HTTPS_PORT={free_port()}",
                f"VENV={sys.prefix}",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            start_new_session=True,  # make and the stack it starts: one process group to stop
        )
    try:
        assert process.stdout is not None
        banner: list[str] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            assert line, f"make serve exited early: {''.join(banner)}{log.read_text()}"
            banner.append(line)
            if "Ctrl-C stops everything" in line:
                break
        lines = [line.strip() for line in banner if line.strip().startswith("export ")]
        assert lines, "".join(banner)
        yield lines
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_the_readme_has_the_sdk_snippets() -> None:
    assert set(SNIPPETS) >= {"bedrock", "bedrock-nova-invoke", "langchain", "openai", "anthropic"}


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_each_readme_snippet_runs_as_pasted_after_the_banners_exports(
    exports: list[str], name: str, tmp_path: Path
) -> None:
    script = tmp_path / f"readme_{name.replace('-', '_')}.py"  # never shadowing the SDK it imports
    # The snippet verbatim; one line after it shows what it answered.
    script.write_text(SNIPPETS[name] + "\nprint('ANSWER:', answer)\n", encoding="utf-8")
    shell = "\n".join([*exports, f'exec "{sys.executable}" "{script}"'])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "COST_SENTRY_"))}

    finished = subprocess.run(
        ["bash", "-c", shell], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )

    assert finished.returncode == 0, finished.stderr[-3000:]
    assert re.search(r"^ANSWER: \S", finished.stdout, re.MULTILINE), finished.stdout


def test_the_adding_a_tenant_snippet_is_terraform_fmt_clean(tmp_path: Path) -> None:
    section = README[README.index("## Adding a tenant") :]
    match = re.search(r"```hcl\n(.*?)```", section, re.DOTALL)
    assert match, "no HCL snippet under 'Adding a tenant'"
    snippet = tmp_path / "terraform.tfvars"
    snippet.write_text(match.group(1), encoding="utf-8")

    finished = subprocess.run(
        [sys.executable, "-m", "scripts.cli.tf", "fmt", "-check", "-diff", str(snippet)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert finished.returncode == 0, finished.stdout + finished.stderr
