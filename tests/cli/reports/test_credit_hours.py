"""Credits never refund billed money (issue 14 item 5): an estimated charge is matched to CUR over every
hour the call may have been billed in (from its reservation to its end), never by the hour of its
record's timestamp alone, and judged only once CUR holds a later hour than the last of them.

One principal and one profile; a call's window is in its record (``reserved_at``, ``ended_at``, epoch
milliseconds), or, without them, its timestamp widened by the longest a call can run."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from scripts.cli.reports.reconcile import MAX_CALL_SECONDS, call_window, estimated_buckets

PRINCIPAL = "arn:aws:sts::111111111111:assumed-role/cost-sentry-sales-invoker/alice"
PROFILE = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/saleshaiku"


def epoch(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()


def call(
    name: str,
    stamped: str,
    nanos: int,
    *,
    estimated: bool = False,
    window: tuple[str, str] | None = None,
    credited: int = 0,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "tenant": "sales",
        "sk": f"CALL#{stamped}.000Z#{name}",
        "requestId": name,
        "principal": PRINCIPAL,
        "modelId": PROFILE,
        "cost_nanos": nanos,
        "period": "PERIOD#2026-11",
        "shard": 1,
    }
    if estimated:
        record["estimated"] = True
    if window is not None:
        record["reserved_at"] = int(epoch(window[0]) * 1000)
        record["ended_at"] = int(epoch(window[1]) * 1000)
    if credited:
        record["credited_nanos"] = credited
    return record


def cur(hour: str, nanos: int) -> dict[str, Any]:
    return {
        "usage_hour": hour,
        "principal": PRINCIPAL,
        "resource_id": PROFILE,
        "cost_usd": Decimal(nanos) / Decimal(1_000_000_000),
    }


def planned(buckets: list[Any]) -> dict[str, int]:
    return {call.request_id: nanos for bucket in buckets for call, nanos in bucket.credits() if nanos > 0}


def test_a_swept_call_billed_in_the_next_hour_is_not_credited_billed_money():
    """The sweep stamps its record at the reserve time (10:59:50); Bedrock billed the call, 200,000 of
    its 245,000 worst case, in hour 11. Judged by the timestamp's hour alone, hour 10 shows only the
    actual call A and the whole 245,000 would be credited; over both hours, 45,000 is the overcharge."""
    calls = [
        call("A", "2026-11-05T10:30:00", 87_500, window=("2026-11-05T10:29:58", "2026-11-05T10:30:00")),
        call(
            "E",
            "2026-11-05T10:59:50",
            245_000,
            estimated=True,
            window=("2026-11-05T10:59:50", "2026-11-05T11:02:20"),  # reserved .. the hold's expiry
        ),
    ]
    rows = [cur("2026-11-05T10", 87_500), cur("2026-11-05T11", 200_000), cur("2026-11-05T13", 1)]

    [bucket] = estimated_buckets(calls, rows)

    assert bucket.hours == ("2026-11-05T10", "2026-11-05T11")
    assert (bucket.cur_nanos, bucket.actual_nanos, bucket.billed_for_estimated_nanos) == (
        287_500,
        87_500,
        200_000,
    )
    assert planned([bucket]) == {"E": 45_000}


def test_a_settled_call_billed_in_the_hour_before_its_timestamp_is_not_credited():
    """The gateway stamps its record at the settle (11:00:20); Bedrock billed the whole 245,000 in hour
    10, where the call started. Nothing was over-charged: nothing is credited."""
    calls = [
        call(
            "E",
            "2026-11-05T11:00:20",
            245_000,
            estimated=True,
            window=("2026-11-05T10:59:40", "2026-11-05T11:00:20"),
        )
    ]
    rows = [cur("2026-11-05T10", 245_000), cur("2026-11-05T12", 1)]

    [bucket] = estimated_buckets(calls, rows)

    assert (bucket.cur_nanos, bucket.overcharge_nanos) == (245_000, 0)
    assert planned([bucket]) == {}


def test_without_its_window_a_call_is_matched_over_the_longest_a_call_can_run():
    """A record without ``reserved_at``/``ended_at`` (the ledger does not write them yet): its timestamp
    +/- MAX_CALL_SECONDS, so a call stamped 10:59:50 spans hours 10 and 11 whichever writer stamped it."""
    record = call("E", "2026-11-05T10:59:50", 245_000, estimated=True)
    start, end = call_window(record)
    assert (end - start) == 2 * MAX_CALL_SECONDS
    rows = [cur("2026-11-05T10", 0), cur("2026-11-05T11", 245_000), cur("2026-11-05T13", 1)]

    [bucket] = estimated_buckets([record], rows)

    assert bucket.hours == ("2026-11-05T10", "2026-11-05T11")
    assert planned([bucket]) == {}


def test_a_bucket_is_judged_only_once_cur_holds_an_hour_after_its_last():
    calls = [
        call(
            "E",
            "2026-11-05T10:59:50",
            245_000,
            estimated=True,
            window=("2026-11-05T10:59:50", "2026-11-05T11:02:20"),
        )
    ]
    # CUR's last hour is 11, the call's last possible hour: more of its bill may still arrive.
    [bucket] = estimated_buckets(calls, [cur("2026-11-05T10", 0), cur("2026-11-05T11", 0)])
    assert bucket.cur_nanos is None and planned([bucket]) == {}
    # A call reaching back before the hours the CUR query covers (the period's start) is not judged either.
    [early] = estimated_buckets(
        [
            call(
                "F",
                "2026-11-01T00:01:00",
                9,
                estimated=True,
                window=("2026-10-31T23:59:00", "2026-11-01T00:01:00"),
            )
        ],
        [cur("2026-11-01T05", 0)],
        first_hour="2026-11-01T00",
    )
    assert early.cur_nanos is None and planned([early]) == {}


def test_a_clear_overcharge_is_still_credited_and_only_once():
    """Hour 12: the estimated call E2 (245,000) was billed 50,000; CUR holds hour 14. The overcharge,
    195,000, is credited; after it was (``credited_nanos`` on the record), nothing more is."""
    window = ("2026-11-05T12:10:00", "2026-11-05T12:11:00")
    rows = [cur("2026-11-05T12", 50_000), cur("2026-11-05T14", 1)]

    [bucket] = estimated_buckets(
        [call("E2", "2026-11-05T12:11:00", 245_000, estimated=True, window=window)], rows
    )
    assert planned([bucket]) == {"E2": 195_000}

    again = estimated_buckets(
        [call("E2", "2026-11-05T12:11:00", 245_000, estimated=True, window=window, credited=195_000)], rows
    )
    assert planned(again) == {}


def test_calls_in_separate_hours_stay_separate_buckets():
    """Windows that share no hour are judged apart: one hour's overcharge is not offset by another's."""
    calls = [
        call(
            "E1",
            "2026-11-05T10:20:00",
            100_000,
            estimated=True,
            window=("2026-11-05T10:19:00", "2026-11-05T10:20:00"),
        ),
        call(
            "E2",
            "2026-11-05T12:20:00",
            100_000,
            estimated=True,
            window=("2026-11-05T12:19:00", "2026-11-05T12:20:00"),
        ),
    ]
    rows = [cur("2026-11-05T10", 100_000), cur("2026-11-05T12", 10_000), cur("2026-11-05T13", 1)]

    buckets = estimated_buckets(calls, rows)

    assert [bucket.hour for bucket in buckets] == ["2026-11-05T10", "2026-11-05T12"]
    assert planned(buckets) == {"E2": 90_000}
