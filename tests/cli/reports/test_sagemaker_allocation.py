"""`python -m scripts.cli.reports sagemaker`: a shared endpoint's CUR 2.0 instance-hour cost split across
tenants by token share, from synthetic CUR rows and call records in a moto ledger; shares hand-computed."""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest

from scripts.cli.reports.__main__ import main
from scripts.cli.reports.chargeback import build_chargeback
from scripts.cli.reports.engines import DuckDBEngine
from scripts.cli.reports.ledger import read_call_records
from scripts.cli.reports.render import write_report
from scripts.cli.reports.sagemaker import (
    allocate_endpoints,
    endpoint_costs,
    split_exactly,
    synthesize_endpoint_hours,
)
from scripts.cli.reports.tenants import TenantDirectory

from .conftest import write_tiny_cur
from .ledger_fakes import create_ledger_table

SHARED = "arn:aws:sagemaker:us-east-1:111111111111:endpoint/cost-sentry-shared-shared-llm"
IDLE = "arn:aws:sagemaker:us-east-1:111111111111:endpoint/cost-sentry-shared-night-llm"

# tenant, input tokens, output tokens, cost charged by the gateway (nano-dollars at 200/800 per token)
CALLS = [
    ("sales", 300_000, 100_000, 140_000_000),
    ("sales", 150_000, 50_000, 70_000_000),
    ("services", 200_000, 100_000, 120_000_000),
    ("support", 80_000, 20_000, 32_000_000),
]


def put_call(
    client: Any, table: str, number: int, tenant: str, tokens_in: int, tokens_out: int, nanos: int
) -> None:
    client.put_item(
        TableName=table,
        Item={
            "pk": {"S": tenant},
            "sk": {"S": f"CALL#2026-11-22T12:00:{number:02d}.000Z#r{number}"},
            "model": {"S": "shared-llm"},
            "modelId": {"S": SHARED},
            "input_tokens": {"N": str(tokens_in)},
            "output_tokens": {"N": str(tokens_out)},
            "cost_nanos": {"N": str(nanos)},
        },
    )


@pytest.fixture
def ledger(aws_endpoint_env: str) -> str:
    client = boto3.client("dynamodb", region_name="us-east-1")
    table = create_ledger_table(client)
    for number, call in enumerate(CALLS):
        put_call(client, table, number, *call)
    # A Bedrock call of the same month: not the endpoint's.
    client.put_item(
        TableName=table,
        Item={
            "pk": {"S": "sales"},
            "sk": {"S": "CALL#2026-11-22T13:00:00.000Z#b1"},
            "model": {"S": "claude-3-haiku"},
            "modelId": {"S": "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/x"},
            "input_tokens": {"N": "999999"},
            "output_tokens": {"N": "1"},
            "cost_nanos": {"N": "1"},
        },
    )
    return table


@pytest.fixture
def cur(tmp_path: Path) -> Path:
    out = write_tiny_cur(tmp_path / "cur")  # Bedrock lines too: the report must read only SageMaker hosting
    start = datetime(2026, 11, 22, 0, 0)
    synthesize_endpoint_hours(out, SHARED, start, hours=10, hourly_usd=Decimal("1.41"))
    (out / "night").mkdir()
    synthesize_endpoint_hours(out / "night", IDLE, start, hours=2, hourly_usd=Decimal("0.50"))
    return out


def test_split_exactly_adds_up_to_the_bill_by_largest_remainder() -> None:
    assert split_exactly(Decimal("10.00"), {"a": 1, "b": 1, "c": 1}) == {
        "a": Decimal("3.3333333334"),
        "b": Decimal("3.3333333333"),
        "c": Decimal("3.3333333333"),
    }
    assert split_exactly(Decimal("14.10"), {"sales": 600_000, "services": 300_000, "support": 100_000}) == {
        "sales": Decimal("8.4600000000"),
        "services": Decimal("4.2300000000"),
        "support": Decimal("1.4100000000"),
    }


