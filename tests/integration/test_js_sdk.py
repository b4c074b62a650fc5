"""@aws-sdk/client-bedrock-runtime as teams build it (its default HTTP/2 handler) against the local stack's
HTTPS front, the container's server (granian, h2 or http/1.1 by ALPN; scripts/testbed/container_front.py):
Converse answers and settles, a denial is final at once, and ConverseStream streams to its end over
HTTP/2 although the SDK sends GOAWAY as soon as the answer's headers arrive."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import httpx
import pytest

from scripts.testbed.local_stack import LocalStack
from tests.integration.http_helpers import own_stack, period_item
from tests.integration.test_sdk_denials import node_converse

pytestmark = pytest.mark.xdist_group("js_sdk")

TFVARS = """
environment = "test"
tenants = {
  web = {
    application_id = "web-app"
    cost_center    = "web"
    models         = ["claude-3-haiku"]
    budget         = { limit_usd = 5 }
  }
  broke = {
    application_id = "broke-app"
    cost_center    = "broke"
    models         = ["claude-3-haiku"]
    budget         = { limit_usd = 0.00001 }
  }
}
"""
CLAUDE_3_HAIKU = {"input": 250, "output": 1250}  # nano-dollars per token (USD 0.25 / 1.25 per million)


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with own_stack(TFVARS, https=True) as running:
        yield running


def spent(stack: LocalStack, tenant: str) -> int:
    return int(period_item(stack, tenant).get("spent_nanos", 0))


def test_the_tls_front_negotiates_http2_and_http11(stack: LocalStack) -> None:
    context = ssl.create_default_context(cafile=stack.ca_file)
    for http2, version in ((True, "HTTP/2"), (False, "HTTP/1.1")):
        with httpx.Client(http2=http2, verify=context) as client:
            response = client.get(stack.gateway_https_url + "/v1/budget", headers={"x-api-key": "wrong"})
        assert (response.http_version, response.status_code) == (version, 401)


def test_the_default_handler_converses_over_http2_and_the_ledger_moves_by_the_priced_cost(
    stack: LocalStack,
) -> None:
    before = spent(stack, "web")

    outcome = node_converse(stack, "web", handler="default")

    assert outcome["ok"] is True, outcome
    assert (outcome["status"], outcome["attempts"]) == (200, 1)
    assert outcome["text"]
    usage = outcome["usage"]
    priced = usage["inputTokens"] * CLAUDE_3_HAIKU["input"] + usage["outputTokens"] * CLAUDE_3_HAIKU["output"]
    assert spent(stack, "web") - before == priced


def test_the_default_handler_gets_a_final_denial_at_once(stack: LocalStack) -> None:
    assert stack.bedrock is not None
    before = len(stack.bedrock.requests())

    outcome = node_converse(stack, "broke", handler="default")

    assert outcome["ok"] is False, outcome
    assert (outcome["name"], outcome["status"], outcome["attempts"]) == (
        "ServiceQuotaExceededException",
        400,
        1,
    )
    assert outcome["elapsedMs"] < 1000
    assert len(stack.bedrock.requests()) == before


def test_converse_stream_over_http1_streams_to_the_end(stack: LocalStack) -> None:
    outcome = node_converse(stack, "web", handler="http1", stream=True)

    assert outcome["ok"] is True, outcome
    assert outcome["text"] and outcome["usage"]["outputTokens"] > 0
    # The metadata event's costSentry member (README, "Cost on every answer") is not in Bedrock's model:
    # the SDK reads the modelled members only and parses the event unchanged.
    assert "usage" in outcome["metadataKeys"] and "costSentry" not in outcome["metadataKeys"]


def test_converse_stream_over_http2_streams_to_the_end(stack: LocalStack) -> None:
    """The SDK sends GOAWAY as soon as the answer's headers arrive; the server must finish the open
    stream. The stand-in paces the stream like a model, so every event comes after that GOAWAY."""
    assert stack.bedrock is not None
    before = spent(stack, "web")

    with stack.bedrock.pacing(first_token_ms=300, token_interval_ms=20):
        outcome = node_converse(stack, "web", handler="default", stream=True)

    assert outcome["ok"] is True, outcome
    assert outcome["text"] and outcome["usage"] and outcome["usage"]["outputTokens"] > 0
    usage = outcome["usage"]
    priced = usage["inputTokens"] * CLAUDE_3_HAIKU["input"] + usage["outputTokens"] * CLAUDE_3_HAIKU["output"]
    assert spent(stack, "web") - before == priced
