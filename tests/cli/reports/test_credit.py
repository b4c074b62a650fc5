"""Estimated (worst-case) charges against synthetic CUR 2.0: the reconciliation shows what CUR billed for
them, and `credit` gives back the proven overcharge once, through the ledger, idempotently.

Hand-computed figures (claude-3-haiku: 250 nano-dollars per input token, 1250 per output token), one
principal (alice's per-user session) and one application inference profile:

  hour 10: A  actual     100 in, 50 out  ->  87,500 charged      (CUR bills the same)
           E1 estimated  worst case      -> 245,000 charged      (CUR bills its real 100 in, 20 out = 50,000)
  hour 11: E2 estimated  worst case      -> 245,000 charged      (never billed: CUR has nothing)
  hour 12: A2 actual     100 in, 50 out  ->  87,500 charged      (the last hour CUR holds)
           E3 estimated  worst case      -> 245,000 charged      (not judged: CUR may still be arriving)

  hour 10: CUR 137,500 - actual 87,500 = 50,000 billed for E1 -> overcharge 245,000 - 50,000 = 195,000
  hour 11: CUR 0 -> overcharge 245,000.   Credited in all: 440,000 nano-dollars.
"""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from cost_sentry.core.periods import ledger_partition
from scripts import REPO_ROOT
from scripts.cli.reports.__main__ import main
from scripts.cli.reports.ledger import read_call_records
from scripts.cli.reports.synth import synthesize_from_calls

from .ledger_fakes import create_ledger_table

PRINCIPAL = "arn:aws:sts::111111111111:assumed-role/cost-sentry-sales-invoker/alice"
PROFILE = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/saleshaiku"
PERIOD_KEY = "PERIOD#2026-11"
# The ledger's sharded layout (docs/design.md section 4): the calls were charged on shard 1 of 2.
SHARD_KEY = "PERIOD#2026-11#S1"
USER_KEY = "USER#2026-11#alice"
# name, hour, estimated, input tokens, output tokens, charged nanos, what Bedrock really billed (in, out)
CALLS = [
    ("A", "10", False, 100, 50, 87_500, (100, 50)),
    ("E1", "10", True, 480, 100, 245_000, (100, 20)),
    ("E2", "11", True, 480, 100, 245_000, None),
    ("A2", "12", False, 100, 50, 87_500, (100, 50)),
    ("E3", "12", True, 480, 100, 245_000, (480, 100)),
]
SPENT = sum(call[5] for call in CALLS)  # 910,000
LIMIT = 1_000_000_000


@pytest.fixture
def dynamodb(aws_endpoint_env: str) -> Any:
    return boto3.client("dynamodb", region_name="us-east-1")


def epoch_ms(text: str) -> str:
    return str(int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp() * 1000))


def call_item(name: str, hour: str, estimated: bool, tokens_in: int, tokens_out: int, nanos: int) -> dict:
    item: dict[str, Any] = {
        "pk": {"S": "sales#S1"},
        "tenant": {"S": "sales"},
        "sk": {"S": f"CALL#2026-11-05T{hour}:15:00.000Z#{name}"},
        "requestId": {"S": name},
        "principal": {"S": PRINCIPAL},
        "user": {"S": "alice"},
        "model": {"S": "claude-3-haiku"},
        "modelId": {"S": PROFILE},
        "applicationId": {"S": "sales-assistant"},
        "costCenter": {"S": "sales"},
        "environment": {"S": "prod"},
        "input_tokens": {"N": str(tokens_in)},
        "output_tokens": {"N": str(tokens_out)},
        "cost_nanos": {"N": str(nanos)},
        "period": {"S": PERIOD_KEY},
        "shard": {"N": "1"},
        # The call's window (reserved 10 s before its record's timestamp): it was billed in that hour.
        "reserved_at": {"N": epoch_ms(f"2026-11-05T{hour}:14:50")},
        "ended_at": {"N": epoch_ms(f"2026-11-05T{hour}:15:00")},
    }
    if estimated:
        item["estimated"] = {"BOOL": True}
    return item


@pytest.fixture
def ledger(dynamodb: Any, tmp_path: Path) -> tuple[str, Path]:
    table = create_ledger_table(dynamodb)
    for name, hour, estimated, tokens_in, tokens_out, nanos, _ in CALLS:
        dynamodb.put_item(
            TableName=table, Item=call_item(name, hour, estimated, tokens_in, tokens_out, nanos)
        )
    half = LIMIT // 2
    for item in (
        {"sk": PERIOD_KEY, "limit_nanos": LIMIT, "pool_nanos": 0, "shards": 2},
        {"sk": f"{PERIOD_KEY}#S0", "allocated_nanos": half, "available_nanos": half, "spent_nanos": 0},
        {"sk": SHARD_KEY, "allocated_nanos": half, "available_nanos": half - SPENT, "spent_nanos": SPENT},
        {
            "sk": USER_KEY,
            "limit_nanos": 2_000_000,
            "available_nanos": 2_000_000 - SPENT,
            "spent_nanos": SPENT,
        },
    ):
        dynamodb.put_item(
            TableName=table,
            Item={
                "pk": {"S": ledger_partition("sales", str(item["sk"]))},
                **{name: {"S": v} if name == "sk" else {"N": str(v)} for name, v in item.items()},
            },
        )
    # CUR bills what Bedrock really did, not what the ledger recorded for the estimated calls.
    billed = []
    for record in read_call_records(table, dynamodb, period="2026-11"):
        truth = next(call[6] for call in CALLS if call[0] == record["requestId"])
        if truth is not None:
            billed.append({**record, "input_tokens": truth[0], "output_tokens": truth[1]})
    synthesize_from_calls(billed, tmp_path / "cur")
    return table, tmp_path / "cur"


