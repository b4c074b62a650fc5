"""Command line: `python -m scripts.cli.reports <command> ...` (synth, chargeback, reconcile, credit,
cost-explorer, requests, sagemaker, focus, focus-check)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any


class Progress:
    """Timestamped progress lines on stderr, so stdout stays clean for tables."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:7.2f}s] {message}", file=sys.stderr, flush=True)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from error


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation as error:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from error
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative number: {text!r}")
    return value


def _drift(text: str) -> tuple[str, Decimal]:
    tenant, separator, factor = text.partition("=")
    if not separator or not tenant:
        raise argparse.ArgumentTypeError(f"drift must look like tenant=1.05, got {text!r}")
    return tenant, _decimal(factor)


def _add_source_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cur", type=Path, help="CUR 2.0 Parquet directory or file (DuckDB engine)")
    parser.add_argument("--engine", choices=("duckdb", "athena"), default="duckdb")
    parser.add_argument("--athena-database", help="Glue database of the CUR 2.0 export (Athena engine)")
    parser.add_argument("--athena-table", help="Glue table of the CUR 2.0 export (Athena engine)")
    parser.add_argument(
        "--athena-workgroup", default="primary", help="Athena workgroup (its output location is used)"
    )
    parser.add_argument("--period", action="append", default=[], help="billing period YYYY-MM (repeatable)")
    parser.add_argument(
        "--tenants",
        type=Path,
        help="tenants and budgets: `terraform output -json` of the workload root "
        "(default: an offline plan of terraform/accounts/workload, unless --limits is given)",
    )
    parser.add_argument("--limits", type=Path, help="budget limits JSON (overrides/extends the tenants)")


def _engine(args: argparse.Namespace) -> Any:
    from scripts.cli.reports.engines import AthenaEngine, DuckDBEngine

    if args.engine == "athena":
        if not (args.athena_database and args.athena_table):
            raise SystemExit("--engine athena needs --athena-database and --athena-table")
        return AthenaEngine(args.athena_database, args.athena_table, workgroup=args.athena_workgroup)
    if args.cur is None:
        raise SystemExit("--cur DIR is required with the duckdb engine")
    return DuckDBEngine(args.cur)


def _directory(args: argparse.Namespace) -> Any:
    from scripts.cli.reports.tenants import (
        TenantDirectory,
        load_limits_json,
        load_outputs_json,
        workload_directory,
    )

    if args.tenants:
        directory = load_outputs_json(args.tenants)
    elif args.limits is None:
        directory = workload_directory()
    else:
        directory = TenantDirectory()
    if args.limits:
        directory = load_limits_json(args.limits, base=directory)
    return directory


def _print_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(value) for value in row] for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print(
            "  ".join(
                value.rjust(w) if i else value.ljust(w)
                for i, (value, w) in enumerate(zip(row, widths, strict=True))
            )
        )


def command_synth(args: argparse.Namespace) -> int:
    from scripts.cli.reports import synth

    progress = Progress()
    if args.from_ledger:
        from scripts.cli.reports.ledger import read_call_records

        progress(f"reading call records from {args.from_ledger}")
        calls = list(read_call_records(args.from_ledger, period=args.period))
        progress(f"{len(calls)} call records -> CUR 2.0 line items")
        files = synth.synthesize_from_calls(
            calls,
            args.out,
            account_id=args.account_id,
            own_principal=args.own_principal,
            cost_drift=dict(args.drift),
        )
    else:
        progress(
            f"generating {args.rows:,} CUR 2.0 line items (seed {args.seed}, {args.start} to {args.end})"
        )
        files = synth.synthesize(
            args.out,
            args.rows,
            seed=args.seed,
            start=args.start,
            end=args.end,
            account_id=args.account_id,
            name_prefix=args.name_prefix,
        )
        synth.write_tenants_json(args.out / "tenants.json", args.rows)
    progress(f"wrote {len(files)} Parquet file(s) under {args.out}")
    for path in files:
        print(path)
    return 0


