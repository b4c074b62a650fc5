"""The outcome table's "never sent" row over HTTP: the gateway's Bedrock endpoint refuses connections, so
nothing reached Bedrock and the reservation is released (core/outcomes.py). Its own module: a local
stack owns the process environment, and this one points Bedrock at a port nobody listens on."""

from __future__ import annotations

import socket

import pytest

from tests.integration.http_helpers import call, call_records, holds, own_stack, period_item
from tests.integration.test_http_outcome_table import BEDROCK_TIMEOUT_SECONDS, MAX_TOKENS, TEXT, TFVARS

pytestmark = pytest.mark.xdist_group("http_never_sent")


def closed_port() -> tuple[socket.socket, int]:
    """A port bound on 127.0.0.1 but not listening: connecting to it is refused, and nobody else takes it."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    return holder, holder.getsockname()[1]


def test_a_call_never_sent_is_released() -> None:
    holder, port = closed_port()
    try:
        environment = {
            "BEDROCK_TIMEOUT_SECONDS": str(BEDROCK_TIMEOUT_SECONDS),
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": f"http://127.0.0.1:{port}",
        }
        with own_stack(TFVARS, gateway_environment=environment) as unreachable:
            tenant = unreachable.tenants["table"]
            body = tenant.request_body(TEXT, max_tokens=MAX_TOKENS)
            for route in ("converse", "converse-stream"):
                response = call(unreachable, f"/v1/{route}", api_key=tenant.api_key, body=body)

                assert (response.status, response.error_code) == (502, "bedrock_unreachable"), response.text
            period = period_item(unreachable, "table")
            assert period["available_nanos"] == period["limit_nanos"] == 10_000_000_000
            assert holds(period) == {}
            assert period.get("spent_nanos", 0) == 0
            assert call_records(unreachable, "table") == []
    finally:
        holder.close()
