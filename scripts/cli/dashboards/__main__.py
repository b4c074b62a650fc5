"""Command line: `python -m scripts.cli.dashboards render|deploy` (make dashboards ACCOUNT=billing).

render  writes the Cost Sentry dashboard's cid-cmd resources (view SQL, dataset, QuickSight definition)
deploy  renders them, then runs cid-cmd deploy for CUDOS v5, KPI and the Cost Sentry dashboard over the
        billing account's CUR 2.0 table (`--dry-run` prints the cid-cmd command lines instead)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scripts.cli.dashboards import (
    CID_CMD,
    CID_DASHBOARDS,
    CurTable,
    DashboardsError,
    cid_commands,
    shell_line,
)
from scripts.cli.dashboards.cost_sentry import DASHBOARD_ID, resources

RESOURCES_FILE = "cost-sentry-resources.yaml"


def _directory(args: argparse.Namespace) -> Any:
    from scripts.cli.reports.tenants import load_outputs_json, workload_directory

    # The tenants the view resolves: the workload root's outputs, as the reports read them.
    return load_outputs_json(args.tenants) if args.tenants else workload_directory()


def render(args: argparse.Namespace) -> Path:
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / RESOURCES_FILE
    # JSON is YAML: cid-cmd reads the file with yaml.safe_load, and JSON needs no extra dependency here.
    path.write_text(json.dumps(resources(_directory(args)), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)
    return path


def command_render(args: argparse.Namespace) -> int:
    render(args)
    return 0


def command_deploy(args: argparse.Namespace) -> int:
    try:
        outputs = json.loads(args.outputs.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise DashboardsError(
            f"cannot read the billing account's outputs from {args.outputs}: {error}"
        ) from error
    cur = CurTable.from_outputs(outputs)
    resources_path = render(args)
    commands = cid_commands(
        cur,
        args.quicksight_user,
        resources_path.resolve(),
        cid_cmd=args.cid_cmd,
        account_map=args.account_map,
        dashboards=args.dashboard or (*CID_DASHBOARDS, DASHBOARD_ID),
    )
    for command in commands:
        print(shell_line(command))
        if args.dry_run:
            continue
        if not args.cid_cmd.exists():
            raise DashboardsError(f"{args.cid_cmd} is missing: run make install (it sets up .venv-cid)")
        completed = subprocess.run(command, check=False)
        if completed.returncode:
            print(f"error: cid-cmd failed ({completed.returncode}) for {command[command.index('--dashboard-id') + 1]}",
                  file=sys.stderr)  # fmt: skip
            return completed.returncode
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m scripts.cli.dashboards", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--out", type=Path, default=Path("build/dashboards"), help="where the resources go")
        sub.add_argument(
            "--tenants",
            type=Path,
            help="`terraform output -json` of the workload root (default: its offline plan), for the tenant names",
        )

    render_parser = commands.add_parser("render", help="write the Cost Sentry dashboard's cid-cmd resources")
    common(render_parser)
    render_parser.set_defaults(handler=command_render)

    deploy = commands.add_parser(
        "deploy", help="cid-cmd deploy of CUDOS v5, KPI and the Cost Sentry dashboard"
    )
    common(deploy)
    deploy.add_argument(
        "--outputs", type=Path, required=True, help="`terraform output -json` of terraform/accounts/billing"
    )
    deploy.add_argument(
        "--quicksight-user", required=True, help="the QuickSight user who owns the dashboards"
    )
    deploy.add_argument(
        "--account-map-source",
        dest="account_map",
        choices=("organization", "dummy"),
        default="organization",
        help="account names from AWS Organizations (the billing account) or none",
    )
    deploy.add_argument(
        "--dashboard",
        action="append",
        choices=(*CID_DASHBOARDS, DASHBOARD_ID),
        help="only this dashboard (repeatable; default all three)",
    )
    deploy.add_argument(
        "--cid-cmd", type=Path, default=CID_CMD, help="cid-cmd executable (default .venv-cid's)"
    )
    deploy.add_argument("--dry-run", action="store_true", help="print the cid-cmd command lines, run nothing")
    deploy.set_defaults(handler=command_deploy)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    from scripts.cli.reports.tenants import TenantConfigError

    args = parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (DashboardsError, TenantConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
