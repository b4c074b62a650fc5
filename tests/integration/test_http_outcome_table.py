"""Every row of the outcome table (core/outcomes.py, docs/design.md section 8) over HTTP against the local
stack, with the Bedrock stand-in's faults: the status, the ledger's movement to the nano-dollar, and the
call record (estimated or not).

The never-sent row (connection refused) needs a stack whose Bedrock endpoint refuses connections:
test_http_never_sent.py.

Hand-computed figures for the request every row sends (claude-3-haiku, USD 0.25 / 1.25 per million
tokens = 250 / 1250 nano-dollars per token; a 400-byte user message, max_tokens 100):
- worst case reserved: input bound (400 bytes + 16 + 64 per message overhead) x 250 + 100 x 1250
  = 120,000 + 125,000 = 245,000 nano-dollars;
- actual on success: the stand-in counts ceil(400 / 4) = 100 input tokens and answers
  max(16, 100 // 2) = 50 output tokens: 100 x 250 + 50 x 1250 = 87,500 nano-dollars.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
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

pytestmark = pytest.mark.xdist_group("http_outcome_table")

TFVARS = """
environment = "test"
tenants = {
  table = {
    application_id = "table-app"
    cost_center    = "table"
    models         = ["claude-3-haiku"]
    budget         = { limit_usd = 10 }
  }
  slow = {
    application_id = "slow-app"
    cost_center    = "slow"
    models         = ["claude-opus-4-1"]
    budget         = { limit_usd = 10 }
  }
}
"""
BEDROCK_TIMEOUT_SECONDS = 1
WORST_CASE_NANOS = 245_000
ACTUAL_NANOS = 87_500
TEXT = "x" * 400
MAX_TOKENS = 100


@dataclass(frozen=True)
class Row:
    """One way a call can end, how to make the stand-in end it that way, and what the table says."""

    name: str
    route: str  # converse | converse-stream
    fault: str | None
    status: int
    code: str | None  # the error code (of the answer, or of the stream's last event)
    settlement: str  # actual | release | worst
    latency_ms: int = 0


ROWS = [
    Row("success", "converse", None, 200, None, "actual"),
    Row("success, streamed", "converse-stream", None, 200, None, "actual"),
    Row("validation error (400, not billed)", "converse", "validation", 400, "bedrock_validation", "release"),
    Row("validation error, streamed", "converse-stream", "validation", 400, "bedrock_validation", "release"),
    Row("throttle (429, not billed)", "converse", "throttle", 429, "bedrock_throttled", "release"),
    Row("throttle, streamed", "converse-stream", "throttle", 429, "bedrock_throttled", "release"),
    Row("quota exceeded (not billed)", "converse", "quota", 429, "bedrock_throttled", "release"),
    Row("access denied (403, not billed)", "converse", "denied", 403, "model_access_denied", "release"),
    Row("500 InternalServer (may have run)", "converse", "internal", 502, "bedrock_failed", "worst"),
    Row("424 ModelError (the model ran)", "converse", "model-error", 502, "bedrock_failed", "worst"),
    Row("200 without usage (unreadable)", "converse", "bad-response", 502, "bedrock_bad_response", "worst"),
    Row("503 ServiceUnavailable (may have run)", "converse", "unavailable", 502, "bedrock_failed", "worst"),
    Row("408 ModelTimeout (the model ran)", "converse", "timeout", 504, "bedrock_timeout", "worst"),
    Row(
        "read timeout after send (stall)",
        "converse",
        "stall",
        504,
        "bedrock_timeout",
        "worst",
        (BEDROCK_TIMEOUT_SECONDS + 2) * 1000,
    ),
    Row(
        "read timeout after send (slow answer)",
        "converse",
        "latency",
        504,
        "bedrock_timeout",
        "worst",
        (BEDROCK_TIMEOUT_SECONDS + 2) * 1000,
    ),
    Row(
        "read timeout, streamed",
        "converse-stream",
        "stall",
        504,
        "bedrock_timeout",
        "worst",
        (BEDROCK_TIMEOUT_SECONDS + 2) * 1000,
    ),
    Row(
        "connection dropped after send",
        "converse",
        "drop-after-read",
        502,
        "bedrock_connection_lost",
        "worst",
    ),
    Row(
        "connection dropped after send, streamed",
        "converse-stream",
        "drop-after-read",
        502,
        "bedrock_connection_lost",
        "worst",
    ),
    Row("stream broken after content", "converse-stream", "stream-error", 200, "bedrock_failed", "worst"),
    Row("stream cut after content", "converse-stream", "stream-drop", 200, "bedrock_failed", "worst"),
    Row(
        "stream broken before content",
        "converse-stream",
        "stream-error-early",
        502,
        "bedrock_failed",
        "worst",
    ),
]


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with own_stack(
        TFVARS, gateway_environment={"BEDROCK_TIMEOUT_SECONDS": str(BEDROCK_TIMEOUT_SECONDS)}
    ) as running:
        yield running


def ask(stack: LocalStack, route: str) -> HttpResult:
    tenant = stack.tenants["table"]
    return call(
        stack, f"/v1/{route}", api_key=tenant.api_key, body=tenant.request_body(TEXT, max_tokens=MAX_TOKENS)
    )


def snapshot(stack: LocalStack) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    return period_item(stack, "table"), {r["requestId"]: r for r in call_records(stack, "table")}


def error_code(response: HttpResult, route: str) -> str | None:
    if route == "converse-stream" and response.status == 200:
        last = response.sse_events()[-1]
        return last["error"]["code"] if last["type"] == "error" else None
    return response.error_code


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_each_way_a_call_ends_moves_the_ledger_as_the_table_says(stack: LocalStack, row: Row) -> None:
    assert stack.bedrock is not None
    stack.bedrock.clear_faults()
    assert ask(stack, "converse").status == 200  # the period item exists: "unchanged" compares numbers
    before, records_before = snapshot(stack)
    if row.fault is not None:
        arn = stack.tenants["table"].profile_arns["claude-3-haiku"]
        stack.bedrock.inject_fault(row.fault, count=None, model_id=arn, latency_ms=row.latency_ms)

    response = ask(stack, row.route)
    stack.bedrock.clear_faults()

    assert (response.status, error_code(response, row.route)) == (row.status, row.code), response.text
    after, records_after = snapshot(stack)
    assert holds(after) == {}
    new_records = [records_after[key] for key in records_after.keys() - records_before.keys()]
    spent = after["spent_nanos"] - before["spent_nanos"]
    given = before["available_nanos"] - after["available_nanos"]
    if row.settlement == "release":
        assert (spent, given, new_records) == (0, 0, [])
        return
    [record] = new_records
    expected = ACTUAL_NANOS if row.settlement == "actual" else WORST_CASE_NANOS
    assert (spent, given, record["cost_nanos"]) == (expected, expected, expected)
    assert bool(record.get("estimated")) is (row.settlement == "worst")
    if row.settlement == "worst":
        assert "estimated" in record and record["estimated"] is True


def test_a_throttle_is_retried_but_what_may_have_been_billed_is_sent_once(stack: LocalStack) -> None:
    assert stack.bedrock is not None
    arn = stack.tenants["table"].profile_arns["claude-3-haiku"]
    for fault, attempts in (("throttle", 2), ("internal", 1), ("drop-after-read", 1)):
        stack.bedrock.clear_requests()
        stack.bedrock.inject_fault(fault, count=None, model_id=arn)
        ask(stack, "converse")
        stack.bedrock.clear_faults()
        assert len(stack.bedrock.requests()) == attempts, fault


def test_a_lone_surrogate_in_the_body_is_a_400_with_nothing_reserved(stack: LocalStack) -> None:
    assert stack.bedrock is not None
    tenant = stack.tenants["table"]
    assert ask(stack, "converse").status == 200
    before = snapshot(stack)
    stack.bedrock.clear_requests()
    body = json.dumps(tenant.request_body("half an emoji: \ud83d", max_tokens=MAX_TOKENS)).encode()
    assert b"\\ud83d" in body  # what a client that splits a surrogate pair sends

    for route in ("converse", "converse-stream"):
        response = call(stack, f"/v1/{route}", api_key=tenant.api_key, raw_body=body)

        assert (response.status, response.error_code) == (400, "invalid_unicode"), response.text
        assert "prompt.messages[0].content" in response.json()["error"]["message"]
    assert snapshot(stack) == before
    assert stack.bedrock.requests() == []


def test_a_generation_that_cannot_finish_within_the_functions_limit_is_refused_up_front(
    stack: LocalStack,
) -> None:
    # claude-opus-4-1 at its conservative 15 tokens/s: every model route runs in the streaming function
    # (300 s - 2 s for the gateway - 3 s to the first token) and fits (295) x 15 = 4,425 of the model's
    # 32,000 tokens, on /v1/converse as on the stream routes (no 29 s API Gateway cut-off).
    assert stack.bedrock is not None
    tenant = stack.tenants["slow"]
    before = snapshot(stack)
    stack.bedrock.clear_requests()
    for route in ("/v1/converse", "/v1/converse-stream"):
        refused = call(stack, route, api_key=tenant.api_key, body=tenant.request_body("hi", max_tokens=4_426))
        assert (refused.status, refused.error_code) == (400, "generation_too_long"), refused.text
        assert "at most 4425" in refused.json()["error"]["message"]
    assert snapshot(stack) == before
    assert stack.bedrock.requests() == []
    fits = call(
        stack, "/v1/converse", api_key=tenant.api_key, body=tenant.request_body("hi", max_tokens=4_425)
    )
    assert fits.status == 200, fits.text


def test_a_function_killed_mid_call_is_charged_the_worst_case_at_expiry(stack: LocalStack) -> None:
    """The last row: the function dies after reserving and sending, so it never settles. The ledger
    sweep (its scheduled function's own run_sweep, on a fresh config read, at a moment past the hold's
    expiry) charges the expired hold instead of giving it back; GET /v1/budget shows it."""
    from cost_sentry.adapters.config_store import ConfigStore
    from cost_sentry.adapters.ledger import CallRecord, Ledger
    from cost_sentry.core.catalog import default_catalog
    from cost_sentry.core.estimate import worst_case
    from cost_sentry.handlers.ledger_sweep import fresh_tenants, run_sweep

    access = stack.tenants["table"]
    dynamodb = stack.client("dynamodb")
    tenant = ConfigStore(dynamodb, stack.config_table, 300).tenant_for_api_key(access.api_key_id)
    assert tenant is not None
    # The gateway function's ledger, as the local stack configures it (hold lifetime = function timeout).
    lifetime = int(os.environ["MAX_REQUEST_SECONDS"])
    ledger = Ledger(dynamodb, stack.ledger_table, hold_lifetime_seconds=lifetime)
    worst = worst_case(default_catalog().get("claude-3-haiku"), [TEXT], MAX_TOKENS)
    assert worst.cost_nanos == WORST_CASE_NANOS
    before = call(stack, "/v1/budget", api_key=access.api_key).json()
    record = CallRecord(
        request_id="killed-mid-call",
        timestamp="",
        principal="",
        api_key_id=access.api_key_id,
        user=None,
        model="claude-3-haiku",
        model_id="profile",
        application_id=tenant.application_id,
        cost_center=tenant.cost_center,
        environment=tenant.environment,
        input_tokens=0,
        output_tokens=0,
        cost_nanos=0,
    )
    reserved_at = time.time()
    ledger.reserve(tenant, "killed-mid-call", worst, record=record)  # ... and the function dies
    held = call(stack, "/v1/budget", api_key=access.api_key).json()
    assert usd_to_nanos(held["heldUsd"]) == WORST_CASE_NANOS

    # Before the hold's expiry the sweep leaves it alone; after it, the hold is spent.
    assert run_sweep(ledger, fresh_tenants(dynamodb, stack.config_table), reserved_at + 1)["charged"] == {}
    report = run_sweep(ledger, fresh_tenants(dynamodb, stack.config_table), reserved_at + lifetime + 1)
    assert report["charged"] == {"table": 1} and report["errors"] == []

    after = call(stack, "/v1/budget", api_key=access.api_key).json()
    assert usd_to_nanos(after["spentUsd"]) - usd_to_nanos(before["spentUsd"]) == WORST_CASE_NANOS
    assert usd_to_nanos(after["heldUsd"]) == usd_to_nanos(before["heldUsd"]) == 0
    assert usd_to_nanos(before["remainingUsd"]) - usd_to_nanos(after["remainingUsd"]) == WORST_CASE_NANOS
    [charged] = [r for r in call_records(stack, "table") if r["requestId"] == "killed-mid-call"]
    assert charged["estimated"] is True and int(charged["cost_nanos"]) == WORST_CASE_NANOS
    assert holds(period_item(stack, "table")) == {}
