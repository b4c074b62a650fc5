"""`validate-all`: every module and account root through fmt, init, validate, plan and test, plus checkov.

Each Terraform command runs as its own `python -m scripts.cli.tf` process (Terraform keeps process-wide
state, so one in-process run per process), against a temporary copy of the HCL (see workspace.py).
Modules and roots are independent, so they run two at a time next to checkov.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from scripts.testbed.terraform_offline.hcl_scan import (
    REPO_ROOT,
    discover_modules,
    discover_roots,
    offline_blockers,
    tf_files,
    used_aws_types,
)
from scripts.testbed.terraform_offline.provider import load_schema
from scripts.testbed.terraform_offline.workspace import OfflineWorkspace, offline_workspace

CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
BUILD_LAMBDA = REPO_ROOT / "scripts" / "devtools" / "build_lambda"
TFVARS = "terraform.tfvars"
OUTPUT_TAIL_LINES = 60
# A hung provider or checkov must fail the run, not stall CI; real steps take seconds.
STEP_TIMEOUT_SECONDS = 900

# `#checkov:skip=CKV_AWS_1:reason` (checkov also accepts `# checkov:skip=...`).
_CHECKOV_SKIP = re.compile(r"checkov:skip=([A-Za-z0-9_]+)(?::(.*))?")


@dataclass
class StepResult:
    unit: str
    step: str
    ok: bool
    seconds: float
    output: str = ""
    skipped: bool = False
    stdout: str = ""


@dataclass
class Report:
    results: list[StepResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.results)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def run_command(unit: str, step: str, command: Sequence[str], cwd: Path, env: dict[str, str]) -> StepResult:
    started = time.monotonic()
    try:
        completed = subprocess.run(
            list(command),
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=STEP_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired as expired:
        partial = (
            (expired.stdout or b"").decode("utf-8", "replace") if isinstance(expired.stdout, bytes) else ""
        )
        message = f"{partial}\ntimed out after {STEP_TIMEOUT_SECONDS}s: {' '.join(command)}"
        return StepResult(unit, step, False, time.monotonic() - started, message.strip())
    output = (completed.stdout + completed.stderr).strip()
    seconds = time.monotonic() - started
    return StepResult(unit, step, completed.returncode == 0, seconds, output, stdout=completed.stdout)


def terraform(unit: str, step: str, arguments: Sequence[str], cwd: Path, env: dict[str, str]) -> StepResult:
    return run_command(unit, step, [sys.executable, "-m", "scripts.cli.tf", *arguments], cwd, env)


def _first_failure(results: list[StepResult]) -> bool:
    return bool(results) and not results[-1].ok


def check_module(source: Path, workspace: OfflineWorkspace) -> list[StepResult]:
    unit, copy, env = _display(source), workspace.mirror(source), workspace.environment()
    results = [terraform(unit, "fmt", ["fmt", "-check", "-recursive", "-diff", "-no-color"], copy, env)]
    for step, arguments in (
        ("init", ["init", "-input=false", "-backend=false", "-no-color"]),
        ("validate", ["validate", "-no-color"]),
    ):
        results.append(terraform(unit, step, arguments, copy, env))
        if _first_failure(results):
            return results
    if any((copy / "tests").glob("*.tftest.hcl")) or any(copy.glob("*.tftest.hcl")):
        results.append(terraform(unit, "test", ["test", "-no-color"], copy, env))
    else:
        results.append(StepResult(unit, "test", True, 0.0, "no *.tftest.hcl", skipped=True))
    return results


def plan_root(source: Path, workspace: OfflineWorkspace, plan_file: Path | None = None) -> list[StepResult]:
    unit, env = _display(source), workspace.environment()
    copy = workspace.prepare_root(source)
    results = [terraform(unit, "fmt", ["fmt", "-check", "-recursive", "-diff", "-no-color"], copy, env)]
    plan_arguments = ["plan", "-refresh=false", "-input=false", "-lock=false", "-no-color"]
    if (copy / TFVARS).is_file():
        plan_arguments.append(f"-var-file={TFVARS}")
    if plan_file is not None:
        plan_arguments.append(f"-out={plan_file}")
    for step, arguments in (
        ("init", ["init", "-input=false", "-no-color"]),
        ("validate", ["validate", "-no-color"]),
        ("plan", plan_arguments),
    ):
        results.append(terraform(unit, step, arguments, copy, env))
        if _first_failure(results):
            break
    return results


def check_schema_coverage(paths: Sequence[Path]) -> StepResult:
    """Every aws_* type the HCL uses must be in the schema subset, or Terraform's error is obscure."""
    started = time.monotonic()
    schema = load_schema()
    used = used_aws_types(*paths)
    missing = sorted(
        [f"resource {t}" for t in used.resources - set(schema["resource_schemas"])]
        + [f"data {t}" for t in used.data_sources - set(schema["data_source_schemas"])]
    )
    output = ""
    if missing:
        output = (
            "not in scripts/testbed/terraform_offline/aws_schema.json: "
            + ", ".join(missing)
            + "\nregenerate it: python -m scripts.testbed.terraform_offline.gen_schema --python <venv with "
            "cdktn-provider-aws> (see docs/offline-terraform.md)"
        )
    return StepResult("schema subset", "coverage", not missing, time.monotonic() - started, output)


def check_offline_dependencies(paths: Sequence[Path]) -> StepResult:
    started = time.monotonic()
    blockers = offline_blockers(*paths)
    return StepResult(
        "dependencies", "offline", not blockers, time.monotonic() - started, "\n".join(blockers)
    )


