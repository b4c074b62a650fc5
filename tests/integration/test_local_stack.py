"""scripts/testbed/local_stack.py itself: the proxy events it builds, the front's API Gateway behaviour, endpoint
settings it must respect, and `serve` starting and stopping cleanly."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.testbed.local_stack import (
    LambdaLogCapture,
    LocalStack,
    account_outputs,
    fake_profile_arn,
    proxy_event,
)
from tests.conftest import free_port
from tests.integration.http_helpers import call

pytestmark = pytest.mark.xdist_group("local_stack")

REPO_ROOT = Path(__file__).resolve().parents[2]
TFVARS = """
environment = "test"
tenants = {
  one = {
    application_id = "one-app"
    cost_center    = "one"
    models         = ["nova-micro"]
    budget         = { limit_usd = 1 }
  }
}
"""


# -- the proxy event ----------------------------------------------------------------------------------


def test_the_proxy_event_has_the_rest_v1_shape() -> None:
    headers = {"x-api-key": "secret", "user-agent": "curl/8"}

    event = proxy_event("POST", "/v1/converse?debug=1&debug=2", headers, b'{"a": 1}', "key-id", "10.0.0.1")

    assert event["path"] == event["resource"] == "/v1/converse"
    assert event["httpMethod"] == "POST"
    assert event["body"] == '{"a": 1}' and event["isBase64Encoded"] is False
    assert event["queryStringParameters"] == {"debug": "2"}
    assert event["multiValueQueryStringParameters"] == {"debug": ["1", "2"]}
    assert event["multiValueHeaders"]["user-agent"] == ["curl/8"]
    identity = event["requestContext"]["identity"]
    assert identity["apiKeyId"] == "key-id"
    assert identity["sourceIp"] == "10.0.0.1"
    assert re.fullmatch(r"[0-9a-f-]{36}", event["requestContext"]["requestId"])


def test_a_binary_body_is_base64_encoded_like_api_gateway_does() -> None:
    event = proxy_event("POST", "/v1/converse", {}, b"\xff\xfe\x00", None, "127.0.0.1")

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\xfe\x00"


def test_each_request_gets_its_own_request_id() -> None:
    first, second = (proxy_event("GET", "/v1/budget", {}, b"", None, "127.0.0.1") for _ in range(2))

    assert first["requestContext"]["requestId"] != second["requestContext"]["requestId"]


def test_fake_profile_arns_are_stable_and_distinct() -> None:
    arn = fake_profile_arn("sales", "nova-micro")

    assert arn == fake_profile_arn("sales", "nova-micro")
    assert arn != fake_profile_arn("support", "nova-micro")
    assert re.fullmatch(r"arn:aws:bedrock:us-east-1:\d{12}:application-inference-profile/[0-9a-f]{12}", arn)


# -- the function's stdout ---------------------------------------------------------------------------


def test_log_capture_keeps_only_what_the_function_threads_print() -> None:
    real, echo = io.StringIO(), io.StringIO()
    capture = LambdaLogCapture(real, echo=echo)

    def function_thread() -> None:
        with capture.capturing():
            capture.write('{"a": 1}\n{"b"')
            capture.write(": 2}\nno newline at the end")

    worker = threading.Thread(target=function_thread)
    worker.start()
    worker.join()
    capture.write("the stack's own line\n")

    assert capture.lines() == ['{"a": 1}', '{"b": 2}', "no newline at the end"]
    assert echo.getvalue() == '{"a": 1}\n{"b": 2}\n'
    assert real.getvalue() == "the stack's own line\n"


# -- the front, with handlers that misbehave on purpose -----------------------------------------------


def _stack_with(handler: Any) -> LocalStack:
    return LocalStack(outputs=account_outputs(tfvars_text=TFVARS), handler_loader=lambda: handler)


@pytest.fixture
def own_emulators(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", raising=False)


def _raising_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise RuntimeError("boom")


def _malformed_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": "two hundred", "body": "{}"}


@pytest.mark.parametrize("handler", [_raising_handler, _malformed_handler])
def test_a_failing_or_malformed_function_is_a_502_like_api_gateway(own_emulators: None, handler: Any) -> None:
    with _stack_with(handler) as stack:
        response = call(stack, "/v1/budget", api_key=stack.tenants["one"].api_key)

    assert response.status == 502
    assert response.json() == {"message": "Internal server error"}


def test_the_function_sees_the_key_id_and_its_response_is_passed_through(own_emulators: None) -> None:
    seen: list[dict[str, Any]] = []

    def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(event)
        assert context.get_remaining_time_in_millis() > 0
        return {
            "statusCode": 201,
            "headers": {"X-Echo": "yes"},
            "body": base64.b64encode(b"\x00binary").decode(),
            "isBase64Encoded": True,
        }

    with _stack_with(echo) as stack:
        one = stack.tenants["one"]
        response = call(stack, "/v1/budget", api_key=one.api_key)

    assert response.status == 201
    assert response.headers["X-Echo"] == "yes"
    assert response.text == "\x00binary"
    assert seen[0]["requestContext"]["identity"]["apiKeyId"] == one.api_key_id


def test_a_disabled_key_is_refused_by_the_front(own_emulators: None) -> None:
    with _stack_with(_raising_handler) as stack:
        apigateway = stack.client("apigateway")
        apigateway.update_api_key(
            apiKey=stack.tenants["one"].api_key_id,
            patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}],
        )
        response = call(stack, "/v1/budget", api_key=stack.tenants["one"].api_key)

    assert response.status == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


# -- environment ---------------------------------------------------------------------------------------


def test_a_preset_endpoint_is_respected_and_the_environment_restored(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.delenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", raising=False)
    monkeypatch.delenv("LEDGER_TABLE", raising=False)

    with _stack_with(_raising_handler) as stack:
        assert stack.moto_url == moto_endpoint
        assert os.environ["LEDGER_TABLE"] == stack.ledger_table
        assert os.environ["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] == stack.bedrock_url
        tables = stack.client("dynamodb").list_tables()["TableNames"]
        assert stack.ledger_table in tables and stack.config_table in tables

    assert os.environ["AWS_ENDPOINT_URL"] == moto_endpoint
    assert "LEDGER_TABLE" not in os.environ
    assert "AWS_ENDPOINT_URL_BEDROCK_RUNTIME" not in os.environ


def test_the_servers_are_gone_after_exit(own_emulators: None) -> None:
    with _stack_with(_raising_handler) as stack:
        ports = [int(url.rsplit(":", 1)[1]) for url in (stack.gateway_url, stack.moto_url, stack.bedrock_url)]

    for port in ports:
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still accepts connections"


# -- `make serve` -------------------------------------------------------------------------------------


@pytest.fixture
def serve_process() -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scripts.testbed.local_stack",
            "serve",
            "--account",
            "workload",
            "--port",
            str(port),
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_serve_prints_keys_answers_and_stops_cleanly_on_ctrl_c(
    serve_process: tuple[subprocess.Popen[str], int],
) -> None:
    process, port = serve_process
    assert process.stdout is not None
    banner: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        assert line, f"serve exited early: {''.join(banner)}"
        banner.append(line)
        if "Ctrl-C stops everything" in line:
            break
    text = "".join(banner)
    keys = dict(re.findall(r"^  (sales|services|support)\s+(\S+)$", text, flags=re.MULTILINE))
    assert set(keys) == {"sales", "services", "support"}
    assert f"http://127.0.0.1:{port}/v1/converse" in text

    class Running:
        gateway_url = f"http://127.0.0.1:{port}"

    budget = call(Running, "/v1/budget", api_key=keys["support"])  # type: ignore[arg-type]
    assert budget.status == 200
    assert json.loads(budget.text)["periodType"] == "DAILY"

    process.send_signal(signal.SIGINT)

    assert process.wait(timeout=30) == 0
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
