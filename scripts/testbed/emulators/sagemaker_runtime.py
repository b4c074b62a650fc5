"""A SageMaker runtime stand-in: ``InvokeEndpoint`` on 127.0.0.1 for endpoints serving an OpenAI-style
chat completion API (the shape of vLLM, TGI's Messages API or LMI containers).

moto's InvokeEndpoint returns canned results queued in advance, whatever the request says; the gateway
needs answers whose token counts follow the request, so this stand-in speaks the same wire protocol
(``POST /endpoints/{EndpointName}/invocations``, body passed through, errors as ``x-amzn-ErrorType``)
and answers like the Bedrock stand-in does:

- prompt tokens: each message counts ``ceil(utf8 bytes / 4)`` tokens (at least 1), as in
  scripts/testbed/emulators/bedrock_runtime.py;
- completion: ``max(16, prompt_tokens // 2)`` tokens capped at ``max_tokens`` (``finish_reason``
  ``length`` when cut, else ``stop``), deterministic text of exactly ``4 * completion_tokens`` bytes;
- unknown endpoint names are a 400 ``ValidationError``, like SageMaker's "Endpoint ... not found".

Control: ``GET /_stub/requests`` (endpoint, body, custom attributes, status), ``POST /_stub/faults``
``{"mode": "throttle" | "model-error" | "garbage", "count": 1}``. Run alone:
``python -m scripts.testbed.emulators.sagemaker_runtime --port 8082 --endpoint shared-llm``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from scripts.testbed.emulators.bedrock_runtime import MIN_REPLY_TOKENS, count_text_tokens, deterministic_text

FAULT_MODES = ("throttle", "model-error", "garbage")


@dataclass
class _State:
    endpoints: set[str]
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[dict[str, Any]] = field(default_factory=list)
    faults: list[tuple[str, int]] = field(default_factory=list)

    def take_fault(self) -> str | None:
        with self.lock:
            if not self.faults:
                return None
            mode, remaining = self.faults[0]
            if remaining <= 1:
                self.faults.pop(0)
            else:
                self.faults[0] = (mode, remaining - 1)
            return mode


def chat_completion(endpoint: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The deterministic answer to one OpenAI chat completion request."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list")
    prompt_tokens = sum(count_text_tokens(str(m.get("content", ""))) for m in messages)
    wanted = max(MIN_REPLY_TOKENS, prompt_tokens // 2)
    cap = int(body.get("max_tokens") or wanted)
    completion_tokens = min(wanted, cap)
    seed = hashlib.sha256(endpoint.encode() + json.dumps(messages, sort_keys=True).encode()).digest()
    return {
        "id": f"chatcmpl-{seed.hex()[:12]}",
        "object": "chat.completion",
        "model": body.get("model"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": deterministic_text(seed, completion_tokens)},
                "finish_reason": "length" if completion_tokens < wanted else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is the record."""

    def _send(self, status: int, payload: bytes, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: int, error_type: str, message: str) -> None:
        payload = json.dumps({"message": message}).encode()
        self._send(status, payload, {"Content-Type": "application/json", "x-amzn-ErrorType": error_type})

    def do_GET(self) -> None:
        if self.path == "/_stub/requests":
            with self.server.state.lock:
                log = [dict(entry) for entry in self.server.state.requests]
            self._send(200, json.dumps({"requests": log}).encode(), {"Content-Type": "application/json"})
        else:
            self._error(404, "UnknownOperationException", f"no route {self.path}")

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        state = self.server.state
        if self.path == "/_stub/faults":
            spec = json.loads(raw or b"{}")
            if spec.get("mode") not in FAULT_MODES:
                self._error(400, "ValidationError", f"mode must be one of {', '.join(FAULT_MODES)}")
                return
            with state.lock:
                state.faults.append((spec["mode"], int(spec.get("count") or 1)))
            self._send(200, b"{}", {"Content-Type": "application/json"})
            return
        parts = self.path.split("/")
        if len(parts) != 4 or parts[1] != "endpoints" or parts[3] != "invocations":
            self._error(404, "UnknownOperationException", f"no route {self.path}")
            return
        endpoint = unquote(parts[2])
        entry: dict[str, Any] = {
            "endpoint": endpoint,
            "customAttributes": self.headers.get("X-Amzn-SageMaker-Custom-Attributes"),
            "status": None,
        }
        try:
            entry["body"] = json.loads(raw)
        except ValueError:
            entry["body"] = raw.decode("utf-8", "replace")
        with state.lock:
            state.requests.append(entry)
        if endpoint not in state.endpoints:
            entry["status"] = 400
            self._error(400, "ValidationError", f"Endpoint {endpoint} of account 123456789012 not found.")
            return
        fault = state.take_fault()
        if fault == "throttle":
            entry["status"] = 400
            self._error(400, "ThrottlingException", "Rate exceeded")
            return
        if fault == "model-error":
            entry["status"] = 424
            self._error(424, "ModelError", 'Received server error (500) from primary with message "boom".')
            return
        if fault == "garbage":
            entry["status"] = 200
            self._send(200, b"<html>not json</html>", {"Content-Type": "text/html"})
            return
        try:
            answer = chat_completion(endpoint, entry["body"] if isinstance(entry["body"], dict) else {})
        except ValueError as exc:
            entry["status"] = 424
            self._error(424, "ModelError", f'Received client error (400) from primary with message "{exc}".')
            return
        entry["status"] = 200
        entry["usage"] = answer["usage"]
        headers = {"Content-Type": "application/json", "x-Amzn-Invoked-Production-Variant": "AllTraffic"}
        self._send(200, json.dumps(answer).encode(), headers)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class SageMakerRuntimeStub:
    """``with SageMakerRuntimeStub(["shared-llm"]) as stub: ... stub.url ...``; port 0 picks a free one."""

    def __init__(self, endpoints: Iterable[str], host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server((host, port), _Handler)
        self._server.state = _State(endpoints=set(endpoints))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SageMakerRuntimeStub:
        self._thread = threading.Thread(target=self._server.serve_forever, name="sagemaker-stub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> SageMakerRuntimeStub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def inject_fault(self, mode: str, count: int = 1) -> None:
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {mode!r}; expected one of {', '.join(FAULT_MODES)}")
        with self._server.state.lock:
            self._server.state.faults.append((mode, count))

    def requests(self) -> list[dict[str, Any]]:
        with self._server.state.lock:
            return [dict(entry) for entry in self._server.state.requests]


def shared_endpoint_environment(
    stub: SageMakerRuntimeStub,
    endpoints: Mapping[str, Mapping[str, Any]],
    account_id: str = "123456789012",
    region: str = "us-east-1",
) -> dict[str, str]:
    """The gateway environment for shared endpoints served by `stub`, as Terraform would set it.

    `endpoints`: model name -> {"endpointName", "tenants", "inputPerMillionUsd", "outputPerMillionUsd",
    optional "maxOutputTokens"}; the ARN is built the way SageMaker names endpoints.
    """
    document = {
        name: {
            "endpointName": e["endpointName"],
            "endpointArn": f"arn:aws:sagemaker:{region}:{account_id}:endpoint/{str(e['endpointName']).lower()}",
            "inputPerMillionUsd": str(e["inputPerMillionUsd"]),
            "outputPerMillionUsd": str(e["outputPerMillionUsd"]),
            "maxOutputTokens": int(e.get("maxOutputTokens", 2048)),
            "tenants": sorted(e["tenants"]),
        }
        for name, e in endpoints.items()
    }
    return {"SAGEMAKER_ENDPOINTS": json.dumps(document), "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": stub.url}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--endpoint", action="append", default=[], help="endpoint name served (repeatable)")
    args = parser.parse_args(argv)
    with SageMakerRuntimeStub(args.endpoint or ["shared-llm"], port=args.port) as stub:
        print(f"SageMaker runtime stand-in on {stub.url} (Ctrl-C stops it)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping")


if __name__ == "__main__":
    main()