def check_skip_reasons(paths: Sequence[Path]) -> StepResult:
    """Every inline checkov skip must say why: `#checkov:skip=CKV_AWS_117:<reason>`."""
    started = time.monotonic()
    problems = []
    for path in tf_files(*paths):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for check_id, reason in _CHECKOV_SKIP.findall(line):
                if len(reason.strip()) < 10:
                    problems.append(
                        f"{_display(path)}:{number}: skip of {check_id} needs a reason "
                        f"(#checkov:skip={check_id}:<why this check does not apply>)"
                    )
    return StepResult(
        "checkov skips", "reasons", not problems, time.monotonic() - started, "\n".join(problems)
    )


def run_checkov(paths: Sequence[Path]) -> StepResult:
    unit = "checkov"
    if not CHECKOV.exists():
        return StepResult(
            unit, "checkov", False, 0.0, f"{CHECKOV} is missing: run `bash scripts/devtools/install.sh`"
        )
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    command = [
        str(CHECKOV),
        "--framework",
        "terraform",
        "--skip-download",
        "--compact",
        "--quiet",
    ]
    for path in paths:
        command += ["-d", str(path)]
    return run_command(unit, "checkov", command, REPO_ROOT, env)


def build_lambda(env: dict[str, str]) -> StepResult | None:
    """The roots package the gateway from build/; build it first when the project has the builder."""
    if not (BUILD_LAMBDA.with_suffix(".py").is_file() or (BUILD_LAMBDA / "__main__.py").is_file()):
        return None
    return run_command(
        "lambda zip", "build", [sys.executable, "-m", "scripts.devtools.build_lambda"], REPO_ROOT, env
    )


def _print_result(result: StepResult, stream: object = sys.stdout) -> None:
    status = "skip" if result.skipped else ("ok" if result.ok else "FAIL")
    print(f"  {status:4}  {result.unit:34} {result.step:10} {result.seconds:6.1f}s", file=stream, flush=True)  # type: ignore[call-overload]


def validate_all(only: Sequence[Path] = (), run_checks: bool = True, jobs: int = 2) -> Report:
    started = time.monotonic()
    modules = discover_modules()
    roots = discover_roots()
    if only:
        wanted = {path.resolve() for path in only}
        unknown = wanted - {p.resolve() for p in modules + roots}
        if unknown:
            raise SystemExit(
                "not a module or account root with .tf files: " + ", ".join(sorted(map(str, unknown)))
            )
        modules = [m for m in modules if m.resolve() in wanted]
        roots = [r for r in roots if r.resolve() in wanted]
    scan_paths = list(only) or [REPO_ROOT / "modules", REPO_ROOT / "terraform"]
    report = Report()

    def record(result: StepResult | list[StepResult] | None) -> None:
        for item in [result] if isinstance(result, StepResult) else (result or []):
            report.results.append(item)
            _print_result(item)

    print(f"offline Terraform: {len(modules)} modules, {len(roots)} account roots", flush=True)
    record(check_schema_coverage(scan_paths))
    record(check_offline_dependencies(scan_paths))
    if run_checks:
        record(check_skip_reasons(scan_paths))
    # checkov gets its own worker: it is one long process that should overlap the Terraform units.
    with (
        ThreadPoolExecutor(max_workers=1) as checkov_pool,
        ThreadPoolExecutor(max_workers=max(1, jobs)) as pool,
    ):
        checkov: Future[StepResult] | None = (
            checkov_pool.submit(run_checkov, scan_paths) if run_checks else None
        )
        if roots:
            record(build_lambda(dict(os.environ)))
        with offline_workspace() as workspace:
            tasks: list[Callable[[], list[StepResult]]] = [
                *(lambda m=m: check_module(m, workspace) for m in modules),
                *(lambda r=r: plan_root(r, workspace) for r in roots),
            ]
            for future in [pool.submit(task) for task in tasks]:
                record(future.result())
        if checkov is not None:
            record(checkov.result())
    failures = [result for result in report.results if not result.ok]
    for failure in failures:
        lines = failure.output.splitlines()
        print(f"\n--- {failure.unit}: {failure.step} failed ---")
        print("\n".join(lines[-OUTPUT_TAIL_LINES:]))
    verdict = "passed" if report.ok else f"FAILED ({len(failures)} step(s))"
    print(f"\noffline Terraform {verdict} in {time.monotonic() - started:.1f}s", flush=True)
    return report


def plan_json(root: Path) -> int:
    """Print `terraform show -json` of the offline plan of one account root; diagnostics to stderr."""
    source = root.resolve()
    if source not in {r.resolve() for r in discover_roots()}:
        print(f"not an account root: {root}", file=sys.stderr)
        return 2
    built = build_lambda(dict(os.environ))
    if built is not None and not built.ok:
        print(f"lambda zip build failed\n{built.output}", file=sys.stderr)
        return 1
    with offline_workspace() as workspace:
        plan_file = workspace.root.parent / "tfplan"
        results = plan_root(source, workspace, plan_file=plan_file)
        if not all(result.ok for result in results):
            for result in results:
                if not result.ok:
                    print(f"{result.unit}: {result.step} failed\n{result.output}", file=sys.stderr)
            return 1
        shown = terraform(
            _display(source),
            "show",
            ["show", "-json", str(plan_file)],
            workspace.mirror(source),
            workspace.environment(),
        )
        if not shown.ok:
            print(shown.output, file=sys.stderr)
            return 1
        print(shown.stdout.strip())
        return 0
