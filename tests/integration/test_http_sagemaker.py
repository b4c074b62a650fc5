"""A shared SageMaker endpoint end to end in the local stack: two tenants call it over HTTP through the
gateway (SageMaker runtime stand-in behind it), the ledger records them, and the sagemaker report splits
the endpoint's CUR 2.0 instance-hours across them by their tokens."""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from scripts.cli.reports.__main__ import main as reports
from scripts.cli.reports.sagemaker import synthesize_endpoint_hours
from scripts.testbed.emulators.sagemaker_runtime import SageMakerRuntimeStub, shared_endpoint_environment
from tests.integration.http_helpers import call, call_records, own_stack, period_item, usd_to_nanos

pytestmark = pytest.mark.xdist_group("local_stack")

TFVARS = """
environment = "test"
tenants = {
  one = {
    application_id = "one-app"
    cost_center    = "one"
    models         = ["nova-micro"]
    budget         = { limit_usd = 1 }
  }
  two = {
    application_id = "two-app"
    cost_center    = "two"
    models         = ["nova-micro"]
    budget         = { limit_usd = 1 }
  }
  three = {
    application_id = "three-app"
    cost_center    = "three"
    models         = ["nova-micro"]
    budget         = { limit_usd = 1 }
  }
}
"""
ENDPOINTS = {
    "shared-llm": {
        "endpointName": "cost-sentry-shared-shared-llm",
        "tenants": ["one", "two"],
        "inputPerMillionUsd": "0.20",
        "outputPerMillionUsd": "0.80",
    }
}


def test_tenants_share_an_endpoint_and_the_report_splits_its_cost(tmp_path: Path, capsys: Any) -> None:
    with SageMakerRuntimeStub(["cost-sentry-shared-shared-llm"]) as stub:
        environment = shared_endpoint_environment(stub, ENDPOINTS)
        with own_stack(TFVARS, gateway_environment=environment) as stack:
            one, two, three = (stack.tenants[t] for t in ("one", "two", "three"))
            answers = [
                call(
                    stack, "/v1/converse", api_key=one.api_key, body=one.request_body("a" * 400, "shared-llm")
                ),
                call(
                    stack, "/v1/converse", api_key=one.api_key, body=one.request_body("b" * 400, "shared-llm")
                ),
                call(
                    stack, "/v1/converse", api_key=two.api_key, body=two.request_body("c" * 400, "shared-llm")
                ),
            ]
            refused = call(
                stack, "/v1/converse", api_key=three.api_key, body=three.request_body("d", "shared-llm")
            )
            bedrock = call(
                stack, "/v1/converse", api_key=one.api_key, body=one.request_body("e", "nova-micro")
            )

            assert [a.status for a in answers] == [200, 200, 200], [a.text for a in answers]
            assert refused.status == 400 and refused.error_code == "model_not_allowed"
            assert bedrock.status == 200  # the tenant's Bedrock models still go to Bedrock
            # 400 bytes -> 100 prompt tokens, 50 completion tokens: 100 x 200 + 50 x 800 nano-dollars.
            assert {a.json()["cost"]["usd"] for a in answers} == {"0.00006"}
            assert [r["usage"] for r in stub.requests()] == [
                {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150}
            ] * 3
            spent = int(period_item(stack, "one")["spent_nanos"]) - usd_to_nanos(
                bedrock.json()["cost"]["usd"]
            )
            assert spent == 2 * 60_000
            assert sorted(r["model"] for r in call_records(stack, "one")) == [
                "nova-micro",
                "shared-llm",
                "shared-llm",
            ]

            cur = tmp_path / "cur"
            endpoint_arn = (
                f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{ENDPOINTS['shared-llm']['endpointName']}"
            )
            period = call_records(stack, "one")[0]["sk"][len("CALL#") : len("CALL#2026-11")]
            start = datetime.fromisoformat(f"{period}-01T00:00:00")
            synthesize_endpoint_hours(
                cur, endpoint_arn, start, hours=3, hourly_usd=Decimal("1.00"), account_id="123456789012"
            )
            out = tmp_path / "report"
            code = reports(
                [
                    "sagemaker",
                    "--cur",
                    str(cur),
                    "--ledger-table",
                    stack.ledger_table,
                    "--period",
                    period,
                    "--out",
                    str(out),
                ]
            )

    assert code == 0
    with (out / "sagemaker_allocation.csv").open(newline="") as handle:
        rows = {row["tenant"]: row for row in csv.DictReader(handle)}
    # 3.00 USD over 450 tokens: tenant one 300 (2/3), tenant two 150 (1/3).
    assert (rows["one"]["allocated_usd"], rows["two"]["allocated_usd"]) == ("2", "1")
    assert (rows["one"]["charged_usd"], rows["two"]["charged_usd"]) == ("0.00012", "0.00006")
    assert "three" not in rows
    assert "shared-llm: $3.00 for 3 instance-hours, 450 tokens" in capsys.readouterr().out
