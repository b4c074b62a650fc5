"""Over HTTP against the local stack (front + handler + moto + Bedrock stand-in): the happy paths and the
requests the gateway must refuse without touching the ledger or Bedrock."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cost_sentry.handlers.api_front import INVALID_API_KEY_MESSAGE
from scripts.testbed.local_stack import LocalStack
from tests.integration.http_helpers import call, call_records, own_stack, period_item, usd_to_nanos

pytestmark = pytest.mark.xdist_group("http_gateway")

TFVARS = """
environment = "test"
tenants = {
  alpha = {
    application_id = "alpha-app"
    cost_center    = "alpha"
    models         = ["claude-3-haiku", "nova-micro", "llama3-1-8b"]
    model_aliases  = { fast = "nova-micro" }
    budget         = { limit_usd = 5 }
  }
  beta = {
    application_id = "beta-app"
    cost_center    = "beta"
    models         = ["nova-micro"]
    budget         = { limit_usd = 5, period = "DAILY" }
  }
}
"""
# Catalog prices in nano-dollars per token (models.json): input, output.
PRICES = {"claude-3-haiku": (250, 1250), "nova-micro": (35, 140)}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with own_stack(TFVARS) as running:
        yield running


def stub_tokens(text: str) -> int:
    """The stand-in's documented rule: ceil(UTF-8 bytes / 4) per message."""
    return math.ceil(len(text.encode()) / 4)


def body(messages: list[dict[str, str]], model: str = "claude-3-haiku", **parameters: Any) -> dict[str, Any]:
    return {
        "model": model,
        "prompt": {"messages": messages, "parameters": parameters or {"max_tokens": 64}},
        "tags": {"applicationId": "alpha-app"},
    }


USER_TEXT = "Summarise the open invoices of the Nordics region and flag anything overdue by 60 days."
SYSTEM_TEXT = "You are the finance assistant. Answer in three bullet points."


# -- happy paths --------------------------------------------------------------------------------------


