"""The container deployment (issue 18): granian serving cost_sentry.handlers.asgi:app, on free ports.

The local stack's HTTPS front is that server, in its own process on the stack's environment, as the
container runs it (scripts/testbed/container_front.py). Real clients drive it: boto3 converse and
converse_stream, openai and anthropic streaming, httpx over HTTP/2; each success moves the ledger by
exactly the priced cost. A caller that hangs up mid-stream still leaves an exact settlement and no hold;
a container stopped (SIGTERM) mid-stream finishes the stream and settles it; a bad key is a 401 in each
surface's shape that changes nothing; /healthz answers without a credential and without any AWS call;
a misconfigured container stops at startup with the reason.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import boto3
import httpx
import openai
import pytest
from botocore.exceptions import ClientError

from scripts.testbed.container_front import ContainerFront, FrontNotReady, free_port
from scripts.testbed.local_stack import LocalStack
from tests.integration.http_helpers import call_records, own_stack, period_item

pytestmark = pytest.mark.xdist_group("container_app")

TFVARS = """
environment = "test"
tenants = {
  alpha = {
    application_id = "alpha-app"
    cost_center    = "alpha"
    models         = ["nova-lite", "claude-3-haiku"]
    budget         = { limit_usd = 5 }
  }
}
"""
# USD per million tokens x 1000 = nano-dollars per token (lambda_src/cost_sentry/data/models.json).
NOVA_LITE = {"input": 60, "output": 240}
CLAUDE_3_HAIKU = {"input": 250, "output": 1250}
TOKENS = 40


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with own_stack(TFVARS, https=True, bedrock_reply_tokens=TOKENS) as running:
        yield running


@pytest.fixture
def tls(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    """What a developer exports for the SDKs: the tenant's key and trust in the stack's CA."""
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", stack.tenants["alpha"].api_key)
    monkeypatch.setenv("AWS_CA_BUNDLE", stack.ca_file)
    monkeypatch.setenv("SSL_CERT_FILE", stack.ca_file)
    return stack


def spent(stack: LocalStack) -> int:
    return int(period_item(stack, "alpha").get("spent_nanos", 0))


def held(stack: LocalStack) -> list[str]:
    return [name for name in period_item(stack, "alpha") if name.startswith("hold_")]


def priced(input_tokens: int, output_tokens: int, rates: dict[str, int]) -> int:
    return input_tokens * rates["input"] + output_tokens * rates["output"]


def bedrock(stack: LocalStack) -> Any:
    return boto3.session.Session().client(
        "bedrock-runtime", region_name="us-east-1", endpoint_url=stack.gateway_https_url
    )


def ask(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"text": text}]}]


def test_the_https_front_is_granian_serving_the_asgi_app(stack: LocalStack) -> None:
    process = stack.container_front.process
    assert process is not None and process.poll() is None
    assert process.args[1:3] == ["-m", "granian"] and process.args[-1] == "cost_sentry.handlers.asgi:app"
    assert process.pid != os.getpid()


def test_boto3_converse_and_converse_stream_settle_exactly(tls: LocalStack) -> None:
    client = bedrock(tls)
    before = spent(tls)

    answer = client.converse(modelId="nova-lite", messages=ask("One line on budgets."))

    usage = answer["usage"]
    assert answer["output"]["message"]["content"][0]["text"]
    assert spent(tls) - before == priced(usage["inputTokens"], usage["outputTokens"], NOVA_LITE)

    before = spent(tls)
    events = list(
        client.converse_stream(
            modelId="nova-lite", messages=ask("Stream it."), inferenceConfig={"maxTokens": 64}
        )["stream"]
    )

    assert "messageStart" in events[0] and "messageStop" in events[-2]
    [metadata] = [e["metadata"] for e in events if "metadata" in e]
    usage = metadata["usage"]
    assert usage["outputTokens"] == TOKENS
    assert spent(tls) - before == priced(usage["inputTokens"], usage["outputTokens"], NOVA_LITE)
    assert held(tls) == []


def test_openai_streams_and_settles_exactly(tls: LocalStack) -> None:
    client = openai.OpenAI(base_url=tls.gateway_https_url + "/v1", api_key=tls.tenants["alpha"].api_key)
    before = spent(tls)

    chunks = list(
        client.chat.completions.create(
            model="nova-lite",
            max_tokens=64,
            messages=[{"role": "user", "content": "Stream a haiku."}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens == TOKENS
    assert spent(tls) - before == priced(usage.prompt_tokens, usage.completion_tokens, NOVA_LITE)


def test_anthropic_streams_and_settles_exactly(tls: LocalStack) -> None:
    client = anthropic.Anthropic(base_url=tls.gateway_https_url, api_key=tls.tenants["alpha"].api_key)
    before = spent(tls)

    with client.messages.stream(
        model="claude-3-haiku", max_tokens=64, messages=[{"role": "user", "content": "Stream a line."}]
    ) as stream:
        kinds = [event.type for event in stream]
        message = stream.get_final_message()

    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert message.content[0].text and message.usage.output_tokens == TOKENS
    assert spent(tls) - before == priced(
        message.usage.input_tokens, message.usage.output_tokens, CLAUDE_3_HAIKU
    )


def stream_request(stack: LocalStack) -> tuple[dict[str, str], bytes]:
    headers = {
        "authorization": f"Bearer {stack.tenants['alpha'].api_key}",
        "content-type": "application/json",
    }
    body = json.dumps(
        {
            "model": "nova-lite",
            "stream": True,
            "max_tokens": TOKENS,
            "messages": [{"role": "user", "content": "go"}],
        }
    ).encode()
    return headers, body


def wait_for_new_record(stack: LocalStack, before: int) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while len(call_records(stack, "alpha")) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    return sorted(call_records(stack, "alpha"), key=lambda r: r["sk"])[-1]


@pytest.mark.parametrize("http2", [True, False], ids=["http2", "http1.1"])
def test_a_caller_that_hangs_up_mid_stream_still_settles_the_exact_usage(
    stack: LocalStack, http2: bool
) -> None:
    assert stack.bedrock is not None
    records = len(call_records(stack, "alpha"))
    before = spent(stack)
    headers, body = stream_request(stack)
    context = ssl.create_default_context(cafile=stack.ca_file)

    # First token after 300 ms, then one every 20 ms: the hang-up comes long before the end.
    with stack.bedrock.pacing(first_token_ms=300, token_interval_ms=20):
        with (
            httpx.Client(http2=http2, verify=context, timeout=30) as client,
            client.stream(
                "POST", stack.gateway_https_url + "/v1/chat/completions", headers=headers, content=body
            ) as response,
        ):
            assert (response.status_code, response.http_version) == (200, "HTTP/2" if http2 else "HTTP/1.1")
            first = next(response.iter_raw())
            assert first.startswith(b"data: ")
        # Closing the stream (HTTP/2 RST_STREAM) and the connection is the hang-up, before the end.
        assert len(call_records(stack, "alpha")) == records
        record = wait_for_new_record(stack, records)

    assert not record.get("estimated")  # the attribute is only written for estimates
    assert record["output_tokens"] == TOKENS  # what Bedrock reported, read to the end after the hang-up
    assert spent(stack) - before == priced(int(record["input_tokens"]), TOKENS, NOVA_LITE)
    assert held(stack) == []


def test_a_stopped_container_finishes_its_streams_and_settles_them(stack: LocalStack) -> None:
    assert stack.bedrock is not None
    # A second container on the stack's environment (same tables, same keys), plain HTTP as behind a
    # load balancer; stopped with SIGTERM, as ECS stops a task, while a stream is under way.
    server = ContainerFront(free_port()).start()
    records = len(call_records(stack, "alpha"))
    before = spent(stack)
    headers, body = stream_request(stack)
    received = []
    try:
        with stack.bedrock.pacing(first_token_ms=300, token_interval_ms=20):
            with (
                httpx.Client(timeout=30) as client,
                client.stream(
                    "POST", server.url + "/v1/chat/completions", headers=headers, content=body
                ) as response,
            ):
                chunks = response.iter_raw()
                received.append(next(chunks))
                assert server.process is not None
                server.process.terminate()
                received.extend(chunks)
            assert server.process.wait(30) == 0
    finally:
        server.stop()

    assert b"data: [DONE]" in b"".join(received)  # the caller got the whole answer
    record = wait_for_new_record(stack, records)
    assert not record.get("estimated") and record["output_tokens"] == TOKENS
    assert spent(stack) - before == priced(int(record["input_tokens"]), TOKENS, NOVA_LITE)
    assert held(stack) == []


def test_a_bad_key_is_a_401_in_each_surfaces_shape_and_changes_nothing(
    tls: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = period_item(tls, "alpha")
    calls = len(tls.bedrock.requests()) if tls.bedrock else 0
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "wrong")

    with pytest.raises(ClientError) as refused_bedrock:
        bedrock(tls).converse(modelId="nova-lite", messages=ask("hi"))
    with pytest.raises(openai.AuthenticationError) as refused_openai:
        openai.OpenAI(
            base_url=tls.gateway_https_url + "/v1", api_key="wrong", max_retries=0
        ).chat.completions.create(
            model="nova-lite", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    with pytest.raises(anthropic.AuthenticationError) as refused_anthropic:
        anthropic.Anthropic(base_url=tls.gateway_https_url, api_key="wrong", max_retries=0).messages.create(
            model="claude-3-haiku", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
        )
    with httpx.Client(verify=ssl.create_default_context(cafile=tls.ca_file)) as client:
        seed = client.get(tls.gateway_https_url + "/v1/budget")  # no key at all

    error = refused_bedrock.value.response
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == (
        401,
        "UnrecognizedClientException",
    )
    assert refused_openai.value.status_code == 401
    assert refused_openai.value.body["code"] == "invalid_api_key"
    assert refused_anthropic.value.status_code == 401
    assert refused_anthropic.value.body["error"]["type"] == "authentication_error"
    assert seed.status_code == 401 and seed.json()["error"]["code"] == "invalid_api_key"
    assert period_item(tls, "alpha") == before
    assert (len(tls.bedrock.requests()) if tls.bedrock else 0) == calls


def test_healthz_answers_without_a_credential_and_without_any_aws_call(tmp_path: Any) -> None:
    # "AWS" is a socket that listens and never answers: any call the health check made would connect.
    with socket.socket() as aws:
        aws.bind(("127.0.0.1", 0))
        aws.listen(16)
        aws.setblocking(False)
        environment = {
            **os.environ,
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{aws.getsockname()[1]}",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "us-east-1",
            "LEDGER_TABLE": "ledger",
            "CONFIG_TABLE": "config",
        }
        server = ContainerFront(free_port(), environment=environment).start()  # waits for /healthz 200
        try:
            for _ in range(3):
                answer = httpx.get(server.url + "/healthz")
                assert (answer.status_code, answer.json()) == (200, {"status": "ok"})
            with pytest.raises(BlockingIOError):
                aws.accept()  # nobody connected
        finally:
            server.stop()


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("LEDGER_TABLE", "", "missing environment: LEDGER_TABLE (the ledger table's name)"),
        ("GATEWAY_THREADS", "many", "GATEWAY_THREADS must be a whole number"),
    ],
)
def test_a_misconfigured_container_stops_at_startup_with_the_reason(
    variable: str, value: str, reason: str
) -> None:
    environment = {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "LEDGER_TABLE": "ledger",
        "CONFIG_TABLE": "config",
        variable: value,
    }
    server = ContainerFront(free_port(), environment=environment)

    with pytest.raises(FrontNotReady, match="exited") as stopped:
        server.start()

    assert reason in str(stopped.value)