def command_chargeback(args: argparse.Namespace) -> int:
    from scripts.cli.reports.chargeback import build_chargeback
    from scripts.cli.reports.money import display_places, format_usd
    from scripts.cli.reports.render import write_report

    progress = Progress()
    engine = _engine(args)
    directory = _directory(args)
    source = str(args.cur) if args.engine == "duckdb" else f"{args.athena_database}.{args.athena_table}"
    report = build_chargeback(engine, directory, args.period, progress=progress, source=source)
    reconciliation = None
    sagemaker: list[Any] = []
    if args.ledger_table:
        from scripts.cli.reports.sagemaker import allocate_endpoints, endpoint_costs

        calls = _call_records(args, progress)
        reconciliation = _reconciliation(args, engine, report, progress, calls)
        # Shared SageMaker endpoints the gateway routed calls to: their hosting cost split by tokens.
        sagemaker = allocate_endpoints(endpoint_costs(engine, args.period), calls)
    cost_explorer = []
    if args.cost_explorer_tag:
        from scripts.cli.reports.cost_explorer import cost_by_tag

        progress(f"Cost Explorer: Bedrock by {args.cost_explorer_tag}")
        start, end = _period_dates(report)
        cost_explorer = cost_by_tag(start, end, args.cost_explorer_tag, args.granularity)
    progress("writing CSV files and HTML")
    html = write_report(
        report, args.out, reconciliation=reconciliation, cost_explorer=cost_explorer, sagemaker=sagemaker
    )
    places = display_places(report.total_usd)
    _print_table(
        ["tenant", "cost", "input tokens", "output tokens"],
        [
            (t.tenant, format_usd(t.cost_usd, places), f"{t.input_tokens:,}", f"{t.output_tokens:,}")
            for t in report.tenants
        ]
        + [("TOTAL", format_usd(report.total_usd, places), "", "")],
    )
    progress(f"report: {html}")
    return 0


def _period_dates(report: Any) -> tuple[date, date]:
    if report.daily:
        first, last = report.daily[0].day, report.daily[-1].day
        return first.replace(day=1), date.fromordinal(last.toordinal() + 1)
    raise SystemExit("no Bedrock spend in the CUR data: nothing to compare with Cost Explorer")


def _call_records(args: argparse.Namespace, progress: Progress) -> list[dict[str, Any]]:
    from scripts.cli.reports.ledger import read_call_records

    if len(args.period) != 1:
        raise SystemExit("reconciliation needs exactly one --period YYYY-MM")
    progress(f"reading call records of {args.period[0]} from {args.ledger_table}")
    calls = list(read_call_records(args.ledger_table, period=args.period[0]))
    progress(f"{len(calls)} call records")
    return calls


def _estimated_buckets(engine: Any, periods: Sequence[str], calls: list[dict], progress: Progress) -> list:
    from scripts.cli.reports import queries
    from scripts.cli.reports.reconcile import estimated_buckets

    progress(f"CUR spend per hour, principal and profile ({engine.dialect.name}) for the estimated charges")
    rows = engine.run(queries.render("spend_by_principal_hour", engine.dialect, periods))
    # The query covers the periods' hours only: a bucket reaching back before them is not judged.
    first_hour = f"{min(periods)}-01T00" if periods else None
    return estimated_buckets(calls, rows, first_hour=first_hour)


def _reconciliation(
    args: argparse.Namespace,
    engine: Any,
    report: Any,
    progress: Progress,
    calls: list[dict[str, Any]] | None = None,
) -> Any:
    from scripts.cli.reports.reconcile import Tolerance, cur_totals, ledger_totals, reconcile

    if calls is None:
        calls = _call_records(args, progress)
    estimated = _estimated_buckets(engine, args.period, calls, progress)
    tolerance = Tolerance(absolute_usd=args.abs_tolerance, relative_percent=args.rel_tolerance)
    return reconcile(
        ledger_totals(calls), cur_totals(report.principals), args.period[0], tolerance, estimated
    )


