"""Over HTTP against the local stack (issue 14, item 1): text the model reads from
``additionalModelRequestFields`` is reserved for, so a tenant cannot spend past its limit with it, and a
request that fits is still admitted once the large ones are refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

from scripts.testbed.local_stack import LocalStack
from tests.integration.http_helpers import HttpResult, call, own_stack, period_item

pytestmark = pytest.mark.xdist_group("http_sent_bound")

LIMIT_NANOS = 100_000_000  # USD 0.10
TFVARS = """
environment = "test"
tenants = {
  bounded = {
    application_id = "bounded-app"
    cost_center    = "bounded"
    models         = ["claude-3-haiku"]
    budget         = { limit_usd = 0.10 }
  }
  burst = {
    application_id = "burst-app"
    cost_center    = "burst"
    models         = ["claude-3-haiku"]
    budget         = { limit_usd = 0.10 }
  }
}
"""
# A ~200 KB tool definition, as Bedrock's computer-use examples pass Anthropic tools: the stand-in bills
# it as input (50,000 tokens at 4 bytes a token = USD 0.0125 on claude-3-haiku).
TOOL = {"name": "computer", "description": "y" * 200_000}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with own_stack(TFVARS) as running:
        yield running


def converse(stack: LocalStack, tenant: str, extra: dict[str, Any] | None, text: str = "hello") -> HttpResult:
    body: dict[str, Any] = {
        "messages": [{"role": "user", "content": [{"text": text}]}],
        "inferenceConfig": {"maxTokens": 100},
    }
    if extra is not None:
        body["additionalModelRequestFields"] = extra
    return call(
        stack,
        "/model/claude-3-haiku/converse",
        body=body,
        headers={"Authorization": f"Bearer {stack.tenants[tenant].api_key}"},
    )


# A budget denial on the Bedrock surface: final, so a 400 no SDK retries (core/errors.py FINAL_DENIALS).
DENIED = "ServiceQuotaExceededException"


def outcome(answer: HttpResult) -> str:
    return "admitted" if answer.status == 200 else answer.headers.get("x-amzn-ErrorType", str(answer.status))


def usd(text: str) -> int:
    return int(Decimal(text) * 1_000_000_000)


def test_text_in_the_extra_fields_cannot_spend_past_the_limit_and_what_fits_is_admitted(
    stack: LocalStack,
) -> None:
    answers = [converse(stack, "bounded", {"tools": [TOOL]}) for _ in range(40)]
    outcomes = [outcome(answer) for answer in answers]
    assert set(outcomes) <= {"admitted", DENIED}, [a.text for a in answers if a.status != 200]
    period = period_item(stack, "bounded")
    assert period["spent_nanos"] <= LIMIT_NANOS
    admitted = outcomes.count("admitted")
    assert admitted >= 1
    # Every denial is true: the budget left really was below the request's worst case.
    for answer in answers[admitted:]:
        message = answer.json()["message"]
        left, worst = re.search(
            r"USD ([\d.]+) left; this request may cost up to USD ([\d.]+)", message
        ).groups()
        assert usd(left) < usd(worst)
    assert outcomes == ["admitted"] * admitted + [DENIED] * (40 - admitted)
    # The other side: a request whose worst case fits what is left is admitted.
    small = converse(stack, "bounded", None)
    assert small.status == 200, small.text
    assert period_item(stack, "bounded")["spent_nanos"] <= LIMIT_NANOS


def test_a_concurrent_burst_with_large_extra_fields_stays_within_the_limit(stack: LocalStack) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: converse(stack, "burst", {"tools": [TOOL]}), range(16)))
    assert {outcome(answer) for answer in answers} <= {"admitted", DENIED}
    assert "admitted" in {outcome(answer) for answer in answers}
    assert period_item(stack, "burst")["spent_nanos"] <= LIMIT_NANOS


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"anthropic_beta": "context-1m-2025-08-07"}, "list of strings"),
        ({"max_tokens": 4096}, "inferenceConfig.maxTokens"),
    ],
)
def test_extra_fields_that_would_escape_the_bound_get_a_400_and_reserve_nothing(
    stack: LocalStack, extra: dict[str, Any], code: str
) -> None:
    before = period_item(stack, "burst")
    answer = converse(stack, "burst", extra)
    assert answer.status == 400, answer.text
    assert answer.headers["x-amzn-ErrorType"] == "ValidationException"
    assert code in answer.json()["message"]
    after = period_item(stack, "burst")
    assert after.get("spent_nanos") == before.get("spent_nanos")
    assert after.get("available_nanos") == before.get("available_nanos")