def test_converse_reaches_bedrock_through_the_tenants_profile_and_is_charged_exactly(
    stack: LocalStack,
) -> None:
    alpha = stack.tenants["alpha"]
    assert stack.bedrock is not None
    stack.bedrock.clear_requests()
    request = body(
        [{"role": "system", "content": SYSTEM_TEXT}, {"role": "user", "content": USER_TEXT}],
        max_tokens=100,
        temperature=0.5,
        top_p=0.9,
        top_k=40,
    )

    response = call(stack, "/v1/converse", api_key=alpha.api_key, body=request)

    assert response.status == 200, response.text
    document = response.json()
    input_tokens = stub_tokens(USER_TEXT) + stub_tokens(SYSTEM_TEXT)
    output_tokens = min(100, max(16, input_tokens // 2))
    assert document["usage"]["inputTokens"] == input_tokens
    assert document["usage"]["outputTokens"] == output_tokens
    cost_nanos = input_tokens * 250 + output_tokens * 1250
    assert usd_to_nanos(document["cost"]["usd"]) == cost_nanos

    [sent] = stack.bedrock.requests()
    assert sent["modelId"] == alpha.profile_arns["claude-3-haiku"]
    assert sent["body"]["system"] == [{"text": SYSTEM_TEXT}]
    assert sent["body"]["messages"] == [{"role": "user", "content": [{"text": USER_TEXT}]}]
    assert sent["body"]["inferenceConfig"] == {"maxTokens": 100, "temperature": 0.5, "topP": 0.9}
    assert sent["body"]["additionalModelRequestFields"] == {"top_k": 40}

    [record] = [r for r in call_records(stack, "alpha") if r["sk"].endswith(document["requestId"])]
    assert record["cost_nanos"] == cost_nanos
    assert record["modelId"] == alpha.profile_arns["claude-3-haiku"]
    assert (record["input_tokens"], record["output_tokens"]) == (input_tokens, output_tokens)
    assert (record["applicationId"], record["costCenter"], record["environment"]) == (
        "alpha-app",
        "alpha",
        "test",
    )
    # Without per-user sessions Bedrock bills the gateway's own role session: the principal Terraform
    # derives (gateway_principals output, OWN_PRINCIPAL), so the record joins CUR's line_item_iam_principal.
    assert record["principal"] == (
        "arn:aws:sts::123456789012:assumed-role/cost-sentry-gateway/cost-sentry-gateway"
    )


def test_top_k_goes_where_the_model_family_wants_it(stack: LocalStack) -> None:
    alpha = stack.tenants["alpha"]
    assert stack.bedrock is not None
    stack.bedrock.clear_requests()

    response = call(
        stack,
        "/v1/converse",
        api_key=alpha.api_key,
        body=body([{"role": "user", "content": "hi"}], model="fast", max_tokens=20, top_k=7),
    )

    assert response.status == 200, response.text
    [sent] = stack.bedrock.requests()
    assert sent["modelId"] == alpha.profile_arns["nova-micro"]  # the alias resolved to the tenant's profile
    assert sent["body"]["additionalModelRequestFields"] == {"inferenceConfig": {"topK": 7}}


def test_spend_accumulates_in_the_period_counter_and_the_budget_route(stack: LocalStack) -> None:
    beta = stack.tenants["beta"]
    costs = []
    for text in ("first question about the budget", "second, longer question about the monthly budget"):
        request = {
            "model": "nova-micro",
            "prompt": {"messages": [{"role": "user", "content": text}]},
            "tags": {"applicationId": "beta-app"},
        }
        response = call(stack, "/v1/converse", api_key=beta.api_key, body=request)
        assert response.status == 200, response.text
        costs.append(usd_to_nanos(response.json()["cost"]["usd"]))

    period = period_item(stack, "beta")
    budget = call(stack, "/v1/budget", api_key=beta.api_key)

    assert period["spent_nanos"] == sum(costs)
    assert period["requests"] == 2
    assert period["available_nanos"] == 5_000_000_000 - sum(costs)
    assert budget.status == 200
    assert usd_to_nanos(budget.json()["spentUsd"]) == sum(costs)
    assert budget.json()["periodType"] == "DAILY"


def test_the_stream_route_answers_server_sent_events_and_settles(stack: LocalStack) -> None:
    alpha = stack.tenants["alpha"]
    request = body([{"role": "user", "content": USER_TEXT * 3}], max_tokens=200)
    plain = call(stack, "/v1/converse", api_key=alpha.api_key, body=request).json()
    before = period_item(stack, "alpha")["spent_nanos"]

    response = call(stack, "/v1/converse-stream", api_key=alpha.api_key, body=request)

    assert response.status == 200, response.text
    assert response.headers["Content-Type"] == "text/event-stream"
    events = response.sse_events()
    assert {event["type"] for event in events[:-1]} == {"delta"}
    done = events[-1]
    assert done["type"] == "done"
    assert "".join(event["text"] for event in events[:-1]) == plain["output"]["text"]
    assert done["usage"] == plain["usage"]
    assert period_item(stack, "alpha")["spent_nanos"] == before + usd_to_nanos(done["cost"]["usd"])


# -- refusals: the right status, and nothing reserved, charged or sent to Bedrock -----------------------


def _alpha_key(stack: LocalStack) -> str:
    return stack.tenants["alpha"].api_key


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("a key of no tenant", 401, "unknown_api_key"),
        ("another tenant's application", 403, "tag_mismatch"),
        ("not json", 400, "invalid_json"),
        ("assistant first", 400, "role_order"),
        ("max_tokens above the model", 400, "max_tokens_above_model_limit"),
        ("a model the tenant lacks", 400, "model_not_allowed"),
        ("top_k on llama", 400, "top_k_not_supported"),
        ("bad end-user header", 400, "invalid_user"),
        ("unknown route", 404, "not_found"),
        ("wrong method", 405, "method_not_allowed"),
    ],
)
def test_refused_requests_touch_neither_the_ledger_nor_bedrock(
    stack: LocalStack, case: str, status: int, code: str
) -> None:
    good = body([{"role": "user", "content": "hello"}])
    kwargs: dict[str, Any] = {"api_key": _alpha_key(stack), "body": good}
    path = "/v1/converse"
    if case == "a key of no tenant":
        # A real API Gateway key (so API Gateway lets it through) that no tenant's config lists.
        stray = stack.client("apigateway").create_api_key(name="stray", enabled=True)
        kwargs["api_key"] = stray["value"]
        assert stack.api_keys is not None
        stack.api_keys.reload()  # API Gateway knows the key at once; the front's cache learns it now
    elif case == "another tenant's application":
        kwargs["body"] = {**good, "tags": {"applicationId": "beta-app"}}
    elif case == "not json":
        kwargs = {"api_key": _alpha_key(stack), "raw_body": b"{not json"}
    elif case == "assistant first":
        kwargs["body"] = body([{"role": "assistant", "content": "hi"}, {"role": "user", "content": "x"}])
    elif case == "max_tokens above the model":
        kwargs["body"] = body([{"role": "user", "content": "x"}], max_tokens=4097)
    elif case == "a model the tenant lacks":
        kwargs["body"] = body([{"role": "user", "content": "x"}], model="nova-pro")
    elif case == "top_k on llama":
        kwargs["body"] = body([{"role": "user", "content": "x"}], model="llama3-1-8b", top_k=5)
    elif case == "bad end-user header":
        kwargs["headers"] = {"x-cost-sentry-user": "not a valid session name!"}
    elif case == "unknown route":
        path = "/v1/chat"
    elif case == "wrong method":
        kwargs = {"api_key": _alpha_key(stack), "method": "GET"}
    assert stack.bedrock is not None
    stack.bedrock.clear_requests()
    ledger_before = period_item(stack, "alpha")
    records_before = len(call_records(stack, "alpha"))

    response = call(stack, path, **kwargs)

    assert (response.status, response.error_code) == (status, code), response.text
    error = response.json()["error"]
    assert error["message"]
    assert error["requestId"] == response.headers["x-amzn-RequestId"]
    assert period_item(stack, "alpha") == ledger_before
    assert len(call_records(stack, "alpha")) == records_before
    assert stack.bedrock.requests() == []


