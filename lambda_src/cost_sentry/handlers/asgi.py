"""The gateway as an ASGI 3 application: the container deployment (issue 18), served by granian.

    granian --interface asgi --host 0.0.0.0 --port 8080 cost_sentry.handlers.asgi:app

(add ``--ssl-certificate``/``--ssl-keyfile`` for TLS, where HTTP/2 and HTTP/1.1 are offered by ALPN;
``make serve``'s HTTPS port runs exactly this, scripts/testbed/container_front.py). It is the same
service core as the Lambda function, composed by the same root (handlers/gateway.build_service) from the
same environment (core/settings.Settings), and it does in process what API Gateway and the deployed
authorizer do for the function (handlers/api_front.ApiFront): the credential check from whichever
header the caller's SDK uses (the tenant's key, a per-user key or an OIDC token, checked by the
authorizer's own CredentialChecker), a 401 in the surface's error shape for a missing or bad one, then
the REST API's proxy event for the router's streaming entry point.

Tenant keys come from where the deployed authorizer finds them: the account's API Gateway API keys
(``apigateway:GET`` on ``/apikeys``, cached, re-read on a miss at most once a second), so a key Terraform
creates or disables is the same key for both deployments. Per-user keys and OIDC settings come from the
config table (``CONFIG_TABLE``), as for the authorizer.

The service is blocking (boto3); it runs in a thread pool of ``GATEWAY_THREADS`` (core/settings.
ServerSettings), one thread per request for the whole call, and each default AWS client keeps as many
connections. Chunks go out as the surface yields them (ConverseStream's event stream, OpenAI and
Anthropic SSE). A caller that goes away does not stop the call: its thread reads the answer to the end,
so the ledger settles what Bedrock reported. ``GET /healthz`` answers 200 without a credential and
without touching the ledger (the load balancer's health check). The service is built at lifespan
startup, so a misconfigured container fails at once with the reason in its log instead of answering.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cost_sentry.core.log import default_logger
from cost_sentry.handlers.api_front import ApiFront, FrontAnswer

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

HEALTH_PATH = "/healthz"
# API Gateway's payload quota: a larger body is refused before anything reads it, as there.
MAX_REQUEST_BYTES = 10 * 1024 * 1024
# Hop-by-hop or recomputed: HTTP/2 forbids connection-specific headers, and the server frames the body.
_DROPPED_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}


def build_front() -> tuple[ApiFront, int]:
    """The composition root of the container, from the environment: the gateway function's service
    (handlers/gateway.build_service) and the authorizer's credential checker; and the pool size."""
    from cost_sentry.core.settings import ServerSettings, Settings
    from cost_sentry.handlers.authorizer import default_checker
    from cost_sentry.handlers.gateway import build_service
    from cost_sentry.surfaces.router import respond

    settings = Settings.from_env()
    threads = ServerSettings.from_env().threads
    service = build_service(settings, max_pool_connections=threads)

    def responder(event: dict[str, Any], context: Any) -> Any:
        return respond(service, event)

    front = ApiFront(default_checker(), responder, timeout_seconds=settings.max_request_seconds)
    return front, threads


class GatewayApp:
    """The ASGI application; ``build`` composes what it serves (``build_front`` in the container)."""

    def __init__(self, build: Callable[[], tuple[ApiFront, int]] = build_front) -> None:
        self._build = build
        self._front: ApiFront | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._starting: asyncio.Lock | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    # -- lifespan ------------------------------------------------------------------------------------

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self._started()
                except Exception as error:
                    # The reason (it may name variables and values) goes to the container's log.
                    await send(
                        {"type": "lifespan.startup.failed", "message": f"{type(error).__name__}: {error}"}
                    )
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._pool is not None:
                    # Calls still running finish and settle before the process exits.
                    await asyncio.get_running_loop().run_in_executor(None, self._pool.shutdown, True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _started(self) -> tuple[ApiFront, ThreadPoolExecutor]:
        """The front and its pool, built once (at startup; on the first request where the server runs
        no lifespan)."""
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._front is None or self._pool is None:
                front, threads = await asyncio.get_running_loop().run_in_executor(None, self._build)
                self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="gateway")
                self._front = front
        return self._front, self._pool

    # -- one request ---------------------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if scope["path"] == HEALTH_PATH and method in ("GET", "HEAD"):
            await _send_whole(send, 200, [(b"content-type", b"application/json")], b'{"status":"ok"}')
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > MAX_REQUEST_BYTES:
                await _send_whole(
                    send, 413, [(b"content-type", b"application/json")], b'{"message":"Request Too Long"}'
                )
                return
            if not message.get("more_body"):
                break
        front, pool = await self._started()
        path = scope.get("raw_path") or scope["path"].encode("latin-1")
        if scope.get("query_string"):
            path += b"?" + scope["query_string"]
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
        }
        client = (scope.get("client") or ("127.0.0.1", 0))[0]
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        request = (method, path.decode("latin-1"), headers, bytes(body), client)
        pool.submit(_produce, front, request, loop, queue)
        await _respond(queue, send)


def _produce(
    front: ApiFront,
    request: tuple[str, str, dict[str, str], bytes, str],
    loop: asyncio.AbstractEventLoop,
    queue: asyncio.Queue[Any],
) -> None:
    """A pool thread: the answer's head, then each chunk, then None; always read to the end."""

    def put(item: Any) -> None:
        # A stopped loop refuses the item; the rest is still read, for an exact settle.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(queue.put_nowait, item)

    try:
        answer = front.answer(*request)
        put(answer)
        if answer.chunks is not None:
            try:
                for chunk in answer.chunks:
                    if chunk:
                        put(bytes(chunk))
            finally:
                # A generator's close runs its finally blocks (the settle); a plain iterator has none.
                close = getattr(answer.chunks, "close", None)
                if close is not None:
                    close()
    except Exception as error:  # a bug in the front itself: the gateway answers its own errors
        default_logger().exception("gateway_front_failed", error=type(error).__name__)
        put(error)
    finally:
        put(None)


async def _respond(queue: asyncio.Queue[Any], send: Send) -> None:
    answer = await queue.get()
    if not isinstance(answer, FrontAnswer):
        await _send_whole(
            send, 502, [(b"content-type", b"application/json")], b'{"message":"Internal server error"}'
        )
        while answer is not None:
            answer = await queue.get()
        return
    headers = [
        (name.lower().encode("latin-1"), str(value).encode("latin-1"))
        for name, value in answer.headers.items()
        if name.lower() not in _DROPPED_HEADERS
    ]
    if not any(name == b"x-amzn-requestid" for name, _ in headers):
        headers.append((b"x-amzn-requestid", answer.request_id.encode("latin-1")))
    if answer.chunks is None:
        headers.append((b"content-length", str(len(answer.body)).encode()))
    connected = True
    try:
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        if answer.body:
            await send({"type": "http.response.body", "body": answer.body, "more_body": True})
    except Exception:
        connected = False
    while (item := await queue.get()) is not None:
        if connected and isinstance(item, bytes):
            try:
                await send({"type": "http.response.body", "body": item, "more_body": True})
            except Exception:
                connected = False  # the caller went away: the pool thread reads on
    if connected:
        with contextlib.suppress(Exception):  # the caller went away at the very end
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _send_whole(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


app = GatewayApp()
