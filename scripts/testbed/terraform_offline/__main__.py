"""Offline Terraform verification: `python -m scripts.testbed.terraform_offline <command>`.

    validate-all [--only PATH ...] [--no-checkov] [--jobs N]
        fmt/init/validate/test every module, fmt/init/validate/plan every account root, checkov.
    plan-json ROOT
        print `terraform show -json` of ROOT's offline plan (for tests and reviews).
    validate-real [--jobs N]
        validate/plan/test every module and root with the real hashicorp/aws from a filesystem mirror
        (prints a skip line when the machine has none).
    outputs ROOT [--var-file FILE]
        print ROOT's planned output values as JSON, in the shape of `terraform output -json` (cached).
    preview ROOT [--var-file FILE]
        `make preview`: what ROOT would create per tenant, or each broken tenant rule in a line.

See docs/offline-terraform.md for how it works and what it cannot catch.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from scripts.testbed.terraform_offline.runner import plan_json, validate_all


def print_outputs(root: Path, var_file: Path | None) -> int:
    import json
    import sys

    from scripts.testbed.terraform_offline.outputs import PlanError, plan_outputs

    try:
        print(json.dumps(plan_outputs(root, var_file=var_file), indent=2, sort_keys=True))
    except PlanError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


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
    commands.add_parser(
        "smoke-apply", help="apply both account roots to moto with the real provider, destroy"
    )
    real = commands.add_parser("validate-real", help="the same checks with the real AWS provider, if present")
    real.add_argument("--jobs", type=int, default=2)
    outputs = commands.add_parser("outputs", help="print the planned output values of an account root")
    outputs.add_argument("root", type=Path)
    outputs.add_argument("--var-file", type=Path, help="instead of the root's terraform.tfvars")
    preview = commands.add_parser("preview", help="the offline plan of an account root, in a few lines")
    preview.add_argument("root", type=Path)
    preview.add_argument("--var-file", type=Path, help="instead of the root's terraform.tfvars")
    args = parser.parse_args(argv)
    if args.command == "preview":
        from scripts.testbed.terraform_offline.preview import preview as run_preview

        return run_preview(args.root, args.var_file)
    if args.command == "smoke-apply":
        from scripts.testbed.terraform_offline.smoke_apply import smoke_apply

        return 0 if smoke_apply() else 1
    if args.command == "validate-real":
        from scripts.testbed.terraform_offline.real_provider import validate_real

        return 0 if validate_real(jobs=args.jobs).ok else 1
    if args.command == "outputs":
        return print_outputs(args.root, args.var_file)
    if args.command == "plan-json":
        return plan_json(args.root)
    report = validate_all(only=args.only, run_checks=not args.no_checkov, jobs=args.jobs)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
