"""`python -m scripts.cli.reports requests`: which requests made a tenant's spend, from synthetic Bedrock
model invocation log files laid out as Bedrock delivers them; costs hand-computed from models.json."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from scripts.cli.reports.__main__ import main
from scripts.cli.reports.invocations import NO_METADATA, read_invocations

ACCOUNT = "111111111111"
PROFILE = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/{}"
INVOKER = "arn:aws:sts::111111111111:assumed-role/cost-sentry-{}-invoker/{}"


def record(
    timestamp: str,
    bedrock_id: str,
    tokens: tuple[int, int],
    metadata: dict[str, str] | None,
    principal: str,
    profile: str,
) -> dict[str, Any]:
    """One record in Bedrock's ModelInvocationLog 1.0 shape (text delivery off: no bodies)."""
    line: dict[str, Any] = {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": timestamp,
        "accountId": ACCOUNT,
        "identity": {"arn": principal},
        "region": "us-east-1",
        "requestId": bedrock_id,
        "operation": "Converse",
        "modelId": profile,
        "input": {"inputContentType": "application/json", "inputTokenCount": tokens[0]},
        "output": {"outputContentType": "application/json", "outputTokenCount": tokens[1]},
    }
    if metadata is not None:
        line["requestMetadata"] = metadata
    return line


def metadata(tenant: str, request_id: str, model: str, user: str | None = None) -> dict[str, str]:
    data = {"tenantId": tenant, "requestId": request_id, "model": model, "costCenter": tenant}
    if user:
        data["userId"] = user
    return data


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    root = tmp_path / "logs"
    hour = root / "bedrock/AWSLogs/111111111111/BedrockModelInvocationLogs/us-east-1/2026/11/22/12"
    hour.mkdir(parents=True)
    lines = [
        # sales/alice on claude-3-haiku: 1000 x 250 + 200 x 1250 = 500,000 nanos = 0.0005 USD
        record("2026-11-22T12:00:01Z", "b1", (1000, 200), metadata("sales", "g1", "claude-3-haiku", "alice"),
               INVOKER.format("sales", "alice"), PROFILE.format("s1")),
        # sales/bob on nova-micro: 4000 x 35 + 1000 x 140 = 280,000 nanos = 0.00028 USD
        record("2026-11-22T12:00:02Z", "b2", (4000, 1000), metadata("sales", "g2", "nova-micro", "bob"),
               INVOKER.format("sales", "bob"), PROFILE.format("s2")),
        # sales without a user: 100 x 250 + 10 x 1250 = 37,500 nanos
        record("2026-11-22T12:00:03Z", "b3", (100, 10), metadata("sales", "g3", "claude-3-haiku"),
               INVOKER.format("sales", "sales-app"), PROFILE.format("s1")),
        # another tenant, and a call that bypassed the gateway
        record("2026-11-22T12:00:04Z", "b4", (999, 999), metadata("support", "g4", "nova-micro", "carol"),
               INVOKER.format("support", "carol"), PROFILE.format("p1")),
        record("2026-11-22T12:00:05Z", "b5", (50, 50), None, "arn:aws:iam::111111111111:user/dev",
               "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0"),
    ]  # fmt: skip
    with gzip.open(hour / "20261122T1200Z_a.json.gz", "wt") as handle:
        handle.write("".join(json.dumps(line) + "\n" for line in lines[:3]))
    (hour / "20261122T1200Z_b.json").write_text("".join(json.dumps(line) + "\n" for line in lines[3:]))
    # Another month: excluded by --period.
    october = root / "bedrock/AWSLogs/111111111111/BedrockModelInvocationLogs/us-east-1/2026/10/31/23"
    october.mkdir(parents=True)
    (october / "old.json").write_text(
        json.dumps(record("2026-10-31T23:59:59Z", "b0", (10_000, 0), metadata("sales", "g0", "claude-3-haiku", "alice"),
                          INVOKER.format("sales", "alice"), PROFILE.format("s1"))) + "\n"
    )  # fmt: skip
    return root


def test_the_requests_report_lists_the_tenants_requests_dearest_first(
    logs: Path, tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "out"

    code = main(
        ["requests", "--logs", str(logs), "--tenant", "sales", "--period", "2026-11", "--out", str(out)]
    )

    assert code == 0
    printed = capsys.readouterr().out
    assert (
        printed.splitlines()[0] == "tenant sales: 3 requests, 0.0008175 USD"
    )  # 500,000 + 280,000 + 37,500 nanos
    with (out / "requests.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["request_id"], r["user"], r["model"], r["cost_usd"]) for r in rows] == [
        ("g1", "alice", "claude-3-haiku", "0.0005"),
        ("g2", "bob", "nova-micro", "0.00028"),
        ("g3", "", "claude-3-haiku", "0.0000375"),
    ]
    assert rows[0]["principal"] == INVOKER.format("sales", "alice") and rows[0]["bedrock_request_id"] == "b1"
    assert "carol" not in printed and "b5" not in printed


def test_without_a_period_every_month_counts(logs: Path, capsys: Any) -> None:
    assert main(["requests", "--logs", str(logs), "--tenant", "sales"]) == 0
    # October's 10,000 input tokens x 250 nanos = 0.0025 USD more.
    assert capsys.readouterr().out.splitlines()[0] == "tenant sales: 4 requests, 0.0033175 USD"


def test_calls_that_bypassed_the_gateway_are_named_as_such(logs: Path) -> None:
    [bypass] = [inv for inv in read_invocations(logs) if inv.bedrock_request_id == "b5"]
    assert bypass.tenant == NO_METADATA and bypass.request_id is None and bypass.cost_usd is None


def test_a_directory_without_logs_is_a_clear_error(tmp_path: Path, capsys: Any) -> None:
    assert main(["requests", "--logs", str(tmp_path), "--tenant", "sales"]) == 2
    assert "no .json or .json.gz invocation log files" in capsys.readouterr().err
