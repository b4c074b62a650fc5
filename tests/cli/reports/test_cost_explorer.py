"""Cost Explorer by tag against moto server's Cost Explorer, fed through moto's results API."""

from __future__ import annotations

import json
import urllib.request
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from scripts.cli.reports.cost_explorer import UNTAGGED, cost_by_tag


def queue_results(endpoint: str, results: list[dict[str, Any]]) -> None:
    assert endpoint.startswith("http://127.0.0.1:")
    request = urllib.request.Request(  # noqa: S310 - the local moto server, checked above
        f"{endpoint}/moto-api/static/ce/cost-and-usage-results",
        data=json.dumps({"results": results}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the local moto server
        assert response.status == 201


def bucket(start: str, end: str, groups: dict[str, str], estimated: bool = False) -> dict[str, Any]:
    return {
        "TimePeriod": {"Start": start, "End": end},
        "Total": {},
        "Groups": [
            {"Keys": [key], "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}
            for key, amount in groups.items()
        ],
        "Estimated": estimated,
    }


def test_bedrock_spend_by_cost_center_follows_every_page(aws_endpoint_env: str) -> None:
    # Given Cost Explorer answers in two pages (moto hands out one queued result per distinct request)
    queue_results(
        aws_endpoint_env,
        [
            {
                "ResultsByTime": [
                    bucket(
                        "2026-09-01",
                        "2026-09-02",
                        {"costCenter$sales": "0.1234567891", "costCenter$": "0.0100000000"},
                    )
                ],
                "NextPageToken": "page-2",
                "DimensionValueAttributes": [],
            },
            {
                "ResultsByTime": [
                    bucket("2026-09-02", "2026-09-03", {"costCenter$services": "1.5"}, estimated=True)
                ],
                "DimensionValueAttributes": [],
            },
        ],
    )

    # When the report asks for daily Bedrock spend by costCenter (its client finds moto via AWS_ENDPOINT_URL)
    rows = cost_by_tag(date(2026, 9, 1), date(2026, 9, 3), "costCenter", "DAILY")

    # Then both pages are read, amounts are exact and the untagged group is named
    assert [(r.start, r.tag_value, r.amount, r.estimated) for r in rows] == [
        (date(2026, 9, 1), "sales", Decimal("0.1234567891"), False),
        (date(2026, 9, 1), UNTAGGED, Decimal("0.0100000000"), False),
        (date(2026, 9, 2), "services", Decimal("1.5"), True),
    ]
    assert all(r.tag_key == "costCenter" and r.unit == "USD" for r in rows)


def test_the_request_filters_to_bedrock_and_groups_by_the_tag() -> None:
    class RecordingClient:
        def __init__(self) -> None:
            self.requests: list[dict[str, Any]] = []

        def get_cost_and_usage(self, **request: Any) -> dict[str, Any]:
            self.requests.append(request)
            return {"ResultsByTime": []}

    client = RecordingClient()
    assert (
        cost_by_tag(date(2026, 10, 1), date(2026, 11, 1), "applicationId", "MONTHLY", ce_client=client) == []
    )
    assert client.requests == [
        {
            "TimePeriod": {"Start": "2026-10-01", "End": "2026-11-01"},
            "Granularity": "MONTHLY",
            "Metrics": ["UnblendedCost"],
            "Filter": {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Bedrock"]}},
            "GroupBy": [{"Type": "TAG", "Key": "applicationId"}],
        }
    ]


@pytest.mark.parametrize(
    ("start", "end", "tag", "granularity", "message"),
    [
        (date(2026, 9, 2), date(2026, 9, 1), "costCenter", "DAILY", "must be after"),
        (date(2026, 9, 1), date(2026, 9, 2), "team", "DAILY", "tag must be one of"),
        (date(2026, 9, 1), date(2026, 9, 2), "costCenter", "HOURLY", "granularity"),
    ],
)
def test_bad_requests_are_refused_before_calling_aws(
    start: date, end: date, tag: str, granularity: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        cost_by_tag(start, end, tag, granularity, ce_client=object())
