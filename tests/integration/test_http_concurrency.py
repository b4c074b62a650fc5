"""The budget property over HTTP: 64 requests at once against a budget that fits only some of them.

Spend never exceeds the budget, every approved request is paid for exactly once (a call record whose cost
the caller was told), every denied one costs nothing, and no reservation is left behind.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from scripts.testbed.local_stack import LocalStack
from tests.integration.http_helpers import (
    HttpResult,
    call,
    call_records,
    holds,
    own_stack,
    period_item,
    usd_to_nanos,
)

# One group with tests/service/test_concurrency.py: the load tests run one after another, never against
# each other on the emulators.
pytestmark = pytest.mark.xdist_group("concurrency")

CONCURRENT_REQUESTS = 64
LIMIT_NANOS = 4_000_000  # USD 0.004
TFVARS = f"""
environment = "test"
tenants = {{
  crowd = {{
    application_id = "crowd-app"
    cost_center    = "crowd"
    models         = ["claude-3-haiku", "nova-lite"]
    budget         = {{ limit_usd = {LIMIT_NANOS / 1e9} }}
  }}
}}
"""


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with own_stack(TFVARS) as running:
        yield running


def test_64_concurrent_requests_never_overspend_and_every_approval_is_paid(stack: LocalStack) -> None:
    tenant = stack.tenants["crowd"]
    start = threading.Barrier(CONCURRENT_REQUESTS)

    def one(index: int) -> HttpResult:
        # Different sizes and models, so reservations and actual costs differ from request to request.
        model = "claude-3-haiku" if index % 3 else "nova-lite"
        body = tenant.request_body(
            f"request {index}: " + "q" * (200 + 37 * index), model=model, max_tokens=120
        )
        start.wait()
        answer = call(stack, "/v1/converse", api_key=tenant.api_key, body=body, timeout=120)
        for _ in range(3):
            # Contention (refill rounds that kept losing moved budget) is a 503 the caller retries after
            # its Retry-After, as the SDKs do: a "try again", never a denial; the retry gets the real answer.
            if (answer.status, answer.error_code) != (503, "ledger_contended"):
                break
            time.sleep(float(answer.headers.get("Retry-After", "1")))
            answer = call(stack, "/v1/converse", api_key=tenant.api_key, body=body, timeout=120)
        return answer

    with ThreadPoolExecutor(max_workers=CONCURRENT_REQUESTS) as pool:
        results = list(pool.map(one, range(CONCURRENT_REQUESTS)))

    outcomes = Counter((r.status, r.error_code) for r in results)
    approved = [r.json() for r in results if r.status == 200]
    assert set(outcomes) <= {(200, None), (429, "budget_exhausted")}, outcomes
    assert approved and outcomes[(429, "budget_exhausted")], (
        f"the budget must admit some and deny some: {outcomes}"
    )

    period = period_item(stack, "crowd")
    records = {record["sk"].rsplit("#", 1)[1]: record for record in call_records(stack, "crowd")}
    told = {document["requestId"]: usd_to_nanos(document["cost"]["usd"]) for document in approved}
    assert period["spent_nanos"] <= LIMIT_NANOS
    assert set(records) == set(told)  # every approval has exactly one call record, no denial has one
    assert {request_id: r["cost_nanos"] for request_id, r in records.items()} == told
    assert period["spent_nanos"] == sum(told.values())
    assert period["requests"] == len(approved)
    assert holds(period) == {}
    assert period["available_nanos"] == LIMIT_NANOS - period["spent_nanos"]