def test_the_front_answers_a_bad_key_exactly_as_the_deployed_api_does() -> None:
    api_tf = (Path(__file__).parents[2] / "modules" / "gateway" / "api.tf").read_text()
    assert 'INVALID_API_KEY              = { status = "401", code = "invalid_api_key"' in api_tf
    # The HCL carries the message as an escaped JSON string inside the response template.
    assert f'\\"{INVALID_API_KEY_MESSAGE}\\"' in api_tf


@pytest.mark.parametrize("api_key", [None, "not-a-real-key-0000000000"])
def test_api_gateway_refuses_a_missing_or_unknown_key_before_the_function_runs(
    stack: LocalStack, api_key: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger_before = period_item(stack, "alpha")
    capsys.readouterr()

    response = call(stack, "/v1/converse", api_key=api_key, body=body([{"role": "user", "content": "hi"}]))

    assert response.status == 401
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("invalid_api_key", INVALID_API_KEY_MESSAGE)
    assert error["requestId"]
    # The function logs a line for every invocation (its stdout is this test's): none here.
    assert capsys.readouterr().out == ""
    assert period_item(stack, "alpha") == ledger_before


def test_every_invocation_leaves_a_request_log_line_and_an_emf_document(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    """The other side of the test above: the function's stdout is visible, so its silence means something."""
    capsys.readouterr()

    response = call(stack, "/v1/budget", api_key=stack.tenants["alpha"].api_key)

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert response.status == 200
    assert any("_aws" in line and line["CostCenter"] == "alpha" for line in lines)
    assert any(line.get("request_id") == response.json()["requestId"] for line in lines)