def _print_estimated(buckets: Sequence[Any], credited: dict[str, int] | None = None) -> None:
    from scripts.cli.reports.money import format_usd, nanos_to_usd

    def usd(nanos: int | None) -> str:
        return "not billed yet" if nanos is None else format_usd(nanos_to_usd(nanos), 9)

    print(
        "\nCharges estimated at the worst case, and what CUR 2.0 billed for them (hour x principal x profile):"
    )
    header = ["tenant", "hour (UTC)", "principal", "calls", "estimated", "CUR billed", "overcharge"]
    rows = []
    for bucket in buckets:
        row = [
            bucket.tenant,
            bucket.hour,
            bucket.principal.rsplit("/", 1)[-1],
            len(bucket.calls),
            usd(bucket.estimated_nanos),
            usd(bucket.billed_for_estimated_nanos),
            usd(bucket.overcharge_nanos),
        ]
        if credited is not None:
            row.append(usd(sum(credited.get(call.request_id, 0) for call in bucket.calls)))
        rows.append(row)
    _print_table([*header, "credited now"] if credited is not None else header, rows)


def command_users(args: argparse.Namespace) -> int:
    """Spend per end user per tenant, with the IAM principal each user's calls ran as (ledger only: the
    reconcile report sets the same principals against what CUR 2.0 billed them)."""
    from scripts.cli.reports.ledger import read_call_records
    from scripts.cli.reports.money import format_usd
    from scripts.cli.reports.reconcile import spend_by_user

    calls = [
        call
        for call in read_call_records(args.ledger_table, period=args.period)
        if args.tenant is None or call["tenant"] == args.tenant
    ]
    _print_table(
        ["tenant", "user", "principal", "calls", "cost_usd"],
        [
            (row.tenant, row.user, row.principal, row.calls, format_usd(row.cost_usd, 9))
            for row in spend_by_user(calls)
        ],
    )
    return 0


def command_reconcile(args: argparse.Namespace) -> int:
    from scripts.cli.reports.chargeback import build_chargeback
    from scripts.cli.reports.money import format_usd
    from scripts.cli.reports.render import write_estimated_csv, write_reconciliation_csv

    progress = Progress()
    engine = _engine(args)
    report = build_chargeback(engine, _directory(args), args.period, progress=progress)
    reconciliation = _reconciliation(args, engine, report, progress)
    args.out.mkdir(parents=True, exist_ok=True)
    path = write_reconciliation_csv(reconciliation, args.out)
    write_estimated_csv(reconciliation.estimated, args.out)
    _print_table(
        ["level", "tenant", "user", "ledger", "CUR", "difference", "diff %", "calls", "flag"],
        [
            (
                line.level,
                line.tenant,
                line.user or "-",
                format_usd(line.ledger_usd, 6),
                format_usd(line.cur_usd, 6),
                format_usd(line.difference_usd, 6),
                "-" if line.difference_percent is None else f"{line.difference_percent}%",
                line.ledger_calls,
                "FLAGGED" if line.flagged else "",
            )
            for line in reconciliation.lines
        ],
    )
    if reconciliation.estimated:
        _print_estimated(reconciliation.estimated)
    flagged = len(reconciliation.flagged)
    progress(f"{flagged} difference(s) above tolerance; details in {path}")
    return 1 if flagged and args.fail_on_difference else 0


