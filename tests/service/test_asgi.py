"""The container's ASGI app (cost_sentry.handlers.asgi) driven through the ASGI interface itself, with a
fake credential check and gateway function: what a server cannot show from outside (the function read
to its end after the caller went away, a body refused before anything reads it, the startup's reason).
tests/integration/test_container_app.py drives the same app through granian with the real SDKs."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from cost_sentry.core.identity import Identity
from cost_sentry.handlers.api_front import ApiFront
from cost_sentry.handlers.asgi import MAX_REQUEST_BYTES, GatewayApp
from cost_sentry.surfaces.http import HttpResponse

KEY = "tenant-key"


class Keys:
    def identify(self, headers: dict[str, str]) -> Identity | None:
        if headers.get("x-api-key") != KEY:
            return None
        return Identity(api_key_id="key-id", usage_key=KEY)


class Function:
    """A gateway function that streams ``parts`` chunks and records how many were read."""

    def __init__(self, parts: int = 5) -> None:
        self.parts = parts
        self.read = 0
        self.closed = threading.Event()
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> HttpResponse:
        self.events.append(event)

        def chunks() -> Iterator[bytes]:
            try:
                for index in range(self.parts):
                    self.read += 1
                    yield f"chunk {index}\n".encode()
            finally:
                self.closed.set()

        headers = {"Content-Type": "text/event-stream", "Connection": "keep-alive", "X-Request-Id": "r1"}
        return HttpResponse(200, headers, chunks=chunks())


def app_for(function: Function, threads: int = 2) -> GatewayApp:
    return GatewayApp(build=lambda: (ApiFront(Keys(), function), threads))


def request(
    app: GatewayApp,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    method: str = "POST",
    hang_up_after: int | None = None,
) -> list[dict[str, Any]]:
    """One request; the messages the app sent. ``hang_up_after``: sends that fail after that many."""
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(k.encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("10.0.0.9", 5555),
    }
    received = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return received.pop(0) if received else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if hang_up_after is not None and len(sent) >= hang_up_after:
            raise OSError("the caller went away")
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_a_stream_goes_out_chunk_by_chunk_with_the_servers_own_framing() -> None:
    function = Function(parts=3)

    sent = request(app_for(function), "/v1/chat/completions", headers={"x-api-key": KEY}, body=b"{}")

    start, *bodies = sent
    headers = dict(start["headers"])
    assert start["status"] == 200 and headers[b"content-type"] == b"text/event-stream"
    assert b"connection" not in headers and b"content-length" not in headers  # hop-by-hop; streamed
    assert headers[b"x-amzn-requestid"]  # API Gateway's request id header, as the REST API sends it
    assert [b["body"] for b in bodies] == [b"chunk 0\n", b"chunk 1\n", b"chunk 2\n", b""]
    assert bodies[-1]["more_body"] is False
    [event] = function.events
    assert event["requestContext"]["identity"]["apiKeyId"] == "key-id"
    assert event["requestContext"]["identity"]["sourceIp"] == "10.0.0.9"


def test_a_caller_that_goes_away_leaves_the_function_to_read_to_its_end() -> None:
    function = Function(parts=50)

    sent = request(app_for(function), "/v1/converse-stream", headers={"x-api-key": KEY}, hang_up_after=2)

    assert len(sent) == 2  # the head and one chunk reached the caller
    assert function.closed.wait(5)
    assert function.read == 50  # every chunk read, so the service settles what Bedrock reported


def test_a_missing_or_bad_key_is_a_401_in_the_surfaces_shape_and_the_function_never_runs() -> None:
    function = Function()
    for headers in ({}, {"x-api-key": "wrong"}):
        start, body, *_ = request(app_for(function), "/v1/chat/completions", headers=headers, body=b"{}")
        assert start["status"] == 401
        assert b'"invalid_api_key"' in body["body"]  # OpenAI's error shape: error.code
    assert function.events == []


def test_a_body_over_api_gateways_quota_is_refused_before_anything_reads_it() -> None:
    function = Function()
    too_big = b"x" * (MAX_REQUEST_BYTES + 1)

    start, body = request(app_for(function), "/v1/converse", headers={"x-api-key": KEY}, body=too_big)

    assert (start["status"], body["body"]) == (413, b'{"message":"Request Too Long"}')
    assert function.events == []
    fits = request(app_for(function), "/v1/converse", headers={"x-api-key": KEY}, body=b"x" * 1024)
    assert fits[0]["status"] == 200 and len(function.events) == 1


def test_healthz_answers_without_a_credential_and_without_building_the_service() -> None:
    def build() -> tuple[ApiFront, int]:
        raise AssertionError("the health check must not need the service")

    start, body = request(GatewayApp(build=build), "/healthz", method="GET")

    assert (start["status"], body["body"]) == (200, b'{"status":"ok"}')


@pytest.mark.parametrize("fails", [False, True])
def test_lifespan_builds_the_service_at_startup_or_fails_with_the_reason(fails: bool) -> None:
    built = []

    def build() -> tuple[ApiFront, int]:
        if fails:
            raise ValueError("LEDGER_TABLE is required")
        built.append(True)
        return ApiFront(Keys(), Function()), 1

    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(GatewayApp(build=build)({"type": "lifespan"}, receive, send))

    if fails:
        assert sent == [
            {"type": "lifespan.startup.failed", "message": "ValueError: LEDGER_TABLE is required"}
        ]
    else:
        assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
        assert built == [True]
