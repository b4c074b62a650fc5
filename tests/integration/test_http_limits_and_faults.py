"""Over HTTP against the local stack: limits that deny (429, ledger unchanged) and Bedrock refusals injected
in the stand-in (throttle -> 429, validation -> 400), each with the reservation given back. Every other row
of the outcome table (5xx, timeouts, dropped connections, broken streams) is in test_http_outcome_table.py."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

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

pytestmark = pytest.mark.xdist_group("http_limits_and_faults")

TFVARS = """
environment = "test"
tenants = {
  tiny = {
    application_id = "tiny-app"
    cost_center    = "tiny"
    models         = ["claude-3-haiku"]
    budget         = { limit_usd = 0.001 }
  }
  faulty = {
    application_id = "faulty-app"
    cost_center    = "faulty"
    models         = ["claude-3-haiku"]
    budget         = { limit_usd = 10 }
  }
  paced = {
    application_id = "paced-app"
    cost_center    = "paced"
    models         = ["nova-micro"]
    budget         = { limit_usd = 10 }
    limits         = { requests_per_minute = 2 }
  }
  counted = {
    application_id = "counted-app"
    cost_center    = "counted"
    models         = ["nova-micro"]
    budget         = { limit_usd = 10, period = "DAILY" }
    limits         = { tokens_per_period = 1500 }
  }
}
"""
BEDROCK_TIMEOUT_SECONDS = 1


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    gateway_environment = {"BEDROCK_TIMEOUT_SECONDS": str(BEDROCK_TIMEOUT_SECONDS)}
    with own_stack(TFVARS, gateway_environment=gateway_environment) as running:
        yield running


@pytest.fixture(autouse=True)
def no_faults_left(stack: LocalStack) -> Iterator[None]:
    assert stack.bedrock is not None
    stack.bedrock.clear_faults()
    yield
    stack.bedrock.clear_faults()


def ask(stack: LocalStack, tenant_id: str, text: str = "x" * 400, max_tokens: int = 100) -> HttpResult:
    tenant = stack.tenants[tenant_id]
    return call(
        stack, "/v1/converse", api_key=tenant.api_key, body=tenant.request_body(text, max_tokens=max_tokens)
    )


def ledger_snapshot(stack: LocalStack, tenant_id: str) -> tuple[dict[str, Any], int]:
    return period_item(stack, tenant_id), len(call_records(stack, tenant_id))


# -- limits -------------------------------------------------------------------------------------------


def test_an_exhausted_budget_answers_429_and_leaves_the_ledger_alone(stack: LocalStack) -> None:
    # USD 0.001 = 1,000,000 nano-dollars; a call reserves 245,000 and spends 87,500 (400 bytes in, 50 out).
    approved: list[int] = []
    denial = None
    for _ in range(30):
        response = ask(stack, "tiny")
        if response.status != 200:
            denial = response
            break
        approved.append(usd_to_nanos(response.json()["cost"]["usd"]))
    assert denial is not None, "the budget never ran out"
    assert (denial.status, denial.error_code) == (429, "budget_exhausted"), denial.text
    # Final (core/errors.FINAL_DENIALS): no Retry-After; when the budget resets, in the body and a header.
    assert "Retry-After" not in denial.headers and denial.headers["x-should-retry"] == "false"
    assert denial.json()["error"]["resetInSeconds"] > 0
    assert denial.headers["x-cost-sentry-budget-resets-at"] == denial.json()["error"]["resetsAt"]
    assert len(approved) >= 5
    assert stack.bedrock is not None
    stack.bedrock.clear_requests()
    before = ledger_snapshot(stack, "tiny")

    again = ask(stack, "tiny")

    assert (again.status, again.error_code) == (429, "budget_exhausted")
    assert ledger_snapshot(stack, "tiny") == before
    assert stack.bedrock.requests() == []
    period = before[0]
    assert period["spent_nanos"] == sum(approved) <= 1_000_000
    assert holds(period) == {}


def test_a_requests_per_minute_limit_answers_429_rate_limited(stack: LocalStack) -> None:
    if time.time() % 60 > 55:  # keep all three requests inside one UTC minute
        time.sleep(60 - time.time() % 60 + 0.1)

    statuses = [ask(stack, "paced", "hello", max_tokens=16) for _ in range(3)]

    assert [r.status for r in statuses] == [200, 200, 429]
    assert statuses[2].error_code == "rate_limited"
    assert period_item(stack, "paced")["requests"] == 2


def test_a_token_limit_answers_429_token_limit(stack: LocalStack) -> None:
    # Each request reserves 600 + 16 + 64 input + 200 output = 880 tokens and uses 150 + 75 = 225, so
    # after two of them 1500 - 450 = 1050 remain, and after three 825: not enough for a fourth 880.
    results = [ask(stack, "counted", "y" * 600, max_tokens=200) for _ in range(4)]

    assert [r.status for r in results] == [200, 200, 200, 429]
    assert results[-1].error_code == "token_limit"
    period = period_item(stack, "counted")
    assert period["input_tokens"] + period["output_tokens"] <= 1500


# -- Bedrock faults -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [
        ("throttle", 429, "bedrock_throttled"),
        ("validation", 400, "bedrock_validation"),
    ],
)
def test_a_bedrock_error_maps_to_its_status_and_releases_the_reservation(
    stack: LocalStack, mode: str, status: int, code: str
) -> None:
    assert stack.bedrock is not None
    warm = ask(stack, "faulty")  # the period item exists, so "unchanged" compares real numbers
    assert warm.status == 200, warm.text
    before = ledger_snapshot(stack, "faulty")
    stack.bedrock.inject_fault(
        mode, count=None, model_id=stack.tenants["faulty"].profile_arns["claude-3-haiku"]
    )

    response = ask(stack, "faulty")

    assert (response.status, response.error_code) == (status, code), response.text
    period, records = ledger_snapshot(stack, "faulty")
    assert holds(period) == {}
    assert period["available_nanos"] == before[0]["available_nanos"]
    assert period["spent_nanos"] == before[0]["spent_nanos"]
    assert records == before[1]


def test_a_transient_throttle_is_retried_by_the_gateway_and_charged_once(stack: LocalStack) -> None:
    assert stack.bedrock is not None
    arn = stack.tenants["faulty"].profile_arns["claude-3-haiku"]
    stack.bedrock.clear_requests()
    before = ledger_snapshot(stack, "faulty")
    stack.bedrock.inject_fault("throttle", count=1, model_id=arn)

    response = ask(stack, "faulty")

    assert response.status == 200, response.text
    assert [entry["status"] for entry in stack.bedrock.requests()] == [429, 200]
    period, records = ledger_snapshot(stack, "faulty")
    assert records == before[1] + 1
    # .get: under xdist this module's stack can be fresh here (its period item not yet written).
    spent_before = before[0].get("spent_nanos", 0)
    assert period["spent_nanos"] == spent_before + usd_to_nanos(response.json()["cost"]["usd"])


def test_a_stream_broken_midway_settles_the_reserved_worst_case(stack: LocalStack) -> None:
    assert stack.bedrock is not None
    tenant = stack.tenants["faulty"]
    assert ask(stack, "faulty").status == 200
    before, records_before = ledger_snapshot(stack, "faulty")
    stack.bedrock.inject_fault("stream-error", count=1, model_id=tenant.profile_arns["claude-3-haiku"])

    response = call(
        stack,
        "/v1/converse-stream",
        api_key=tenant.api_key,
        body=tenant.request_body("x" * 400, max_tokens=100),
    )

    assert response.status == 200  # the stream had started: the failure arrives as its last event
    events = response.sse_events()
    assert events[0]["type"] == "delta"
    assert events[-1]["type"] == "error"
    period, records = ledger_snapshot(stack, "faulty")
    assert holds(period) == {}
    assert records == records_before + 1
    [record] = [r for r in call_records(stack, "faulty") if r.get("estimated")]
    # Bedrock bills what it generated, which nobody knows: the worst case reserved is what is charged.
    worst_case_nanos = (400 + 16 + 64) * 250 + 100 * 1250
    assert record["cost_nanos"] == worst_case_nanos
    assert period["spent_nanos"] == before["spent_nanos"] + worst_case_nanos