def period(dynamodb: Any, table: str, sort_key: str = SHARD_KEY) -> dict[str, int]:
    """The shard the calls were charged on (or, with ``sort_key``, another ledger item)."""
    key = {"pk": {"S": ledger_partition("sales", sort_key)}, "sk": {"S": sort_key}}
    item = dynamodb.get_item(TableName=table, Key=key)["Item"]
    names = ("available_nanos", "spent_nanos", "allocated_nanos", "limit_nanos")
    return {name: int(item[name]["N"]) for name in names if name in item}


def credits(dynamodb: Any, table: str) -> dict[str, int]:
    items = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :t AND begins_with(sk, :c)",
        ExpressionAttributeValues={":t": {"S": "sales"}, ":c": {"S": "CREDIT#"}},
    )["Items"]
    return {item["requestId"]["S"]: int(item["credited_nanos"]["N"]) for item in items}


def test_the_reconciliation_shows_estimated_charges_and_what_cur_billed_for_them(
    ledger: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table, cur = ledger
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
        ]
    )

    assert code == 0
    out = capsys.readouterr().out
    assert "Charges estimated at the worst case" in out
    rows = (tmp_path / "out" / "estimated_charges.csv").read_text().splitlines()
    assert rows[0].startswith("tenant,hour_utc,principal,model_id,calls,request_ids,estimated_nanos")
    figures = {row.split(",")[1]: row.split(",")[6:] for row in rows[1:]}
    # estimated, actual in the same bucket, CUR billed, billed for the estimated calls, overcharge
    assert figures == {
        "2026-11-05T10": ["245000", "87500", "137500", "50000", "195000"],
        "2026-11-05T11": ["245000", "0", "0", "0", "245000"],
        "2026-11-05T12": ["245000", "87500", "", "", "0"],  # CUR's last hour: not judged yet
    }


def test_credit_gives_back_the_proven_overcharge_once(
    ledger: tuple[str, Path], dynamodb: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table, cur = ledger
    before = period(dynamodb, table)
    arguments = ["credit", "--cur", str(cur), "--period", "2026-11", "--ledger-table", table]

    assert main([*arguments, "--dry-run"]) == 0
    assert period(dynamodb, table) == before and credits(dynamodb, table) == {}

    assert main(arguments) == 0

    assert credits(dynamodb, table) == {"E1": 195_000, "E2": 245_000}
    after = period(dynamodb, table)
    assert after["spent_nanos"] == before["spent_nanos"] - 440_000 == 470_000
    assert after["available_nanos"] == before["available_nanos"] + 440_000
    assert after["allocated_nanos"] == before["allocated_nanos"]  # the period's limit is unchanged
    user = period(dynamodb, table, USER_KEY)
    assert (user["spent_nanos"], user["available_nanos"]) == (470_000, 2_000_000 - 470_000)
    untouched = period(dynamodb, table, f"{PERIOD_KEY}#S0")
    assert (untouched["spent_nanos"], untouched["available_nanos"]) == (0, LIMIT // 2)
    records = {r["requestId"]: r for r in read_call_records(table, dynamodb, period="2026-11")}
    assert (int(records["E1"]["credited_nanos"]), int(records["E2"]["credited_nanos"])) == (195_000, 245_000)
    assert "credited_nanos" not in records["E3"] and "credited_nanos" not in records["A"]
    assert "credited 2 call(s), 440000 nano-dollars" in capsys.readouterr().err

    # A second run (here through the make target) credits nothing.
    completed = subprocess.run(
        ["make", "-s", "credit", f"CUR={cur}", "PERIOD=2026-11", f"LEDGER_TABLE={table}"],
        cwd=REPO_ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "credited 0 call(s), 0 nano-dollars" in completed.stderr
    assert period(dynamodb, table) == after
    assert credits(dynamodb, table) == {"E1": 195_000, "E2": 245_000}


def test_the_ledger_refuses_a_second_credit_of_one_call_even_when_asked_directly(
    ledger: tuple[str, Path], dynamodb: Any
) -> None:
    from cost_sentry.adapters.ledger import Ledger

    table, _ = ledger
    writer = Ledger(dynamodb, table, hold_lifetime_seconds=0, call_record_retention_days=0)
    sort_key = "CALL#2026-11-05T11:15:00.000Z#E2"
    before = period(dynamodb, table)

    assert writer.credit_overcharge("sales", 1, sort_key, "E2", 1_000, {"hour": "2026-11-05T11"})
    assert not writer.credit_overcharge("sales", 1, sort_key, "E2", 1_000, {"hour": "2026-11-05T11"})

    assert period(dynamodb, table)["spent_nanos"] == before["spent_nanos"] - 1_000
    assert credits(dynamodb, table) == {"E2": 1_000}


def test_the_html_report_lists_the_estimated_charges(ledger: tuple[str, Path], tmp_path: Path) -> None:
    table, cur = ledger
    out = tmp_path / "report"
    code = main(
        ["chargeback", "--cur", str(cur), "--period", "2026-11", "--ledger-table", table, "--out", str(out)]
    )

    assert code == 0
    html = (out / "chargeback.html").read_text()
    section = html.split('id="estimated-charges"')[1].split("</table>")[0]
    assert "2026-11-05T10" in section and "2026-11-05T11" in section
    assert "$0.000195000" in section and "$0.000050000" in section  # overcharge and what CUR billed
    assert "not billed yet" in section  # hour 12: CUR's last hour
    assert (out / "estimated_charges.csv").is_file()
