"""Pacing and shadow mode through their real entry point: tfvars evaluated by Terraform, served by the local
stack (`make serve`'s), called over HTTP (urllib and the openai package).

The stack runs on the wall clock, so the paced tenant's limit is chosen from the moment the test starts:
its allowance (elapsed share of the period plus a 1 % burst) is then 2.5 worst cases, and the test checks
that two requests are admitted and the third is refused for the pace while the budget still had room."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import openai
import pytest

from cost_sentry.core.pacing import Pace, pace_at
from scripts.testbed.local_stack import LocalStack
from tests.integration.http_helpers import (
    HttpResult,
    call,
    call_records,
    own_stack,
    period_item,
    usd_to_nanos,
)

pytestmark = pytest.mark.xdist_group("http_pacing_and_shadow")

# claude-3-haiku, 400 bytes in, max_tokens 100: every call reserves this worst case (the limits test's).
WORST_NANOS = 245_000
BURST = Pace(burst_ppm=10_000)  # burst_percent = 1


def _elapsed_share(period: str, now: float) -> Decimal:
    paced = pace_at(BURST, 10**12, period, now)
    return Decimal(paced.now_ms - paced.start_ms) / Decimal(paced.duration_ms)


def _paced_budget(now: float) -> tuple[str, str]:
    """The period (of the two, the one less elapsed) and the limit whose allowance is 2.5 worst cases."""
    period = min(("MONTHLY", "DAILY"), key=lambda p: _elapsed_share(p, now))
    share = _elapsed_share(period, now)
    if share > Decimal("0.7"):
        pytest.skip("late in both the month and the day the pace and the limit nearly coincide")
    limit_nanos = int(Decimal(WORST_NANOS) * Decimal("2.5") / (share + Decimal("0.01")))
    return period, str(Decimal(limit_nanos).scaleb(-9))


def tfvars(period: str, limit_usd: str) -> str:
    return f"""
