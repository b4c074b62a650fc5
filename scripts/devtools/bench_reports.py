"""Chargeback report benchmark: `python -m scripts.devtools.bench_reports` (part of `make bench`).

For each size, generates synthetic CUR 2.0 rows and builds the chargeback report (all report queries
on DuckDB, attribution, CSV files and HTML) in separate child processes, and prints the wall time and
the peak resident memory (getrusage ru_maxrss) of each step. Then, for the sizes of `--focus-sizes`,
the FOCUS 1.2 export of the same data (build, write Parquet and CSV, validate both). Nothing here asserts
a time: it prints figures for people to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_SIZES = (1_000_000, 10_000_000)


def _peak_mb() -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    # CPU time says what a step costs even when other work shares the machine; wall time does not
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child_synth(rows: int, cur_dir: Path) -> dict:
    from scripts.cli.reports.synth import synthesize, write_tenants_json

    started = time.perf_counter()
    files = synthesize(cur_dir, rows, seed=2026)
    write_tenants_json(cur_dir / "tenants.json", rows)
    seconds = time.perf_counter() - started
    size = sum(path.stat().st_size for path in files)
    return {
        "seconds": seconds,
        "cpu_seconds": _cpu_seconds(),
        "peak_mb": _peak_mb(),
        "parquet_mb": size / 2**20,
    }


def child_report(cur_dir: Path, out_dir: Path) -> dict:
    from scripts.cli.reports.chargeback import build_chargeback
    from scripts.cli.reports.engines import DuckDBEngine
    from scripts.cli.reports.render import write_report
    from scripts.cli.reports.tenants import load_limits_json

    started = time.perf_counter()
    report = build_chargeback(DuckDBEngine(cur_dir), load_limits_json(cur_dir / "tenants.json"))
    queried = time.perf_counter()
    write_report(report, out_dir)
    finished = time.perf_counter()
    return {
        "seconds": finished - started,
        "query_seconds": queried - started,
        "render_seconds": finished - queried,
        "cpu_seconds": _cpu_seconds(),
        "peak_mb": _peak_mb(),
        "total_usd": str(report.total_usd),
    }


def child_focus(cur_dir: Path, out_dir: Path) -> dict:
    from scripts.cli.reports.engines import DuckDBEngine
    from scripts.cli.reports.focus import build_focus
    from scripts.cli.reports.focus_check import validate
    from scripts.cli.reports.tenants import load_limits_json

    started = time.perf_counter()
    dataset = build_focus(DuckDBEngine(cur_dir), load_limits_json(cur_dir / "tenants.json"))
    parquet, csv = dataset.write(out_dir)
    written = time.perf_counter()
    violations = validate(parquet) + validate(csv)
    finished = time.perf_counter()
    if violations:
        raise SystemExit(f"the FOCUS export does not conform: {violations[:3]}")
    return {
        "seconds": finished - started,
        "write_seconds": written - started,
        "validate_seconds": finished - written,
        "cpu_seconds": _cpu_seconds(),
        "peak_mb": _peak_mb(),
        "parquet_mb": parquet.stat().st_size / 2**20,
        "csv_mb": csv.stat().st_size / 2**20,
    }


def _run_child(*arguments: str) -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", "scripts.devtools.bench_reports", "--child", *arguments],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"benchmark step failed:\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.devtools.bench_reports", description=__doc__)
    parser.add_argument(
        "--sizes",
        default=",".join(str(size) for size in DEFAULT_SIZES),
        help="comma-separated row counts (default 1000000,10000000)",
    )
    parser.add_argument("--workdir", type=Path, help="keep the generated data and reports here")
    parser.add_argument(
        "--focus-sizes",
        default="1000000",
        help="row counts of the FOCUS export step (default 1000000; '' for none)",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        step, *rest = args.child
        steps = {
            "synth": lambda: child_synth(int(rest[0]), Path(rest[1])),
            "report": lambda: child_report(Path(rest[0]), Path(rest[1])),
            "focus": lambda: child_focus(Path(rest[0]), Path(rest[1])),
        }
        result = steps[step]()
        print(json.dumps(result))
        return 0

    sizes = [int(size) for size in args.sizes.split(",") if size]
    focus_sizes = [int(size) for size in args.focus_sizes.split(",") if size]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cost-sentry-bench-"))
    print("chargeback report benchmark (DuckDB over synthetic CUR 2.0 Parquet; each step in its own process)")
    print(
        f"{'rows':>12}  {'generate s':>10}  {'gen cpu s':>9}  {'gen peak MB':>11}  {'parquet MB':>10}  "
        f"{'report s':>9}  {'(query s':>8}  {'render s)':>9}  {'rep cpu s':>9}  {'rep peak MB':>11}"
    )
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"(load average at start: {load} on {os.cpu_count()} CPUs; other work inflates wall times, not CPU)"
    )
    try:
        for rows in sizes:
            cur_dir, out_dir = workdir / f"cur-{rows}", workdir / f"report-{rows}"
            shutil.rmtree(cur_dir, ignore_errors=True)
            generated = _run_child("synth", str(rows), str(cur_dir))
            built = _run_child("report", str(cur_dir), str(out_dir))
            print(
                f"{rows:>12,}  {generated['seconds']:>10.1f}  {generated['cpu_seconds']:>9.1f}  "
                f"{generated['peak_mb']:>11.0f}  {generated['parquet_mb']:>10.0f}  {built['seconds']:>9.2f}  "
                f"{built['query_seconds']:>8.2f}  {built['render_seconds']:>9.2f}  "
                f"{built['cpu_seconds']:>9.1f}  {built['peak_mb']:>11.0f}",
                flush=True,
            )
        for rows in focus_sizes:
            if rows == focus_sizes[0]:
                print("\nFOCUS 1.2 export of the same data (build + Parquet + CSV, then both validated)")
                print(
                    f"{'rows':>12}  {'export s':>8}  {'(write s':>8}  {'check s)':>8}  {'cpu s':>6}  "
                    f"{'peak MB':>7}  {'parquet MB':>10}  {'csv MB':>6}"
                )
            cur_dir = workdir / f"cur-{rows}"
            if not cur_dir.exists():
                _run_child("synth", str(rows), str(cur_dir))
            focus = _run_child("focus", str(cur_dir), str(workdir / f"focus-{rows}"))
            print(
                f"{rows:>12,}  {focus['seconds']:>8.1f}  {focus['write_seconds']:>8.1f}  "
                f"{focus['validate_seconds']:>8.1f}  {focus['cpu_seconds']:>6.1f}  {focus['peak_mb']:>7.0f}  "
                f"{focus['parquet_mb']:>10.0f}  {focus['csv_mb']:>6.0f}",
                flush=True,
            )
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
