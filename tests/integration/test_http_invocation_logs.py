"""Which requests made a tenant's spend, end to end: calls over HTTP through the local stack, the
invocation logs Bedrock would write for them (requestMetadata from the gateway), and the requests report,
which must name exactly the ledger's call records, at exactly their cost."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from scripts.cli.reports.__main__ import main as reports
from scripts.testbed.emulators.invocation_logs import sts_identity_resolver, write_invocation_logs
from tests.integration.http_helpers import call, call_records, own_stack, usd_to_nanos

pytestmark = pytest.mark.xdist_group("local_stack")

TFVARS = """
environment       = "test"
per_user_sessions = true
tenants = {
  one = {
    application_id = "one-app"
    cost_center    = "one"
    models         = ["nova-micro", "claude-3-haiku"]
    budget         = { limit_usd = 1 }
  }
  two = {
    application_id = "two-app"
    cost_center    = "two"
    models         = ["nova-micro"]
    budget         = { limit_usd = 1 }
  }
}
"""


def test_the_requests_report_names_the_ledgers_calls_at_their_cost(tmp_path: Path, capsys: Any) -> None:
    with own_stack(TFVARS) as stack:
        one, two = stack.tenants["one"], stack.tenants["two"]
        for number, (tenant, model, user) in enumerate(
            [
                (one, "nova-micro", "alice"),
                (one, "claude-3-haiku", "bob"),
                (one, "nova-micro", None),
                (two, "nova-micro", "carol"),
            ]
        ):
            headers = {"x-cost-sentry-user": user} if user else {}
            answer = call(
                stack,
                "/v1/converse",
                api_key=tenant.api_key,
                body=tenant.request_body("x" * (200 * (number + 1)), model),
                headers=headers,
            )
            assert answer.status == 200, answer.text
        assert stack.bedrock is not None
        write_invocation_logs(
            stack.bedrock.requests(), tmp_path / "logs", sts_identity_resolver(stack.moto_url)
        )
        ledger = {record["requestId"]: record for record in call_records(stack, "one")}

    assert (
        reports(
            ["requests", "--logs", str(tmp_path / "logs"), "--tenant", "one", "--out", str(tmp_path / "out")]
        )
        == 0
    )
    with (tmp_path / "out" / "requests.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["request_id"] for row in rows) == sorted(ledger)
    for row in rows:
        record = ledger[row["request_id"]]
        assert row["user"] == (record.get("user") or "")
        # Who Bedrock logged as the caller: the per-user session the gateway assumed (from the signing key)
        assert row["principal"] == record["principal"], (row, record)
        assert row["model"] == record["model"]
        assert (int(row["input_tokens"]), int(row["output_tokens"])) == (
            record["input_tokens"],
            record["output_tokens"],
        )
        # The report prices the logged tokens from models.json; the ledger settled the same figure.
        assert usd_to_nanos(row["cost_usd"]) == record["cost_nanos"]
    assert "tenant one: 3 requests" in capsys.readouterr().out
