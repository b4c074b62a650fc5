"""Real streaming through the local front: chunks leave as Bedrock produces them, over HTTP and HTTPS,
and a caller that hangs up mid-stream still leaves an exact settlement (no estimate, no hold)."""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Iterator

import pytest

from cost_sentry.handlers.api_front import SURFACE_INVALID_KEY_MESSAGE
from scripts import REPO_ROOT
from scripts.testbed.local_stack import LocalStack
from tests.integration.http_helpers import call_records, own_stack, period_item

pytestmark = pytest.mark.xdist_group("streaming")

TFVARS = """
environment = "test"
tenants = {
  alpha = {
    application_id = "alpha-app"
    cost_center    = "alpha"
    models         = ["nova-lite"]
    budget         = { limit_usd = 5 }
  }
}
"""
TOKENS = 40


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with own_stack(
        TFVARS,
        https=True,
        bedrock_reply_tokens=TOKENS,
        bedrock_first_token_ms=300,
        bedrock_token_interval_ms=20,
    ) as running:
        yield running


def open_stream(stack: LocalStack, tls: bool) -> socket.socket:
    url = stack.gateway_https_url if tls else stack.gateway_url
    host, port = url.rsplit("/", 1)[-1].split(":")
    raw = socket.create_connection((host, int(port)), timeout=30)
    sock: socket.socket = raw
    if tls:
        context = ssl.create_default_context(cafile=stack.ca_file)
        sock = context.wrap_socket(raw, server_hostname=host)
    body = json.dumps(
        {
            "model": "nova-lite",
            "stream": True,
            "max_tokens": TOKENS,
            "messages": [{"role": "user", "content": "go"}],
        }
    ).encode()
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {stack.tenants['alpha'].api_key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    sock.sendall(request)
    return sock


def arrivals(sock: socket.socket) -> list[float]:
    """When each piece of the body arrived, until the stream's end."""
    times = []
    data = b""
    while b"data: [DONE]" not in data:
        piece = sock.recv(65536)
        if not piece:
            break
        data += piece
        times.append(time.monotonic())
    return times


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_the_body_arrives_token_by_token(stack: LocalStack, tls: bool) -> None:
    sock = open_stream(stack, tls)
    try:
        times = arrivals(sock)
    finally:
        sock.close()
    # 40 tokens 20 ms apart: a buffered answer would arrive in one or two pieces at the end.
    assert len(times) >= 10
    assert times[-1] - times[0] >= 0.5


def test_a_caller_that_hangs_up_still_settles_the_exact_usage(stack: LocalStack) -> None:
    before = len(call_records(stack, "alpha"))
    sock = open_stream(stack, tls=False)
    sock.recv(1024)  # the first chunk
    sock.close()
    deadline = time.monotonic() + 10
    while len(call_records(stack, "alpha")) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    record = sorted(call_records(stack, "alpha"), key=lambda r: r["sk"])[-1]
    assert not record.get("estimated")  # the attribute is only written for estimates
    assert record["output_tokens"] == TOKENS  # what Bedrock reported, read to the end after the hang-up
    item = period_item(stack, "alpha")
    assert [name for name in item if name.startswith("hold_")] == []


def test_the_deployed_401_templates_say_what_the_local_front_says() -> None:
    surfaces_tf = (REPO_ROOT / "modules" / "gateway" / "surfaces.tf").read_text()
    assert f'surface_invalid_key_message = "{SURFACE_INVALID_KEY_MESSAGE}"' in surfaces_tf
