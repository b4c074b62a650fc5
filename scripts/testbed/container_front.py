"""The local stack's HTTPS front: the container's server, granian serving cost_sentry.handlers.asgi:app.

What runs in the container (issue 18) is what ``make serve`` answers on its HTTPS port: the same ASGI
app, served by the same granian, in a process of its own that reads the stack's environment (the moto
and Bedrock stand-in endpoint URLs, the tables, the gateway's settings) exactly as the container reads
its task definition's. Granian negotiates HTTP/2 or HTTP/1.1 by ALPN on TLS (its hyper stack finishes
the streams a client's GOAWAY leaves open, which the AWS SDK for JavaScript v3 relies on for
ConverseStream). The plain-HTTP port stays the emulation of API Gateway + Lambda (local_stack.py).

The server's stdout (the gateway's JSON log lines and EMF documents, what CloudWatch Logs would
receive) is read line by line into the stack's log capture, like the in-process function's output; its
stderr goes to the stack's stderr. It is stopped by its own pid.
"""

from __future__ import annotations

import collections
import contextlib
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from scripts import REPO_ROOT

LAMBDA_SRC = REPO_ROOT / "lambda_src"
APP = "cost_sentry.handlers.asgi:app"
# granian logs to stdout by default; this sends its lines to stderr, apart from the gateway's.
LOG_CONFIG = Path(__file__).with_name("granian_logging.json")
STARTUP_SECONDS = 60  # a cold import of boto3 on a loaded 2-core machine, with room


class FrontNotReady(RuntimeError):
    """The server exited or never answered its health check; the message carries its last words."""


def granian_command(port: int, cert_file: str | None = None, key_file: str | None = None) -> list[str]:
    """The command line that serves the gateway: the container's, on 127.0.0.1 here."""
    command = [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-ws",
        "--log-level",
        "warning",  # the gateway's JSON lines are the record; granian says only what goes wrong,
        "--log-config",
        str(LOG_CONFIG),  # on stderr, so stdout carries the gateway's JSON lines alone
    ]
    if cert_file and key_file:
        command += ["--ssl-certificate", cert_file, "--ssl-keyfile", key_file]
    return [*command, APP]


def _healthy(url: str, context: ssl.SSLContext | None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as answer:  # noqa: S310 - our 127.0.0.1 server
            return bool(answer.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ContainerFront:
    """granian in a subprocess; ``log_sink`` takes each stdout line (with its newline)."""

    def __init__(
        self,
        port: int,
        *,
        cert_file: str | None = None,
        key_file: str | None = None,
        ca_file: str | None = None,
        environment: Mapping[str, str] | None = None,
        log_sink: Any = None,
        error_stream: IO[str] | None = None,
    ) -> None:
        self.port = port
        self._command = granian_command(port, cert_file, key_file)
        self._ca_file = ca_file
        self._tls = bool(cert_file)
        self._environment = dict(os.environ if environment is None else environment)
        self._log_sink = log_sink
        self._error_stream = error_stream
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        self._readers: list[threading.Thread] = []
        self.process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> ContainerFront:
        paths = [str(LAMBDA_SRC), self._environment.get("PYTHONPATH", "")]
        environment = {**self._environment, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
        environment["PYTHONUNBUFFERED"] = "1"  # each log line reaches the capture as it is written
        self.process = subprocess.Popen(
            self._command,
            cwd=LAMBDA_SRC,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        self._readers = [
            threading.Thread(target=self._read_stdout, args=(self.process.stdout,), daemon=True),
            threading.Thread(target=self._read_stderr, args=(self.process.stderr,), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        try:
            self._wait_until_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()  # granian stops its worker and lets answers in progress finish
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        for reader in self._readers:
            reader.join(5)
        self.process = None

    def stderr_tail(self) -> str:
        return "".join(self._stderr_tail)

    def _wait_until_healthy(self) -> None:
        context = ssl.create_default_context(cafile=self._ca_file) if self._tls else None
        deadline = time.monotonic() + STARTUP_SECONDS
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process.wait()
                for reader in self._readers:
                    reader.join(5)
                raise FrontNotReady(
                    f"the gateway server ({APP} on granian) exited with {self.process.returncode}: "
                    f"{self.stderr_tail().strip()}"
                )
            if _healthy(self.url + "/healthz", context):
                return
            time.sleep(0.1)
        raise FrontNotReady(f"the gateway server answered no health check in {STARTUP_SECONDS} s")

    def _read_stdout(self, stream: IO[str]) -> None:
        for line in stream:
            if self._log_sink is not None:
                self._log_sink(line)

    def _read_stderr(self, stream: IO[str]) -> None:
        for line in stream:
            self._stderr_tail.append(line)
            if self._error_stream is not None:
                with contextlib.suppress(ValueError):  # a closed stream at interpreter exit
                    self._error_stream.write(line)
                    self._error_stream.flush()


def address_in_use(front: ContainerFront) -> bool:
    return "Address already in use" in front.stderr_tail() or "os error 98" in front.stderr_tail()


__all__: Sequence[str] = ["ContainerFront", "FrontNotReady", "address_in_use", "free_port", "granian_command"]
