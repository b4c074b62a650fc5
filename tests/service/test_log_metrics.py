"""The SettleFailed metric is counted from the gateway's own log line by the metric filter Terraform
creates: the event name the gateway writes, core.metrics.LOG_METRICS and the filter agree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import hcl2

from cost_sentry.core.metrics import LOG_METRICS
from tests.service.conftest import converse_body, load_event

REPO = Path(__file__).resolve().parents[2]


class SettleFailsLedger:
    """The real ledger, except that settling fails the way an unreachable DynamoDB does."""

    def __init__(self, ledger: Any) -> None:
        self._ledger = ledger

    def settle(self, *args: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import EndpointConnectionError

        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ledger, name)


def metric_filter() -> dict[str, str]:
    """The settle_failed filter's pattern and metric name, as HCL string literals decoded."""
    main = hcl2.loads((REPO / "modules/gateway/main.tf").read_text())
    [block] = [
        resource['"aws_cloudwatch_log_metric_filter"']['"settle_failed"']
        for resource in main["resource"]
        if '"aws_cloudwatch_log_metric_filter"' in resource
    ]
    [transformation] = block["metric_transformation"]
    return {"pattern": json.loads(block["pattern"]), "metric": json.loads(transformation["name"])}


def test_a_failed_settle_writes_the_log_line_the_metric_filter_counts(gateway_factory) -> None:
    gateway = gateway_factory()
    gateway.service.ledger = SettleFailsLedger(gateway.service.ledger)

    response = gateway.handle(load_event("converse", body=converse_body()))

    assert response["statusCode"] == 200  # Bedrock answered and billed: the caller gets the answer
    lines = [json.loads(line) for line in gateway.logs]
    warnings = [line for line in lines if line.get("level") == "WARNING"]
    [warning] = [w for w in warnings if w.get("event") == LOG_METRICS["SettleFailed"]]
    assert warning["record"]["request_id"] == warning["requestId"]
    assert warning["record"]["cost_nanos"] > 0

    assert metric_filter() == {
        "pattern": '{ $.event = "' + LOG_METRICS["SettleFailed"] + '" }',
        "metric": "SettleFailed",
    }
