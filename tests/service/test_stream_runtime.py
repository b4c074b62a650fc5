"""The streaming runtime loop against a Runtime API stand-in on 127.0.0.1 (what Lambda does in AWS)."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cost_sentry.handlers import stream_runtime
from cost_sentry.surfaces.http import HttpResponse
from scripts import REPO_ROOT
from scripts.devtools.build_lambda import EXECUTABLE_MODE, build

EVENT = {"path": "/v1/budget", "httpMethod": "GET", "headers": {}, "requestContext": {"requestId": "r-1"}}


class RuntimeApi(ThreadingHTTPServer):
    """Serves one event on /next and records the streamed response with each chunk's arrival time."""

    daemon_threads = True

    def __init__(self, hang_up_after: int | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _RuntimeHandler)
        self.served = threading.Event()
        self.done = threading.Event()
        self.headers: dict[str, str] = {}
        self.chunks: list[tuple[float, bytes]] = []
        self.hang_up_after = hang_up_after

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host}:{port}"


class _RuntimeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: RuntimeApi

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.server.served.is_set():
            time.sleep(30)  # no second invocation: the loop under test waits here until stopped
            return
        self.server.served.set()
        body = json.dumps(EVENT).encode()
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", "inv-1")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.server.headers = {k.lower(): v for k, v in self.headers.items()}
        while True:
            size = int(self.rfile.readline().strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                break
            self.server.chunks.append((time.monotonic(), self.rfile.read(size)))
            self.rfile.readline()
            if self.server.hang_up_after is not None and len(self.server.chunks) >= self.server.hang_up_after:
                self.server.done.set()
                self.connection.shutdown(2)
                return
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.server.done.set()


@pytest.fixture
def runtime_api() -> Iterator[RuntimeApi]:
    server = RuntimeApi()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def paced(count: int, pause: float, consumed: list[int]) -> Iterator[bytes]:
    for index in range(count):
        time.sleep(pause)
        consumed.append(index)
        yield f"chunk {index}\n".encode()


def test_chunks_reach_the_runtime_api_as_they_are_produced(runtime_api: RuntimeApi) -> None:
    consumed: list[int] = []

    def responder(event: dict[str, Any], context: Any) -> HttpResponse:
        assert event == EVENT and context.aws_request_id == "inv-1"
        return HttpResponse(200, {"Content-Type": "text/event-stream"}, chunks=paced(3, 0.2, consumed))

    stream_runtime.run(runtime_api.address, responder, invocations=1)
    assert runtime_api.headers["lambda-runtime-function-response-mode"] == "streaming"
    assert runtime_api.headers["content-type"] == stream_runtime.HTTP_INTEGRATION_RESPONSE
    (_, head), *rest = runtime_api.chunks
    metadata, delimiter, body = head.partition(stream_runtime.PRELUDE_DELIMITER)
    assert delimiter and body == b""  # the prelude goes out alone, before the first chunk
    assert json.loads(metadata) == {
        "statusCode": 200,
        "headers": {"Content-Type": "text/event-stream"},
        "cookies": [],
    }
    assert [chunk for _, chunk in rest] == [b"chunk 0\n", b"chunk 1\n", b"chunk 2\n"]
    # Written one by one as produced, not collected: the arrivals are spread over the 0.4 s of pacing.
    assert rest[-1][0] - rest[0][0] >= 0.3


def test_a_stream_that_breaks_is_still_read_to_the_end() -> None:
    server = RuntimeApi(hang_up_after=2)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    consumed: list[int] = []
    try:
        stream_runtime.run(
            server.address,
            lambda event, context: HttpResponse(200, {}, chunks=paced(6, 0.05, consumed)),
            invocations=1,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert consumed == list(range(6))  # the service behind the chunks ran to its settle


def test_the_bootstrap_script_runs_the_loop_with_the_real_gateway(
    runtime_api: RuntimeApi, tmp_path: Path
) -> None:
    archive = tmp_path / "cost_sentry.zip"
    build(REPO_ROOT / "lambda_src" / "cost_sentry", archive)
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("cost_sentry/handlers/stream_bootstrap.sh")
        assert info.external_attr >> 16 == EXECUTABLE_MODE
        zf.extractall(tmp_path / "task")
    environment = {
        "PATH": os.environ["PATH"],
        "LAMBDA_TASK_ROOT": str(tmp_path / "task"),
        "AWS_LAMBDA_RUNTIME_API": runtime_api.address,
        "COST_SENTRY_PYTHON": str(REPO_ROOT / ".venv" / "bin" / "python"),
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    script = tmp_path / "task" / "cost_sentry" / "handlers" / "stream_bootstrap.sh"
    script.chmod(0o755)
    process = subprocess.Popen([str(script)], env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert runtime_api.done.wait(60), (
            process.stderr.read1().decode() if process.poll() is not None else "no response"
        )
    finally:
        process.kill()
        process.wait()
    head = b"".join(chunk for _, chunk in runtime_api.chunks)
    metadata, _, body = head.partition(stream_runtime.PRELUDE_DELIMITER)
    # No tables configured in this sandbox: the gateway answers its misconfiguration, streamed back.
    assert json.loads(metadata)["statusCode"] == 500
    assert json.loads(body)["error"]["code"] == "gateway_misconfigured"
