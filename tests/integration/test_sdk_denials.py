"""Every "no" is final and immediate in every SDK: openai, anthropic, boto3 (legacy and standard retry
modes) and the AWS SDK for JavaScript v3, each with its default retry settings, against the local stack
over HTTPS, for each final denial (core/errors.FINAL_DENIALS: budget_exhausted, user_budget_exhausted,
token_limit, tenant_blocked). Each call must raise within a second, after one HTTP request, with no call
reaching the model stand-in, and say when the limit resets; a rate limit keeps its short Retry-After.

The bound is 1 s; a denial typically takes ~50 ms. Before the fix the anthropic package slept for the
Retry-After it was given (27 days for a monthly budget) and boto3 retried a ThrottlingException ~1.3 s.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import boto3
import httpx
import openai
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from scripts import REPO_ROOT
from scripts.testbed.local_stack import LocalStack
from tests.integration.http_helpers import call, own_stack

pytestmark = pytest.mark.xdist_group("sdk_denials")

TFVARS = """
environment = "test"
tenants = {
  spent = {
    application_id = "spent-app"
    cost_center    = "spent"
    models         = ["claude-3-haiku"]
    budget         = { limit_usd = 0.001 }
  }
  tokens = {
    application_id = "tokens-app"
    cost_center    = "tokens"
    models         = ["claude-3-haiku"]
    budget         = { limit_usd = 5 }
    limits         = { tokens_per_period = 40, requests_per_minute = 1000 }
  }
  users = {
    application_id = "users-app"
    cost_center    = "users"
    models         = ["claude-3-haiku"]
    budget         = { limit_usd = 5 }
    users          = { default_limit_usd = 0.00001 }
  }
  blocked = {
    application_id = "blocked-app"
    cost_center    = "blocked"
    models         = ["claude-3-haiku"]
    budget         = { limit_usd = 5 }
  }
  rated = {
    application_id = "rated-app"
    cost_center    = "rated"
    models         = ["claude-3-haiku"]
    budget         = { limit_usd = 5 }
    limits         = { requests_per_minute = 1 }
  }
}
"""
# code -> (tenant, end user)
DENIALS = {
    "budget_exhausted": ("spent", None),
    "token_limit": ("tokens", None),
    "user_budget_exhausted": ("users", "alice"),
    "tenant_blocked": ("blocked", None),
}
MODEL = "claude-3-haiku"
PROMPT = "Summarise our cloud spend in one line."
BOUND_SECONDS = 1.0
JS_DIR = REPO_ROOT / "tests" / "js"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with own_stack(TFVARS, https=True) as running:
        exhaust_budget(running, "spent")
        block(running, "blocked")
        yield running


def exhaust_budget(stack: LocalStack, tenant_id: str) -> None:
    tenant = stack.tenants[tenant_id]
    # The request the SDKs send below (its worst case: USD 0.00008), until no more fits.
    body = tenant.request_body(PROMPT, MODEL, 64)
    for _ in range(60):
        response = call(stack, "/v1/converse", api_key=tenant.api_key, body=body)
        if response.status != 200:
            assert response.error_code == "budget_exhausted", response.text
            return
    raise AssertionError("the budget never ran out")


def block(stack: LocalStack, tenant_id: str) -> None:
    """What the budget alert function does when AWS Budgets reports actual spend at block_at_actual."""
    from cost_sentry.adapters.ledger import Ledger
    from cost_sentry.core.periods import period_key
    from cost_sentry.core.tenants import TenantDirectory

    tenant = stack.tenants[tenant_id]
    # One approved call first: the period's head and shards exist, as they do for a tenant in use.
    assert call(stack, "/v1/converse", api_key=tenant.api_key, body=tenant.request_body("hi")).status == 200
    dynamodb = stack.client("dynamodb")
    items = dynamodb.scan(TableName=stack.config_table, ConsistentRead=True)["Items"]
    config = TenantDirectory.from_items(items).tenants[tenant_id]
    ledger = Ledger(dynamodb, stack.ledger_table)
    assert ledger.block(config, period_key(config.budget_period, time.time()), {"source": {"S": "test"}})


class Counted:
    """HTTP requests an SDK sent (its retries included), seen by an httpx event hook."""

    def __init__(self) -> None:
        self.requests = 0

    def hook(self, request: httpx.Request) -> None:
        self.requests += 1


def headers_for(user: str | None) -> dict[str, str]:
    return {"x-cost-sentry-user": user} if user else {}


def measured(stack: LocalStack, attempt: Callable[[], Any]) -> tuple[Any, float, int]:
    """(what ``attempt`` returned, seconds it took, model calls that reached the stand-in meanwhile)."""
    assert stack.bedrock is not None
    before = len(stack.bedrock.requests())
    started = time.perf_counter()
    outcome = attempt()
    elapsed = time.perf_counter() - started
    return outcome, elapsed, len(stack.bedrock.requests()) - before


def report(sdk: str, code: str, elapsed: float, model_calls: int, requests: int) -> None:
    print(f"{sdk:<22} {code:<22} {elapsed * 1000:7.1f} ms  {requests} request(s)  {model_calls} model calls")


def assert_final_body(fields: dict[str, Any], headers: Any) -> None:
    assert "retry-after" not in {name.lower() for name in headers}
    assert headers["x-should-retry"] == "false"
    assert headers["x-cost-sentry-budget-resets-at"] == fields["resetsAt"]
    assert fields["resetInSeconds"] > 0


# -- openai -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(DENIALS))
def test_openai_raises_a_final_denial_at_once(stack: LocalStack, code: str) -> None:
    tenant_id, user = DENIALS[code]
    counted = Counted()
    client = openai.OpenAI(
        base_url=stack.gateway_https_url + "/v1",
        api_key=stack.tenants[tenant_id].api_key,
        default_headers=headers_for(user),
        http_client=openai.DefaultHttpxClient(
            verify=ssl.create_default_context(cafile=stack.ca_file), event_hooks={"request": [counted.hook]}
        ),
    )

    def attempt() -> openai.APIStatusError:
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(
                model=MODEL, max_tokens=64, messages=[{"role": "user", "content": PROMPT}]
            )
        return caught.value

    error, elapsed, model_calls = measured(stack, attempt)
    report("openai", code, elapsed, model_calls, counted.requests)

    assert (error.status_code, counted.requests, model_calls) == (429, 1, 0)
    assert elapsed < BOUND_SECONDS
    body = error.body if isinstance(error.body, dict) else {}
    assert body.get("code") in (code, "insufficient_quota")
    assert_final_body(body, error.response.headers)


# -- anthropic ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(DENIALS))
def test_anthropic_raises_a_final_denial_at_once(stack: LocalStack, code: str) -> None:
    tenant_id, user = DENIALS[code]
    counted = Counted()
    client = anthropic.Anthropic(
        base_url=stack.gateway_https_url,
        api_key=stack.tenants[tenant_id].api_key,
        default_headers=headers_for(user),
        http_client=anthropic.DefaultHttpxClient(
            verify=ssl.create_default_context(cafile=stack.ca_file), event_hooks={"request": [counted.hook]}
        ),
    )

    def attempt() -> anthropic.APIStatusError:
        with pytest.raises(anthropic.APIStatusError) as caught:
            client.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": PROMPT}])
        return caught.value

    error, elapsed, model_calls = measured(stack, attempt)
    report("anthropic", code, elapsed, model_calls, counted.requests)

    assert (error.status_code, counted.requests, model_calls) == (429, 1, 0)
    assert elapsed < BOUND_SECONDS
    assert isinstance(error.body, dict)
    assert_final_body(error.body["error"], error.response.headers)


# -- boto3 --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["legacy", "standard"])
@pytest.mark.parametrize("code", sorted(DENIALS))
def test_boto3_raises_a_final_denial_at_once(
    stack: LocalStack, code: str, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant_id, user = DENIALS[code]
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", stack.tenants[tenant_id].api_key)
    monkeypatch.setenv("AWS_CA_BUNDLE", stack.ca_file)
    monkeypatch.delenv("AWS_RETRY_MODE", raising=False)
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    # legacy is botocore's default; standard is what the AWS SDKs converge on. Attempts stay the default.
    config = None if mode == "legacy" else Config(retries={"mode": "standard"})
    client = boto3.session.Session().client(
        "bedrock-runtime", region_name="us-east-1", endpoint_url=stack.gateway_https_url, config=config
    )
    if user:
        client.meta.events.register(
            "before-send.bedrock-runtime.Converse",
            lambda request, **_: request.headers.__setitem__("x-cost-sentry-user", user),
        )

    def attempt() -> ClientError:
        with pytest.raises(ClientError) as caught:
            client.converse(
                modelId=MODEL,
                messages=[{"role": "user", "content": [{"text": PROMPT}]}],
                inferenceConfig={"maxTokens": 64},
            )
        return caught.value

    error, elapsed, model_calls = measured(stack, attempt)
    metadata = error.response["ResponseMetadata"]
    report(f"boto3 ({mode})", code, elapsed, model_calls, metadata["RetryAttempts"] + 1)

    assert error.response["Error"]["Code"] == "ServiceQuotaExceededException"
    assert isinstance(error, client.exceptions.ServiceQuotaExceededException)
    assert (metadata["HTTPStatusCode"], metadata["RetryAttempts"], model_calls) == (400, 0, 0)
    assert elapsed < BOUND_SECONDS
    # botocore keeps only the modelled fields of the body (the message); the headers carry the rest.
    headers = metadata["HTTPHeaders"]
    assert "retry-after" not in headers and headers["x-should-retry"] == "false"
    assert headers["x-cost-sentry-budget-resets-at"].endswith("Z")


# -- the AWS SDK for JavaScript v3 --------------------------------------------------------------------


def node_converse(stack: LocalStack, tenant_id: str, **options: Any) -> dict[str, Any]:
    """One Converse through tests/js/converse.mjs (installed by scripts/devtools/install.sh)."""
    if shutil.which("node") is None or not (JS_DIR / "node_modules").is_dir():
        pytest.fail("node and tests/js/node_modules are needed: run make install (npm ci in tests/js)")
    env = {
        **os.environ,
        "AWS_BEARER_TOKEN_BEDROCK": stack.tenants[tenant_id].api_key,
        "NODE_EXTRA_CA_CERTS": stack.ca_file,
        "AWS_ACCESS_KEY_ID": "unused",
        "AWS_SECRET_ACCESS_KEY": "unused",
    }
    for name in (
        "AWS_RETRY_MODE",
        "AWS_MAX_ATTEMPTS",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
    ):
        env.pop(name, None)
    arguments = {"endpoint": stack.gateway_https_url, "modelId": MODEL, **options}
    finished = subprocess.run(
        ["node", "converse.mjs", json.dumps(arguments)],
        cwd=JS_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    return dict(json.loads(finished.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("code", sorted(DENIALS))
def test_the_aws_js_sdk_raises_a_final_denial_at_once(stack: LocalStack, code: str) -> None:
    tenant_id, user = DENIALS[code]
    assert stack.bedrock is not None
    before = len(stack.bedrock.requests())

    outcome = node_converse(stack, tenant_id, user=user, handler="default")  # HTTP/2, as teams build it
    model_calls = len(stack.bedrock.requests()) - before
    # Timed inside node, from send() to the error: node's own start-up is not the SDK's retrying.
    report("aws-sdk-js v3", code, outcome["elapsedMs"] / 1000, model_calls, outcome["attempts"])

    assert outcome["ok"] is False, outcome
    assert (outcome["name"], outcome["status"]) == ("ServiceQuotaExceededException", 400)
    assert (outcome["attempts"], outcome["totalRetryDelay"], model_calls) == (1, 0, 0)
    assert outcome["elapsedMs"] < BOUND_SECONDS * 1000


# -- a rate limit stays retryable ---------------------------------------------------------------------


def test_a_rate_limit_keeps_a_short_retry_after(stack: LocalStack) -> None:
    tenant = stack.tenants["rated"]
    first = call(stack, "/v1/converse", api_key=tenant.api_key, body=tenant.request_body("hi"))
    second = call(stack, "/v1/converse", api_key=tenant.api_key, body=tenant.request_body("hi"))

    assert first.status == 200
    assert (second.status, second.error_code) == (429, "rate_limited")
    assert 1 <= int(second.headers["Retry-After"]) <= 60
    assert "x-should-retry" not in {name.lower() for name in second.headers}
