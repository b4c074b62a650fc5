"""The local stack's TLS front: HTTP/2 and HTTP/1.1 on one port, negotiated by ALPN, served by Hypercorn.

The AWS SDK for JavaScript v3 (``@aws-sdk/client-bedrock-runtime``) speaks HTTP/2 by default and fails
with ``Error: Protocol error`` against an HTTP/1.1-only server, so the HTTPS front offers ``h2`` and
``http/1.1`` (Hypercorn's framing, not ours). It runs the same request steps as the plain-HTTP front
(``local_stack.front_answer``: key check, proxy event, gateway function) through a small ASGI adapter:
each request's function runs in a thread of its own, inside the stack's log capture, and its chunks
go out as they come (HTTP/2 DATA frames, or HTTP/1.1 chunked). A caller that goes away does not stop
the call: the thread reads the rest, so the gateway settles what Bedrock reported, as the deployed
streaming runtime does.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
# Hop-by-hop or recomputed: HTTP/2 forbids connection-specific headers, and Hypercorn frames the body.
_DROPPED_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    for task in asyncio.all_tasks(loop):
        task.cancel()


class TlsFront:
    """Hypercorn on an already bound socket (the stack binds every port first, so a taken one is an error
    naming it), in a thread with its own event loop; ``front`` is the state ``front_answer`` reads."""

    def __init__(self, sock: socket.socket, front: Any, cert_file: str, key_file: str) -> None:
        try:
            from hypercorn.config import Config
        except ImportError as error:
            raise RuntimeError(
                "the HTTPS front needs hypercorn (requirements-dev.txt): run make install"
            ) from error

        self.front = front
        self.address = sock.getsockname()[:2]
        sock.listen(256)
        config = Config()
        config.bind = [f"fd://{sock.detach()}"]  # Hypercorn owns the socket from here
        config.certfile, config.keyfile = cert_file, key_file
        config.alpn_protocols = ["h2", "http/1.1"]
        config.accesslog = None  # the gateway's JSON logs are the record, as on the plain front
        config.include_server_header = False
        config.graceful_timeout = 1.0  # a stopping stack waits this long for answers in progress
        self._config = config
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="gateway-tls-front", daemon=True)

    def start(self) -> TlsFront:
        self._thread.start()
        self._ready.wait(30)
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None or self._stopping is None:
            return
        loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(self._config.graceful_timeout + 1)
        if self._thread.is_alive():
            # A client that keeps its connection open never answers the TLS close (asyncio waits 30 s
            # for it): end what is left, the way a stopped process would.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_cancel_all, loop)
            self._thread.join(10)

    def _run(self) -> None:
        # Stopping cancels the connections still open (stop() above): their cancellation is the stop
        # itself, not an error to print.
        with contextlib.suppress(asyncio.CancelledError, asyncio.InvalidStateError):
            asyncio.run(self._serve())

    async def _serve(self) -> None:
        from hypercorn.asyncio import serve

        self._loop = asyncio.get_running_loop()
        self._loop.set_exception_handler(_quiet_cancellations)
        self._stopping = asyncio.Event()
        self._ready.set()
        await serve(self.app, self._config, shutdown_trigger=self._stopping.wait, mode="asgi")

    # -- the ASGI application ------------------------------------------------------------------------

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope.get("raw_path") or scope["path"].encode()
        if scope.get("query_string"):
            path += b"?" + scope["query_string"]
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
        }
        client = (scope.get("client") or ("127.0.0.1", 0))[0]
        queue: asyncio.Queue[Any] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        worker = threading.Thread(
            target=self._produce,
            args=(loop, queue, scope["method"], path.decode("latin-1"), headers, bytes(body), client),
            name="gateway-function",
            daemon=True,
        )
        worker.start()
        await self._respond(queue, send)

    def _produce(
        self,
        loop: asyncio.AbstractEventLoop,
        queue: asyncio.Queue[Any],
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        client: str,
    ) -> None:
        """The function's thread: the answer's head, then each chunk, then None; always to the end."""
        from scripts.testbed.local_stack import front_answer

        def put(item: Any) -> None:
            # A stopped front refuses the item; the rest is still read, for an exact settle.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(queue.put_nowait, item)

        try:
            with self.front.log_capture.capturing():
                answer = front_answer(self.front, method, path, headers, body, client)
                put(answer)
                if answer.chunks is not None:
                    try:
                        for chunk in answer.chunks:
                            if chunk:
                                put(bytes(chunk))
                    finally:
                        answer.chunks.close()
        except Exception as error:  # a bug in the stack itself, not the gateway's answer
            print(f"TLS front: {type(error).__name__}: {error}", file=sys.stderr)
            put(error)
        finally:
            put(None)

    async def _respond(self, queue: asyncio.Queue[Any], send: Send) -> None:
        answer = await queue.get()
        if answer is None or isinstance(answer, Exception):
            await send({"type": "http.response.start", "status": 502, "headers": []})
            await send({"type": "http.response.body", "body": b""})
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
                    connected = False  # the caller went away: the function's thread reads on
        if connected:
            with contextlib.suppress(Exception):  # the caller went away at the very end
                await send({"type": "http.response.body", "body": b"", "more_body": False})


def _quiet_cancellations(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The loop's handler: a connection task cancelled by stop() is expected; anything else is logged
    as asyncio would."""
    if isinstance(context.get("exception"), asyncio.CancelledError | asyncio.InvalidStateError):
        return
    loop.default_exception_handler(context)