def test_the_endpoint_cost_is_split_by_token_share(
    cur: Path, ledger: str, tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "out"

    code = main(
        [
            "sagemaker", "--cur", str(cur), "--ledger-table", ledger, "--period", "2026-11",
            "--capacity", "shared-llm=200000", "--capacity", "cost-sentry-shared-night-llm=100000", "--out", str(out),
        ]
    )  # fmt: skip

    assert code == 0
    printed = capsys.readouterr().out
    # 10 h x 1.41 = 14.10 USD; 1,000,000 tokens; capacity 10 h x 200,000 = 2,000,000 tokens.
    assert (
        "shared-llm: $14.10 for 10 instance-hours, 1,000,000 tokens; $14.10 per 1M tokens at 50.0% utilization "
        "($7.05 at 100%); the gateway charged $0.3620" in printed
    )
    with (out / "sagemaker_allocation.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    shared = [
        (r["tenant"], r["requests"], r["share_percent"], r["allocated_usd"], r["charged_usd"])
        for r in rows
        if r["model"] == "shared-llm"
    ]
    assert shared == [
        ("sales", "2", "60", "8.46", "0.21"),  # (400,000 + 200,000) / 1,000,000 of 14.10
        ("services", "1", "30", "4.23", "0.12"),
        ("support", "1", "10", "1.41", "0.032"),
    ]
    # The idle endpoint: billed 2 x 0.50, no tokens, its whole cost unallocated.
    [idle] = [r for r in rows if r["model"] == "cost-sentry-shared-night-llm"]
    assert (idle["tenant"], idle["allocated_usd"], idle["utilization_percent"]) == ("(idle)", "1", "0")
    assert idle["effective_usd_per_million_tokens"] == ""


def test_an_idle_endpoint_makes_every_token_dearer(
    cur: Path, ledger: str, tmp_path: Path, capsys: Any
) -> None:
    """Same traffic, the endpoint up 20 hours instead of 10: the token costs twice as much."""
    more = tmp_path / "more"
    write_tiny_cur(more)
    synthesize_endpoint_hours(
        more, SHARED, datetime(2026, 11, 21, 0, 0), hours=20, hourly_usd=Decimal("1.41")
    )

    assert (
        main(
            [
                "sagemaker",
                "--cur",
                str(more),
                "--ledger-table",
                ledger,
                "--period",
                "2026-11",
                "--capacity",
                "shared-llm=200000",
            ]
        )
        == 0
    )

    assert "$28.20 per 1M tokens at 25.0% utilization ($7.05 at 100%)" in capsys.readouterr().out


def test_the_chargeback_report_shows_the_split(
    cur: Path, ledger: str, tmp_path: Path, workload_tenants: TenantDirectory
) -> None:
    engine = DuckDBEngine(cur)
    allocations = allocate_endpoints(
        endpoint_costs(engine), read_call_records(ledger), {"shared-llm": 200_000}
    )
    report = build_chargeback(engine, workload_tenants, ["2026-11"])

    html = write_report(report, tmp_path / "report", sagemaker=allocations).read_text()

    section = html[html.index('<section id="sagemaker">') :]
    section = section[: section.index("</section>")]
    assert "at 50.00% utilization" in section and "1,000,000 tokens" in section
    for tenant, share in (("sales", "60.00%"), ("services", "30.00%"), ("support", "10.00%")):
        assert f"<td>{tenant}</td>" in section and share in section
    assert (tmp_path / "report" / "sagemaker_allocation.csv").is_file()


def test_chargeback_with_the_ledger_adds_the_sagemaker_section(
    cur: Path, ledger: str, tmp_path: Path
) -> None:
    out = tmp_path / "chargeback"

    code = main(
        ["chargeback", "--cur", str(cur), "--period", "2026-11",
         "--ledger-table", ledger, "--out", str(out)]
    )  # fmt: skip

    assert code == 0
    with (out / "sagemaker_allocation.csv").open(newline="") as handle:
        allocated = {row["tenant"]: row["allocated_usd"] for row in csv.DictReader(handle)}
    assert allocated == {"sales": "8.46", "services": "4.23", "support": "1.41"}
    assert '<section id="sagemaker">' in (out / "chargeback.html").read_text()
    # The SageMaker calls are not Bedrock spend: the reconciliation leaves them out.
    with (out / "reconciliation.csv").open(newline="") as handle:
        ledger_usd = {
            row["tenant"]: row["ledger_usd"] for row in csv.DictReader(handle) if row["level"] == "tenant"
        }
    assert ledger_usd.get("support", "0") == "0"
