"""scripts/testbed/local_stack.py itself: the proxy events it builds, the front's API Gateway behaviour, endpoint
settings it must respect, and `serve` starting and stopping cleanly."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
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


DEFAULT_PORTS = (8080, 8443)  # make serve's PORT and HTTPS_PORT


@contextlib.contextmanager
def occupied(*ports: int) -> Iterator[None]:
    """Listen on ``ports`` (a port someone else already holds stays held by them: taken either way)."""
    with contextlib.ExitStack() as held:
        for port in ports:
            sock = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            try:
                sock.bind(("127.0.0.1", port))
                sock.listen()
            except OSError:
                pass  # already taken by another process
        yield


def serve_command(*options: str) -> list[str]:
    return [sys.executable, "-m", "scripts.testbed.local_stack", "serve", "--account", "workload", *options]


def serve_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, int, Path]]:
    """`serve` on free ports for both listeners, with make serve's defaults (8080, 8443) taken by another
    socket meanwhile: nothing depends on them. Its stderr goes to a file the test shows on failure."""
    port, https_port = free_port(), free_port()
    stderr = tmp_path / "serve.stderr"
    with occupied(*DEFAULT_PORTS), stderr.open("w") as errors:
        process = subprocess.Popen(
            serve_command("--port", str(port), "--https-port", str(https_port)),
            cwd=REPO_ROOT,
            env=serve_env(),
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        try:
            yield process, port, https_port, stderr
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.mark.slow
def test_serve_prints_keys_answers_and_stops_cleanly_on_ctrl_c(
    serve_process: tuple[subprocess.Popen[str], int, int, Path],
) -> None:
    process, port, https_port, stderr = serve_process
    assert process.stdout is not None
    banner: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        assert line, f"serve exited early: {''.join(banner)}{stderr.read_text()}"
        banner.append(line)
        if "Ctrl-C stops everything" in line:
            break
    text = "".join(banner)
    keys = dict(re.findall(r"^  (sales|services|support)\s+(\S+)$", text, flags=re.MULTILINE))
    assert set(keys) == {"sales", "services", "support"}
    assert f"http://127.0.0.1:{port}/v1/converse" in text
    assert f"  export COST_SENTRY_URL=https://127.0.0.1:{https_port}\n" in text
    assert f"  export COST_SENTRY_KEY={keys['sales']}  # tenant sales: claude-3-haiku, nova-micro\n" in text

    class Running:
        gateway_url = f"http://127.0.0.1:{port}"

    budget = call(Running, "/v1/budget", api_key=keys["support"])  # type: ignore[arg-type]
    assert budget.status == 200
    assert json.loads(budget.text)["periodType"] == "DAILY"
    # The HTTPS port is the container's server (granian + the ASGI app), with the same keys and ledger.
    assert "the container: granian serving cost_sentry.handlers.asgi:app" in text
    [ca_file] = re.findall(r"export AWS_CA_BUNDLE=(\S+)", text)
    request = urllib.request.Request(
        f"https://127.0.0.1:{https_port}/v1/budget", headers={"x-api-key": keys["support"]}
    )
    context = ssl.create_default_context(cafile=ca_file)
    with urllib.request.urlopen(request, context=context, timeout=30) as answer:  # noqa: S310 - local URL
        assert json.loads(answer.read())["periodType"] == "DAILY"

    process.send_signal(signal.SIGINT)

    assert process.wait(timeout=30) == 0
    for stopped in (port, https_port):
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", stopped)) != 0


@pytest.mark.parametrize(
    ("options", "named"),
    [
        pytest.param((), "127.0.0.1:8080", id="make-serve-defaults"),
        pytest.param(("--port", "0"), "127.0.0.1:8443", id="https-default"),
    ],
)
def test_serve_on_a_taken_port_fails_at_once_naming_the_port(options: tuple[str, ...], named: str) -> None:
    with occupied(*DEFAULT_PORTS):
        finished = subprocess.run(
            serve_command(*options),
            cwd=REPO_ROOT,
            env=serve_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert finished.returncode == 2, finished.stdout + finished.stderr
    assert named in finished.stderr
    option = "--port" if named.endswith("8080") else "--https-port"
    assert f"choose another with {option} (make serve {'PORT' if option == '--port' else 'HTTPS_PORT'}=" in (
        finished.stderr
    )