environment = "test"
tenants = {{
  paced = {{
    application_id = "paced-app"
    cost_center    = "paced"
    models         = ["claude-3-haiku"]
    budget         = {{ limit_usd = {limit_usd}, period = "{period}", pace = {{ burst_percent = 1 }} }}
  }}
  shadow = {{
    application_id = "shadow-app"
    cost_center    = "shadow"
    models         = ["claude-3-haiku"]
    budget         = {{ limit_usd = 0.00025 }}
    enforce        = false
  }}
}}
"""


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    period, limit_usd = _paced_budget(time.time())
    # The config refresh every second, so switching shadow mode off is seen at once.
    with own_stack(tfvars(period, limit_usd), gateway_environment={"CONFIG_REFRESH_SECONDS": "1"}) as running:
        yield running


def ask(stack: LocalStack, tenant_id: str, max_tokens: int = 100) -> HttpResult:
    tenant = stack.tenants[tenant_id]
    return call(
        stack,
        "/v1/converse",
        api_key=tenant.api_key,
        body=tenant.request_body("x" * 400, max_tokens=max_tokens),
    )


def budget(stack: LocalStack, tenant_id: str) -> dict[str, Any]:
    answer = call(stack, "/v1/budget", api_key=stack.tenants[tenant_id].api_key)
    assert answer.status == 200, answer.text
    return answer.json()


def test_the_pace_admits_what_fits_and_refuses_what_does_not_while_the_budget_has_room(
    stack: LocalStack,
) -> None:
    admitted: list[HttpResult] = []
    refused = None
    for _ in range(20):  # each settles below its worst case: the pace's room shrinks by what it cost
        answer = ask(stack, "paced")
        if answer.status != 200:
            refused = answer
            break
        admitted.append(answer)

    assert refused is not None, "the pace never refused"
    assert (refused.status, refused.error_code) == (429, "pace_exceeded"), refused.text
    assert len(admitted) >= 2
    # Far from its moment: final, with the moment the pace admits it (no SDK sleeps for it).
    assert "Retry-After" not in refused.headers and refused.headers["x-should-retry"] == "false"
    error = refused.json()["error"]
    assert refused.headers["x-cost-sentry-budget-resets-at"] == error["resetsAt"]
    assert error["resetInSeconds"] > 60
    report = budget(stack, "paced")
    pace, allowance = report["pace"], usd_to_nanos(report["pace"]["allowanceUsd"])
    spent_or_held = usd_to_nanos(pace["spentOrHeldUsd"])
    assert (
        spent_or_held
        == usd_to_nanos(report["spentUsd"])
        == sum(usd_to_nanos(a.json()["cost"]["usd"]) for a in admitted)
    )
    # Every admitted request fitted the pace when it came; the refused one did not, but did fit the
    # budget: the pace, not the limit, said no.
    last_cost = usd_to_nanos(admitted[-1].json()["cost"]["usd"])
    assert spent_or_held - last_cost + WORST_NANOS <= allowance
    assert spent_or_held + WORST_NANOS > allowance
    assert spent_or_held + WORST_NANOS <= usd_to_nanos(report["limitUsd"])
    assert len(call_records(stack, "paced")) == len(admitted)

    # The openai package (default retries) stops at once on the final pace denial.
    client = openai.OpenAI(base_url=stack.gateway_url + "/v1", api_key=stack.tenants["paced"].api_key)
    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(
            model="claude-3-haiku", max_tokens=100, messages=[{"role": "user", "content": "x" * 400}]
        )
    assert raised.value.response.headers["x-should-retry"] == "false"
    assert "paced" in str(raised.value)
    assert len(call_records(stack, "paced")) == len(admitted)


def test_shadow_mode_admits_past_the_budget_and_records_each_would_be_denial(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    answers = [ask(stack, "shadow") for _ in range(3)]
    invalid = call(stack, "/v1/converse", api_key=stack.tenants["shadow"].api_key, body={"model": 7})

    assert [a.status for a in answers] == [200, 200, 200], [a.text for a in answers]
    assert "x-cost-sentry-would-deny" not in answers[0].headers
    assert [a.headers.get("x-cost-sentry-would-deny") for a in answers[1:]] == ["budget_exhausted"] * 2
    assert answers[2].json()["budget"]["wouldDeny"] == "budget_exhausted"
    assert invalid.status == 400  # validation is still refused: shadow mode lifts limits, not rules
    # Every surface says it: the OpenAI surface, through the openai package.
    client = openai.OpenAI(base_url=stack.gateway_url + "/v1", api_key=stack.tenants["shadow"].api_key)
    raw = client.chat.completions.with_raw_response.create(
        model="claude-3-haiku", max_tokens=100, messages=[{"role": "user", "content": "x" * 400}]
    )
    assert raw.headers["x-cost-sentry-would-deny"] == "budget_exhausted"
    openai_cost = usd_to_nanos(raw.headers["x-cost-sentry-cost-usd"])
    # Exact: everything spent is in the ledger and the call records, past the limit.
    spent = sum(usd_to_nanos(a.json()["cost"]["usd"]) for a in answers) + openai_cost
    assert period_item(stack, "shadow")["spent_nanos"] == spent > 250_000
    assert sum(int(r["cost_nanos"]) for r in call_records(stack, "shadow")) == spent
    report = budget(stack, "shadow")
    assert report["enforce"] is False and usd_to_nanos(report["remainingUsd"]) == 250_000 - spent
    # The function's stdout: the EMF documents CloudWatch turns into metrics, and the log lines.
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    would_deny = [d for d in printed if d.get("WouldDeny") == 1 and d.get("CostCenter") == "shadow"]
    assert [d["Reason"] for d in would_deny] == ["budget_exhausted"] * 3
    assert any(
        ["CostCenter", "Reason"] in m["Dimensions"] for m in would_deny[0]["_aws"]["CloudWatchMetrics"]
    )
    lines = [
        line for line in printed if line.get("message") == "would_deny" and line.get("tenant") == "shadow"
    ]
    assert [line["reason"] for line in lines] == ["budget_exhausted"] * 3


def _shadow_past_its_budget(stack: LocalStack) -> None:
    """Two shadow requests: the second's worst case no longer fits USD 0.00025 (each test stands alone,
    whatever ran before it on this stack)."""
    assert [ask(stack, "shadow").status for _ in range(2)] == [200, 200]


def test_a_shadow_tenants_stream_says_its_would_be_denial_in_its_opening_headers(stack: LocalStack) -> None:
    _shadow_past_its_budget(stack)
    # A stream's headers leave before Bedrock answers, but after the hold, which knows the reason.
    client = openai.OpenAI(base_url=stack.gateway_url + "/v1", api_key=stack.tenants["shadow"].api_key)
    raw = client.chat.completions.with_raw_response.create(
        model="claude-3-haiku",
        max_tokens=100,
        messages=[{"role": "user", "content": "x" * 400}],
        stream=True,
    )
    assert raw.headers["x-cost-sentry-would-deny"] == "budget_exhausted"
    chunks = list(raw.parse())
    assert chunks and chunks[-1].model_extra.get("cost_sentry") is not None


def test_switching_shadow_mode_off_takes_effect_at_the_next_config_refresh(stack: LocalStack) -> None:
    _shadow_past_its_budget(stack)
    dynamodb = stack.client("dynamodb")
    key = {"pk": {"S": "tenant#shadow"}}
    item = dynamodb.get_item(TableName=stack.config_table, Key=key)["Item"]
    document = json.loads(item["config"]["S"])
    assert document["enforce"] is False  # as Terraform wrote it from enforce = false
    document["enforce"] = True  # what the next apply of enforce = true writes
    dynamodb.put_item(TableName=stack.config_table, Item={**item, "config": {"S": json.dumps(document)}})
    time.sleep(1.5)  # CONFIG_REFRESH_SECONDS = 1
    try:
        refused = ask(stack, "shadow")
    finally:  # shadow mode again for whatever runs next on this stack
        dynamodb.put_item(TableName=stack.config_table, Item=item)
        time.sleep(1.5)

    assert (refused.status, refused.error_code) == (429, "budget_exhausted"), refused.text