def command_credit(args: argparse.Namespace) -> int:
    """Credit back proven overcharges of estimated charges, once (docs/reports.md, "Crediting")."""
    from scripts import REPO_ROOT
    from scripts.cli.reports.render import write_estimated_csv

    progress = Progress()
    engine = _engine(args)
    calls = _call_records(args, progress)
    buckets = _estimated_buckets(engine, args.period, calls, progress)
    credited: dict[str, int] = {}
    planned = [(bucket, call, nanos) for bucket in buckets for call, nanos in bucket.credits() if nanos > 0]
    if planned and not args.dry_run:
        # The credit is a ledger write: the same Ledger class the gateway uses (the Lambda package).
        if str(REPO_ROOT / "lambda_src") not in sys.path:
            sys.path.insert(0, str(REPO_ROOT / "lambda_src"))
        import boto3

        from cost_sentry.adapters.ledger import Ledger

        # Neither holds nor call records are written by a credit, so their lifetimes do not matter.
        ledger = Ledger(
            boto3.client("dynamodb"), args.ledger_table, hold_lifetime_seconds=0, call_record_retention_days=0
        )
        for bucket, call, nanos in planned:
            evidence = {
                "hour": bucket.hour,
                "principal": bucket.principal,
                "modelId": bucket.model_id,
                "bucketEstimatedNanos": str(bucket.estimated_nanos),
                "bucketBilledNanos": str(bucket.billed_for_estimated_nanos),
            }
            if ledger.credit_overcharge(
                call.tenant, call.shard, call.sort_key, call.request_id, nanos, evidence
            ):
                credited[call.request_id] = nanos
    _print_estimated(buckets, credited)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        write_estimated_csv(buckets, args.out)
    total = sum(credited.values())
    verb = "would credit" if args.dry_run else "credited"
    amount = sum(nanos for _, _, nanos in planned) if args.dry_run else total
    count = len(planned) if args.dry_run else len(credited)
    progress(f"{verb} {count} call(s), {amount} nano-dollars in all")
    return 0


def command_cost_explorer(args: argparse.Namespace) -> int:
    from scripts.cli.reports.cost_explorer import cost_by_tag
    from scripts.cli.reports.money import format_usd
    from scripts.cli.reports.render import write_cost_explorer_csv

    progress = Progress()
    progress(f"GetCostAndUsage {args.start} to {args.end}, {args.granularity}, by tag {args.tag}")
    rows = cost_by_tag(args.start, args.end, args.tag, args.granularity)
    args.out.mkdir(parents=True, exist_ok=True)
    path = write_cost_explorer_csv(rows, args.out)
    _print_table(
        ["start", "end", args.tag, "amount"],
        [(r.start, r.end, r.tag_value, format_usd(r.amount, 4)) for r in rows],
    )
    progress(f"{len(rows)} rows -> {path}")
    return 0


def _period(text: str) -> str:
    try:
        date.fromisoformat(f"{text}-01")
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a period (YYYY-MM): {text!r}") from error
    return text


def command_requests(args: argparse.Namespace) -> int:
    from scripts.cli.reports.invocations import (
        read_invocations,
        spend_by_user,
        tenant_requests,
        write_requests_csv,
    )
    from scripts.cli.reports.money import ZERO, plain

    progress = Progress()
    progress(f"reading invocation logs under {args.logs}")
    invocations = read_invocations(args.logs)
    requests = tenant_requests(invocations, args.tenant, args.period)
    total = sum((inv.cost_usd or ZERO for inv in requests), ZERO)
    progress(f"{len(invocations)} invocation records, {len(requests)} of tenant {args.tenant}")
    if args.out is not None:
        progress(f"wrote {write_requests_csv(requests, args.out / 'requests.csv')}")
    print(f"tenant {args.tenant}: {len(requests)} requests, {plain(total)} USD")
    _print_table(["user", "requests", "cost_usd"], [(u, n, plain(c)) for u, n, c in spend_by_user(requests)])
    print()
    _print_table(
        ["timestamp", "user", "request_id", "model", "input_tokens", "output_tokens", "cost_usd"],
        [
            (r.timestamp, r.user or "", r.request_id or "", r.model or "", r.input_tokens, r.output_tokens,
             "" if r.cost_usd is None else plain(r.cost_usd))
            for r in requests[: args.top]
        ],
    )  # fmt: skip
    return 0


