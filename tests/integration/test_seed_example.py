"""The seed's own example request, through the local stack with the workload account's tenants (what
``make serve`` runs): claude-3-5-haiku, max_tokens 2000, a system message, a final assistant message
(a prefill), temperature, top_p and top_k. It answers 200 on both seed routes; and each model's normal
maximum output is accepted on every route (issue 15: the route's limit is the streaming function's, not
API Gateway's 29 s)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from scripts.testbed.local_stack import LocalStack
from tests.integration.http_helpers import call

pytestmark = pytest.mark.xdist_group("seed_example")

SEED_EXAMPLE = {
    "model": "claude-3-5-haiku",
    "prompt": {
        "messages": [
            {"role": "system", "content": "You are a helpful assistant for the services team."},
            {"role": "user", "content": "Summarise our Q3 consulting pipeline in three bullet points."},
            {"role": "assistant", "content": "Here is the summary:"},
        ],
        "parameters": {"max_tokens": 2000, "temperature": 0.7, "top_p": 0.9, "top_k": 250},
    },
    "tags": {"applicationId": "services-copilot", "costCenter": "services"},
}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(account="workload") as running:
        yield running


def key(stack: LocalStack) -> str:
    return stack.tenants["services"].api_key


@pytest.mark.parametrize("route", ["/v1/converse", "/v1/converse-stream"])
def test_the_seeds_example_request_verbatim_answers_200(stack: LocalStack, route: str) -> None:
    answer = call(stack, route, api_key=key(stack), body=SEED_EXAMPLE)
    assert answer.status == 200, answer.text
    assert stack.bedrock is not None
    sent = stack.bedrock.requests()[-1]["body"]
    # The prefill reaches Bedrock as the conversation's last message, the system text as system.
    assert sent["messages"][-1] == {"role": "assistant", "content": [{"text": "Here is the summary:"}]}
    assert sent["inferenceConfig"]["maxTokens"] == 2000


def _with_max_tokens(model: str, max_tokens: int) -> dict[str, Any]:
    body = {**SEED_EXAMPLE, "model": model}
    body["prompt"] = {**SEED_EXAMPLE["prompt"], "parameters": {"max_tokens": max_tokens}}
    return body


@pytest.mark.parametrize(("model", "max_tokens"), [("claude-3-haiku", 4096), ("claude-3-5-haiku", 8192)])
@pytest.mark.parametrize("route", ["/v1/converse", "/v1/converse-stream"])
def test_a_models_normal_maximum_output_is_accepted_on_the_seed_routes(
    stack: LocalStack, route: str, model: str, max_tokens: int
) -> None:
    answer = call(stack, route, api_key=key(stack), body=_with_max_tokens(model, max_tokens))
    assert answer.status == 200, answer.text


@pytest.mark.parametrize(("model", "max_tokens"), [("claude-3-haiku", 4096), ("claude-3-5-haiku", 8192)])
@pytest.mark.parametrize("operation", ["converse", "converse-stream"])
def test_a_models_normal_maximum_output_is_accepted_on_the_native_routes(
    stack: LocalStack, operation: str, model: str, max_tokens: int
) -> None:
    body = {
        "messages": [{"role": "user", "content": [{"text": "hello"}]}],
        "inferenceConfig": {"maxTokens": max_tokens},
    }
    request = urllib.request.Request(  # noqa: S310 - the local stack's http://127.0.0.1 URL
        f"{stack.gateway_url}/model/{model}/{operation}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key(stack)}", "content-type": "application/json"},
    )
    # The stream's body is Bedrock's binary event stream: read as bytes, the status is what counts.
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - local URL
        assert response.status == 200
        assert response.read()
