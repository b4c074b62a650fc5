"""Guardrails over HTTPS with boto3 ``converse`` and ``converse_stream``: the gateway asks Bedrock for the
guardrail trace (its usage is the bill), gives the caller no trace unless asked, and the tenant's ledger
moves by exactly the tokens' cost plus the guardrail units' cost (docs/design.md 7.2-7.4, section 8).

Expected money is computed here from the published rates (written out below, not read from the code
under test): tokens from the usage the SDK reports, guardrail units from what the Bedrock stand-in's
guardrail billed (its request log), which is what Bedrock bills whether or not the trace is shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from scripts.testbed.local_stack import LocalStack
from tests.integration.http_helpers import call, call_records, own_stack, period_item

pytestmark = pytest.mark.xdist_group("guardrails")

TFVARS = """
environment = "test"
tenants = {
  guarded = {
    application_id = "guarded-app"
    cost_center    = "guarded"
    models         = ["nova-lite"]
    budget         = { limit_usd = 20 }
  }
}
"""
# nova-lite, in-Region: USD 0.06 / 0.24 per million tokens = nano-dollars per token.
NOVA = {"input": 60, "output": 240}
# Guardrails, USD per 1,000 text units x 10^6 = nano-dollars per text unit; images USD 0.00075 each.
GUARDRAIL_RATES = {
    "contentPolicyUnits": 150_000,
    "topicPolicyUnits": 150_000,
    "sensitiveInformationPolicyUnits": 100_000,
    "sensitiveInformationPolicyFreeUnits": 0,
    "wordPolicyUnits": 0,
    "contextualGroundingPolicyUnits": 100_000,
    "contentPolicyImageUnits": 750_000,
}
# The worst case's rate per text unit: every priced policy, two automated reasoning policies at 0.17.
EVERY_POLICY = 150_000 + 150_000 + 100_000 + 100_000 + 2 * 170_000
CHARACTERS_PER_OUTPUT_TOKEN = 32  # the bound docs/design.md 7.3 names
GUARDRAIL = {"guardrailIdentifier": "gr-budget", "guardrailVersion": "1"}
PROMPT = "Summarise why the ledger settles every guardrail unit. " * 40  # 2,240 characters: 3 units


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with own_stack(TFVARS, https=True) as running:
        yield running


@pytest.fixture
def client(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", stack.tenants["guarded"].api_key)
    monkeypatch.setenv("AWS_CA_BUNDLE", stack.ca_file)
    return boto3.session.Session().client(
        "bedrock-runtime", region_name="us-east-1", endpoint_url=stack.gateway_https_url
    )


def spent(stack: LocalStack) -> int:
    return int(period_item(stack, "guarded").get("spent_nanos", 0))


def tokens_cost(usage: dict[str, Any]) -> int:
    return usage["inputTokens"] * NOVA["input"] + usage["outputTokens"] * NOVA["output"]


def guardrail_cost(billed: dict[str, int]) -> int:
    return sum(units * GUARDRAIL_RATES[name] for name, units in billed.items())


def last_bedrock_call(stack: LocalStack) -> dict[str, Any]:
    assert stack.bedrock is not None
    return stack.bedrock.requests()[-1]


def record_of(stack: LocalStack, request_id: str) -> dict[str, Any]:
    [record] = [r for r in call_records(stack, "guarded") if r["requestId"] == request_id]
    return record


def messages(text: str = PROMPT) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"text": text}]}]


def test_converse_with_a_guardrail_settles_tokens_plus_guardrail_units_and_shows_no_trace(
    stack: LocalStack, client: Any
) -> None:
    before = spent(stack)
    response = client.converse(
        modelId="nova-lite",
        messages=messages(),
        inferenceConfig={"maxTokens": 200},
        guardrailConfig=GUARDRAIL,
    )
    assert "trace" not in response
    sent = last_bedrock_call(stack)
    assert sent["body"]["guardrailConfig"] == {**GUARDRAIL, "trace": "enabled"}
    billed = sent["guardrailUsage"]
    assert billed["contentPolicyUnits"] == 3 + 1  # the prompt's 3 units, the reply's 1
    expected = tokens_cost(response["usage"]) + guardrail_cost(billed)
    assert spent(stack) - before == expected
    record = record_of(stack, response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"])
    assert int(record["cost_nanos"]) == expected and not record.get("estimated")
    cost_header = response["ResponseMetadata"]["HTTPHeaders"]["x-cost-sentry-cost-usd"]
    assert Decimal(cost_header).scaleb(9) == expected  # the exact nanos above, in USD


def test_converse_stream_with_a_guardrail_prices_every_assessed_chunk(stack: LocalStack, client: Any) -> None:
    before = spent(stack)
    response = client.converse_stream(
        modelId="nova-lite", messages=messages(), inferenceConfig={"maxTokens": 64}, guardrailConfig=GUARDRAIL
    )
    events = list(response["stream"])
    [metadata] = [event["metadata"] for event in events if "metadata" in event]
    assert "trace" not in metadata
    text = "".join(
        e["contentBlockDelta"]["delta"].get("text", "") for e in events if "contentBlockDelta" in e
    )
    sent = last_bedrock_call(stack)
    assert sent["body"]["guardrailConfig"] == {**GUARDRAIL, "trace": "enabled"}
    billed = sent["guardrailUsage"]
    chunks = sum(1 for e in events if "contentBlockDelta" in e)
    assert chunks > 1 and len(text) == 4 * metadata["usage"]["outputTokens"]
    # One unit per policy for the prompt's 3, and one per streamed chunk (each rounded up on its own).
    assert billed["contentPolicyUnits"] == 3 + chunks
    assert spent(stack) - before == tokens_cost(metadata["usage"]) + guardrail_cost(billed)


def test_an_image_is_priced_at_the_image_rate(stack: LocalStack, client: Any) -> None:
    before = spent(stack)
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00"
    response = client.converse(
        modelId="nova-lite",
        messages=[
            {
                "role": "user",
                "content": [
                    {"text": "What is this?"},
                    {"image": {"format": "png", "source": {"bytes": png}}},
                ],
            }
        ],
        inferenceConfig={"maxTokens": 50},
        guardrailConfig=GUARDRAIL,
    )
    billed = last_bedrock_call(stack)["guardrailUsage"]
    assert billed["contentPolicyImageUnits"] == 1
    assert spent(stack) - before == tokens_cost(response["usage"]) + guardrail_cost(billed)


def test_a_guardrail_whose_usage_is_missing_is_charged_its_worst_case_and_marked_estimated(
    stack: LocalStack, client: Any
) -> None:
    assert stack.bedrock is not None
    stack.bedrock.inject_fault("guardrail-no-usage")
    before = spent(stack)
    response = client.converse(
        modelId="nova-lite",
        messages=messages("hello"),
        inferenceConfig={"maxTokens": 100},
        guardrailConfig=GUARDRAIL,
    )
    # The worst case of the guardrail: 1 input unit, ceil(100 x 32 / 1000) = 4 output units.
    worst_guardrail = (1 + 4) * EVERY_POLICY
    expected = tokens_cost(response["usage"]) + worst_guardrail
    assert spent(stack) - before == expected
    record = record_of(stack, response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"])
    assert int(record["cost_nanos"]) == expected and record["estimated"] is True


def test_bad_guardrail_settings_get_bedrocks_400_and_nothing_is_reserved(stack: LocalStack) -> None:
    before = period_item(stack, "guarded")
    calls = len(stack.bedrock.requests()) if stack.bedrock else 0
    body = {"messages": messages("hi"), "guardrailConfig": {**GUARDRAIL, "streamProcessingMode": "async"}}
    answer = call(
        stack,
        "/model/nova-lite/converse",
        body=body,
        headers={"Authorization": f"Bearer {stack.tenants['guarded'].api_key}"},
    )
    assert answer.status == 400, answer.text
    assert answer.headers["x-amzn-ErrorType"] == "ValidationException"
    assert "ConverseStream only" in answer.json()["message"]
    after = period_item(stack, "guarded")
    assert (after.get("spent_nanos"), after.get("available_nanos")) == (
        before.get("spent_nanos"),
        before.get("available_nanos"),
    )
    assert stack.bedrock is not None and len(stack.bedrock.requests()) == calls


def test_a_caller_who_asks_for_the_trace_gets_bedrocks_trace(stack: LocalStack, client: Any) -> None:
    before = spent(stack)
    config = {**GUARDRAIL, "trace": "enabled"}
    response = client.converse(
        modelId="nova-lite", messages=messages(), inferenceConfig={"maxTokens": 200}, guardrailConfig=config
    )
    billed = last_bedrock_call(stack)["guardrailUsage"]
    assert spent(stack) - before == tokens_cost(response["usage"]) + guardrail_cost(billed)
    [assessment] = response["trace"]["guardrail"]["inputAssessment"].values()
    assert assessment["invocationMetrics"]["usage"]["contentPolicyUnits"] == 3
    stream = client.converse_stream(
        modelId="nova-lite", messages=messages(), inferenceConfig={"maxTokens": 64}, guardrailConfig=config
    )
    [metadata] = [event["metadata"] for event in stream["stream"] if "metadata" in event]
    assert metadata["trace"]["guardrail"]["outputAssessments"]["gr-budget"]


def test_a_refused_converse_with_a_guardrail_is_released(stack: LocalStack, client: Any) -> None:
    assert stack.bedrock is not None
    stack.bedrock.inject_fault("validation")
    before = period_item(stack, "guarded")
    with pytest.raises(ClientError):
        client.converse(modelId="nova-lite", messages=messages("hi"), guardrailConfig=GUARDRAIL)
    after = period_item(stack, "guarded")
    assert after.get("spent_nanos") == before.get("spent_nanos")
    assert after.get("available_nanos") == before.get("available_nanos")