def _capacity(text: str) -> tuple[str, int]:
    model, separator, tokens = text.partition("=")
    if not separator or not model or not tokens.isdigit() or int(tokens) < 1:
        raise argparse.ArgumentTypeError(f"capacity must look like shared-llm=250000, got {text!r}")
    return model, int(tokens)


def command_sagemaker(args: argparse.Namespace) -> int:
    from scripts.cli.reports.ledger import read_call_records
    from scripts.cli.reports.money import plain
    from scripts.cli.reports.sagemaker import allocate_endpoints, endpoint_costs, write_allocation_csv

    progress = Progress()
    engine = _engine(args)
    if len(args.period) != 1:
        raise SystemExit("--period YYYY-MM is required once: call records and CUR must cover the same month")
    progress(f"SageMaker hosting cost from CUR 2.0 ({engine.dialect.name})")
    costs = endpoint_costs(engine, args.period)
    progress(f"call records of {args.period[0]} from {args.ledger_table}")
    calls = list(read_call_records(args.ledger_table, period=args.period[0]))
    allocations = allocate_endpoints(costs, calls, dict(args.capacity))
    if args.out is not None:
        progress(f"wrote {write_allocation_csv(allocations, args.out / 'sagemaker_allocation.csv')}")
    for allocation in allocations:
        print(allocation.summary())
        _print_table(
            ["tenant", "requests", "tokens", "share", "allocated_usd", "charged_usd"],
            [
                (s.tenant, s.requests, s.input_tokens + s.output_tokens, f"{plain(s.share_percent)}%",
                 plain(s.allocated_usd), plain(s.charged_usd))
                for s in allocation.shares
            ],
        )  # fmt: skip
    if not allocations:
        print("no shared SageMaker endpoint cost in these periods")
    return 0


def command_focus(args: argparse.Namespace) -> int:
    """The chargeback data as a FOCUS 1.2 dataset, validated against the specification before it is kept."""
    from scripts.cli.reports.focus import build_focus
    from scripts.cli.reports.focus_check import validate
    from scripts.cli.reports.money import plain

    if args.athena_location and (len(args.period) != 1 or "parquet" not in args.format):
        raise SystemExit("--athena-location needs one --period and the parquet format")
    progress = Progress()
    engine = _engine(args)
    directory = _directory(args)
    calls: list[dict[str, Any]] = []
    if args.ledger_table:
        calls = _call_records(args, progress)  # the user of each CUR line, where the ledger names one
    progress(f"CUR 2.0 -> FOCUS 1.2 ({engine.dialect.name})")
    dataset = build_focus(engine, directory, args.period, calls)
    staging = args.out / ".focus-staging"
    written = dataset.write(staging, args.format)
    for path in written:
        violations = validate(path)
        if violations:
            for violation in violations:
                print(f"error: {path.name}: {violation}", file=sys.stderr)
            for leftover in written:
                leftover.unlink()
            staging.rmdir()
            return 1
    kept = []
    for path in written:
        kept.append(path.replace(args.out / path.name))
    staging.rmdir()
    _print_table(
        ["x_Tenant", "rows", "BilledCost"],
        [(total.tenant, total.rows, plain(total.billed_cost)) for total in dataset.totals_by_tenant()],
    )
    for path in kept:
        progress(f"wrote {path} ({dataset.row_count} rows, FOCUS 1.2 checked)")
    if args.athena_location:
        from scripts.cli.reports.focus import athena_sql

        parquet = args.out / "focus.parquet"
        sql = athena_sql(parquet, args.athena_focus_table, args.athena_location, args.period[0])
        (args.out / "athena.sql").write_text(sql, encoding="utf-8")
        progress(
            f"wrote {args.out / 'athena.sql'}: upload focus.parquet to {args.athena_location}, then run it"
        )
    return 0


def command_focus_check(args: argparse.Namespace) -> int:
    from scripts.cli.reports.focus_check import validate

    violations = validate(args.path, allow_float=args.allow_float)
    for violation in violations:
        print(violation)
    print(f"{args.path}: {len(violations)} violation(s) of FOCUS 1.2", file=sys.stderr)
    return 1 if violations else 0


