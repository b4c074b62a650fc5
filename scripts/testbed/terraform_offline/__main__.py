"""Offline Terraform verification: `python -m scripts.testbed.terraform_offline <command>`.

    validate-all [--only PATH ...] [--no-checkov] [--jobs N]
        fmt/init/validate/test every module, fmt/init/validate/plan every account root, checkov.
    plan-json ROOT
        print `terraform show -json` of ROOT's offline plan (for tests and reviews).

See docs/offline-terraform.md for how it works and what it cannot catch.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from scripts.testbed.terraform_offline.runner import plan_json, validate_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.testbed.terraform_offline", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate-all", help="verify every module and account root offline")
    validate.add_argument("--only", type=Path, action="append", default=[], help="a module or root directory")
    validate.add_argument("--no-checkov", action="store_true", help="skip checkov and the skip-reason check")
    validate.add_argument("--jobs", type=int, default=2, help="modules/roots verified at once (default 2)")
    plan = commands.add_parser("plan-json", help="print the offline plan of an account root as JSON")
    plan.add_argument("root", type=Path)
    args = parser.parse_args(argv)
    if args.command == "plan-json":
        return plan_json(args.root)
    report = validate_all(only=args.only, run_checks=not args.no_checkov, jobs=args.jobs)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
