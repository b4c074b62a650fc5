"""A Lambda runtime loop that streams responses (docs/design.md section 7.5).

The Python managed runtime returns a handler's answer in one piece; API Gateway's response streaming
(``responseTransferMode = STREAM``, through ``InvokeWithResponseStream``) needs the function to write
its answer as it is produced. This loop replaces the managed runtime's own (stream_bootstrap.sh, set as
``AWS_LAMBDA_EXEC_WRAPPER``) and speaks the Lambda Runtime API directly:

1. ``GET /2018-06-01/runtime/invocation/next``: the next event (an API Gateway proxy event);
2. ``cost_sentry.handlers.gateway.respond(event, context)``: the surface's HttpResponse, whose chunks
   come as Bedrock generates;
3. ``POST /2018-06-01/runtime/invocation/{id}/response`` with ``Lambda-Runtime-Function-Response-Mode:
   streaming`` and chunked encoding: the HTTP integration prelude (``{"statusCode", "headers"}`` then 8
   NUL bytes) and then each chunk at once.

If the stream to Lambda breaks (the caller went away), the rest of the answer is still read and
dropped, so the service settles the usage Bedrock reports instead of a guess. Standard library only.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

RUNTIME_PATH = "/2018-06-01/runtime"
PRELUDE_DELIMITER = b"\0" * 8
HTTP_INTEGRATION_RESPONSE = "application/vnd.awslambda.http-integration-response"
Responder = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True)
class Context:
    """The Lambda context attributes the gateway may read."""

    aws_request_id: str
    deadline_ms: int
    invoked_function_arn: str
    function_name: str = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
    memory_limit_in_mb: str = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_ms - int(time.time() * 1000))


def prelude(status: int, headers: dict[str, str]) -> bytes:
    document = {"statusCode": status, "headers": headers, "cookies": []}
    return json.dumps(document, separators=(",", ":")).encode("utf-8") + PRELUDE_DELIMITER


class RuntimeClient:
    def __init__(self, address: str) -> None:
        self.address = address

    def _connection(self) -> http.client.HTTPConnection:
        # No timeout: /next blocks until the next invocation arrives, which is how the loop waits.
        return http.client.HTTPConnection(self.address, timeout=None)

    def next_invocation(self) -> tuple[dict[str, Any], Context]:
        connection = self._connection()
        connection.request("GET", f"{RUNTIME_PATH}/invocation/next")
        response = connection.getresponse()
        body = response.read()
        context = Context(
            aws_request_id=response.getheader("Lambda-Runtime-Aws-Request-Id", ""),
            deadline_ms=int(response.getheader("Lambda-Runtime-Deadline-Ms", "0")),
            invoked_function_arn=response.getheader("Lambda-Runtime-Invoked-Function-Arn", ""),
        )
        connection.close()
        return json.loads(body), context

    def stream_response(self, request_id: str, head: bytes, chunks: Iterator[bytes]) -> None:
        connection = self._connection()
        writing = True
        try:
            connection.putrequest("POST", f"{RUNTIME_PATH}/invocation/{request_id}/response")
            connection.putheader("Lambda-Runtime-Function-Response-Mode", "streaming")
            connection.putheader("Content-Type", HTTP_INTEGRATION_RESPONSE)
            connection.putheader("Transfer-Encoding", "chunked")
            connection.endheaders()
            for chunk in _with_head(head, chunks):
                if not writing or not chunk:
                    continue
                try:
                    connection.send(f"{len(chunk):X}\r\n".encode() + chunk + b"\r\n")
                except OSError:
                    writing = False  # the caller is gone: drain the rest so the call settles exactly
            if writing:
                connection.send(b"0\r\n\r\n")
                connection.getresponse().read()
        finally:
            connection.close()

    def report_error(self, path: str, exc: BaseException) -> None:
        document = {
            "errorType": type(exc).__name__,
            "errorMessage": str(exc),
            "stackTrace": traceback.format_exception(exc)[-5:],
        }
        connection = self._connection()
        connection.request(
            "POST",
            path,
            body=json.dumps(document).encode(),
            headers={"Lambda-Runtime-Function-Error-Type": f"Runtime.{type(exc).__name__}"},
        )
        connection.getresponse().read()
        connection.close()


def _with_head(head: bytes, chunks: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield head
        yield from chunks
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def serve_one(client: RuntimeClient, responder: Responder) -> None:
    event, context = client.next_invocation()
    try:
        response = responder(event, context)
    except Exception as exc:  # the gateway answers its own errors; this is a bug
        client.report_error(f"{RUNTIME_PATH}/invocation/{context.aws_request_id}/error", exc)
        return
    client.stream_response(
        context.aws_request_id, prelude(response.status, dict(response.headers)), response.iter_bytes()
    )


def run(address: str, responder: Responder, invocations: int | None = None) -> None:
    """Serve invocations until the sandbox is frozen for good (``invocations`` bounds it for tests)."""
    client = RuntimeClient(address)
    served = 0
    while invocations is None or served < invocations:
        serve_one(client, responder)
        served += 1


def main() -> None:
    address = os.environ["AWS_LAMBDA_RUNTIME_API"]
    try:
        from cost_sentry.handlers.gateway import respond
    except Exception as exc:
        RuntimeClient(address).report_error(f"{RUNTIME_PATH}/init/error", exc)
        sys.exit(1)
    run(address, respond)


if __name__ == "__main__":
    main()