def _formats(text: str) -> list[str]:
    formats = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [part for part in formats if part not in ("parquet", "csv")]
    if not formats or unknown:
        raise argparse.ArgumentTypeError(f"formats are parquet and/or csv, got {text!r}")
    return formats


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m scripts.cli.reports", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

    synth = commands.add_parser(
        "synth", help="write synthetic CUR 2.0 Parquet (seeded), or CUR rows for ledger calls"
    )
    synth.add_argument("--out", type=Path, required=True)
    synth.add_argument("--rows", type=int, default=100_000)
    synth.add_argument("--seed", type=int, default=1)
    synth.add_argument(
        "--start", type=_date, default=date(2026, 11, 1), help="first usage day (default 2026-11-01)"
    )
    synth.add_argument(
        "--end", type=_date, default=date(2026, 12, 1), help="day after the last (default 2026-12-01)"
    )
    synth.add_argument("--account-id", default="111111111111")
    synth.add_argument(
        "--name-prefix",
        default="cost-sentry",
        help="name_prefix the synthetic tenants' invoker roles are named with (by modules/tenants)",
    )
    synth.add_argument(
        "--own-principal",
        default="",
        help="with --from-ledger: the principal CUR records for calls the gateway made with its own role "
        "(terraform output gateway_principals; records of per-user sessions carry their own)",
    )
    synth.add_argument(
        "--from-ledger", metavar="TABLE", help="emit the CUR rows of this ledger table's call records"
    )
    synth.add_argument("--period", help="with --from-ledger: only calls of this period (YYYY-MM)")
    synth.add_argument(
        "--drift",
        type=_drift,
        action="append",
        default=[],
        metavar="TENANT=FACTOR",
        help="with --from-ledger: multiply a tenant's billed cost (plants a difference)",
    )
    synth.set_defaults(handler=command_synth)

    chargeback = commands.add_parser(
        "chargeback", help="CSV files and a self-contained HTML chargeback report"
    )
    _add_source_arguments(chargeback)
    chargeback.add_argument("--out", type=Path, required=True)
    chargeback.add_argument(
        "--ledger-table", help="also reconcile against this ledger table (needs one --period)"
    )
    chargeback.add_argument(
        "--cost-explorer-tag",
        choices=("costCenter", "applicationId", "environment"),
        help="also include Cost Explorer's Bedrock spend by this tag",
    )
    chargeback.add_argument("--granularity", choices=("DAILY", "MONTHLY"), default="MONTHLY")
    chargeback.add_argument("--abs-tolerance", type=_decimal, default=Decimal("0.001"), help="USD")
    chargeback.add_argument("--rel-tolerance", type=_decimal, default=Decimal("1"), help="percent")
    chargeback.set_defaults(handler=command_chargeback)

    reconcile = commands.add_parser("reconcile", help="gateway ledger vs CUR 2.0 per tenant and principal")
    _add_source_arguments(reconcile)
    reconcile.add_argument("--ledger-table", required=True)
    reconcile.add_argument("--out", type=Path, required=True)
    reconcile.add_argument(
        "--abs-tolerance", type=_decimal, default=Decimal("0.001"), help="USD (default 0.001)"
    )
    reconcile.add_argument("--rel-tolerance", type=_decimal, default=Decimal("1"), help="percent (default 1)")
    reconcile.add_argument(
        "--fail-on-difference", action="store_true", help="exit 1 when anything is flagged"
    )
    reconcile.set_defaults(handler=command_reconcile)

    users = commands.add_parser(
        "users", help="spend per end user per tenant from the ledger, with the IAM principal each ran as"
    )
    users.add_argument("--ledger-table", required=True)
    users.add_argument("--period", help="YYYY-MM or YYYY-MM-DD (UTC); default every period")
    users.add_argument("--tenant")
    users.set_defaults(handler=command_users)

    credit = commands.add_parser(
        "credit",
        help="credit back, once, what estimated (worst-case) charges cost beyond what CUR 2.0 billed for them",
    )
    _add_source_arguments(credit)
    credit.add_argument("--ledger-table", required=True)
    credit.add_argument("--out", type=Path, help="also write estimated_charges.csv here")
    credit.add_argument("--dry-run", action="store_true", help="show the credits without writing them")
    credit.set_defaults(handler=command_credit)

    explorer = commands.add_parser(
        "cost-explorer", help="Bedrock spend by cost allocation tag from Cost Explorer"
    )
    explorer.add_argument("--start", type=_date, required=True)
    explorer.add_argument("--end", type=_date, required=True, help="exclusive, like Cost Explorer")
    explorer.add_argument(
        "--tag", choices=("costCenter", "applicationId", "environment"), default="costCenter"
    )
    explorer.add_argument("--granularity", choices=("DAILY", "MONTHLY"), default="MONTHLY")
    explorer.add_argument("--out", type=Path, required=True)
    explorer.set_defaults(handler=command_cost_explorer)

    requests = commands.add_parser(
        "requests", help="which requests made a tenant's spend, from Bedrock invocation logs"
    )
    requests.add_argument("--logs", type=Path, required=True, help="downloaded invocation log files")
    requests.add_argument("--tenant", required=True, help="tenant id (requestMetadata.tenantId)")
    requests.add_argument("--period", type=_period, help="only this UTC month (YYYY-MM)")
    requests.add_argument("--top", type=int, default=20, help="requests listed (default 20)")
    requests.add_argument("--out", type=Path, help="also write requests.csv here")
    requests.set_defaults(handler=command_requests)

    sagemaker = commands.add_parser(
        "sagemaker", help="split shared SageMaker endpoints' CUR cost across tenants by token share"
    )
    _add_source_arguments(sagemaker)
    sagemaker.add_argument("--ledger-table", required=True, help="the gateway's ledger (call records)")
    sagemaker.add_argument(
        "--capacity",
        type=_capacity,
        action="append",
        default=[],
        metavar="MODEL=TOKENS",
        help="tokens one instance serves per hour at full load (for utilization), repeatable",
    )
    sagemaker.add_argument("--out", type=Path, help="also write sagemaker_allocation.csv here")
    sagemaker.set_defaults(handler=command_sagemaker)

    focus = commands.add_parser(
        "focus", help="the chargeback data as a FOCUS 1.2 dataset (Parquet and CSV) with x_ identity columns"
    )
    _add_source_arguments(focus)
    focus.add_argument("--out", type=Path, required=True, help="writes focus.parquet and focus.csv here")
    focus.add_argument(
        "--ledger-table", help="the gateway's ledger: x_User from its call records (needs one --period)"
    )
    focus.add_argument(
        "--format", type=_formats, default=["parquet", "csv"], help="parquet,csv (default both)"
    )
    focus.add_argument(
        "--athena-location",
        help="s3://bucket/prefix/ the Parquet will be uploaded to: also write athena.sql (table + example query)",
    )
    focus.add_argument(
        "--athena-focus-table", default="cost_sentry_focus.focus", help="database.table of athena.sql"
    )
    focus.set_defaults(handler=command_focus)

    focus_check = commands.add_parser(
        "focus-check", help="validate a FOCUS dataset (Parquet or CSV) against the FOCUS 1.2 column rules"
    )
    focus_check.add_argument(
        "path", type=Path, help="a .parquet or .csv file, or a directory of Parquet files"
    )
    focus_check.add_argument(
        "--allow-float",
        action="store_true",
        help="accept floating point Decimal columns (e.g. AWS's FOCUS export)",
    )
    focus_check.set_defaults(handler=command_focus_check)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    from scripts.cli.reports.engines import QueryError
    from scripts.cli.reports.synth import SynthError
    from scripts.cli.reports.tenants import TenantConfigError

    args = parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (QueryError, SynthError, TenantConfigError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
