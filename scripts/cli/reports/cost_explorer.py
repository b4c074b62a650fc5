"""Cost Explorer: Amazon Bedrock spend grouped by one cost allocation tag (GetCostAndUsage, all pages)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

TAG_KEYS = ("costCenter", "applicationId", "environment")
GRANULARITIES = ("DAILY", "MONTHLY")
BEDROCK_SERVICE = "Amazon Bedrock"
UNTAGGED = "(untagged)"


@dataclass(frozen=True)
class CostExplorerRow:
    start: date
    end: date
    tag_key: str
    tag_value: str
    amount: Decimal
    unit: str
    estimated: bool


def _request(start: date, end: date, tag_key: str, granularity: str, metric: str) -> dict[str, Any]:
    if tag_key not in TAG_KEYS:
        raise ValueError(f"tag must be one of {', '.join(TAG_KEYS)}, got {tag_key!r}")
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be DAILY or MONTHLY, got {granularity!r}")
    if end <= start:
        raise ValueError(f"end ({end}) must be after start ({start}); Cost Explorer's end date is exclusive")
    return {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "Granularity": granularity,
        "Metrics": [metric],
        "Filter": {"Dimensions": {"Key": "SERVICE", "Values": [BEDROCK_SERVICE]}},
        "GroupBy": [{"Type": "TAG", "Key": tag_key}],
    }


def _pages(ce_client: Any, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        page = ce_client.get_cost_and_usage(**request, **({"NextPageToken": token} if token else {}))
        yield page
        token = page.get("NextPageToken")
        if not token:
            return


def cost_by_tag(
    start: date,
    end: date,
    tag_key: str = "costCenter",
    granularity: str = "MONTHLY",
    ce_client: Any = None,
    metric: str = "UnblendedCost",
) -> list[CostExplorerRow]:
    """Bedrock cost per value of `tag_key` per time bucket, following NextPageToken to the end."""
    request = _request(start, end, tag_key, granularity, metric)
    if ce_client is None:
        import boto3

        ce_client = boto3.client("ce")
    rows: list[CostExplorerRow] = []
    for page in _pages(ce_client, request):
        for bucket in page.get("ResultsByTime", []):
            period = bucket["TimePeriod"]
            for group in bucket.get("Groups", []):
                # group keys read "costCenter$sales"; "costCenter$" is spend without the tag
                key = group["Keys"][0]
                value = key.split("$", 1)[1] if "$" in key else key
                amount = group["Metrics"][metric]
                rows.append(
                    CostExplorerRow(
                        start=date.fromisoformat(period["Start"]),
                        end=date.fromisoformat(period["End"]),
                        tag_key=tag_key,
                        tag_value=value or UNTAGGED,
                        amount=Decimal(amount["Amount"]),
                        unit=amount.get("Unit", "USD"),
                        estimated=bool(bucket.get("Estimated", False)),
                    )
                )
    return rows
