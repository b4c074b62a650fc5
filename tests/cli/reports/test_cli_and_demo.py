"""The command line (`python -m scripts.cli.reports ...`) and the demo's report entry point."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from scripts.cli.reports import build_demo_report
from scripts.cli.reports.__main__ import main
from scripts.testbed.terraform_offline.outputs import plan_output_values, plan_outputs

from .ledger_fakes import create_ledger_table, fill_ledger


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_tenants_json(path: Path) -> Path:
    """What `terraform -chdir=terraform/accounts/workload output -json > tenants.json` gives a user."""
    path.write_text(json.dumps(plan_outputs()), encoding="utf-8")
    return path


def test_chargeback_writes_exact_csv_files_and_the_html(tiny_cur: Path, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "report"
    tenants_json = write_tenants_json(tmp_path / "tenants.json")

    code = main(
        [
            "chargeback",
            "--cur",
            str(tiny_cur),
            "--tenants",
            str(tenants_json),
            "--period",
            "2026-11",
            "--out",
            str(out),
        ]
    )

    assert code == 0
    tenants = {row["tenant"]: row for row in read_csv(out / "spend_by_tenant.csv")}
    assert {name: row["cost_usd"] for name, row in tenants.items()} == {
        "sales": "0.64",
        "services": "1.6",
        "support": "0.36",
        "(unattributed)": "0.035",
    }
    assert tenants["sales"]["share_percent"] == "24.3"
    budgets = {row["tenant"]: row for row in read_csv(out / "budget_status.csv")}
    assert (budgets["support"]["used_usd"], budgets["support"]["state"]) == ("0.3", "over")
    assert {p.name for p in out.iterdir()} >= {
        "chargeback.html",
        "spend_by_principal.csv",
        "spend_by_tag.csv",
        "spend_by_model.csv",
        "daily_spend.csv",
    }
    captured = capsys.readouterr()
    assert "TOTAL" in captured.out and "$2.6350" in captured.out
    assert "[1/5] spend_by_principal (duckdb)" in captured.err  # progress goes to stderr


def test_synth_then_chargeback_end_to_end(tmp_path: Path) -> None:
    cur = tmp_path / "cur"
    assert main(["synth", "--rows", "3000", "--seed", "4", "--out", str(cur)]) == 0
    assert (
        main(
            [
                "chargeback",
                "--cur",
                str(cur),
                "--limits",
                str(cur / "tenants.json"),
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    assert len(read_csv(tmp_path / "out" / "budget_status.csv")) == 6


@pytest.mark.parametrize(
    "arguments",
    [
        ["synth", "--rows", "0", "--out", "{tmp}/out"],
        ["synth", "--rows", "10", "--start", "2026-11-05", "--end", "2026-11-01", "--out", "{tmp}/out"],
        ["chargeback", "--cur", "{tmp}/nothing-here", "--out", "{tmp}/out"],
        ["chargeback", "--cur", "{cur}", "--period", "2026-13", "--out", "{tmp}/out"],
        ["chargeback", "--cur", "{cur}", "--limits", "{tmp}/missing.json", "--out", "{tmp}/out"],
    ],
)
def test_bad_input_exits_2_with_a_message_and_writes_nothing(
    arguments: list[str], tiny_cur: Path, tmp_path: Path, capsys: Any
) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{cur}", str(tiny_cur)) for a in arguments]

    assert main(argv) == 2
    assert "\nerror: " in "\n" + capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_reconcile_command_reaches_dynamodb_through_the_endpoint_setting(
    aws_endpoint_env: str, tmp_path: Path, capsys: Any
) -> None:
    # Given a ledger in moto and CUR rows billed 5 % more than the ledger for services
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    table = create_ledger_table(dynamodb)
    fill_ledger(dynamodb, table)
    cur = tmp_path / "cur"
    assert (
        main(
            [
                "synth",
                "--from-ledger",
                table,
                "--period",
                "2026-11",
                "--drift",
                "services=1.05",
                "--out",
                str(cur),
            ]
        )
        == 0
    )

    # When reconcile runs with --fail-on-difference
    code = main(
        [
            "reconcile",
            "--cur",
            str(cur),
            "--period",
            "2026-11",
            "--ledger-table",
            table,
            "--out",
            str(tmp_path / "out"),
            "--fail-on-difference",
        ]
    )

    # Then it fails and names the difference
    assert code == 1
    flagged = [row for row in read_csv(tmp_path / "out" / "reconciliation.csv") if row["flagged"] == "yes"]
    assert {(row["level"], row["tenant"], row["user"]) for row in flagged} == {
        ("tenant", "services", ""),
        ("principal", "services", "carol"),
    }
    assert "FLAGGED" in capsys.readouterr().out


def test_the_demo_report_covers_the_demo_ledger(aws_endpoint_env: str, tmp_path: Path) -> None:
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    table = create_ledger_table(dynamodb)
    fill_ledger(dynamodb, table)

    build_demo_report(table, dynamodb, plan_output_values(), tmp_path / "demo")
    html_path = build_demo_report(
        table, dynamodb, plan_output_values(), tmp_path / "demo"
    )  # a second run replaces

    html = html_path.read_text(encoding="utf-8")
    assert html_path.name == "chargeback.html"
    for tenant in ("sales", "services", "support"):
        assert f"<td>{tenant}</td>" in html
    assert "all within tolerance" in html
    # the October call is in the ledger too: the demo reports everything the ledger holds
    tenants = {row["tenant"]: row["cost_usd"] for row in read_csv(tmp_path / "demo" / "spend_by_tenant.csv")}
    assert tenants == {"services": "1.6", "sales": "1.085015", "support": "0.54"}
