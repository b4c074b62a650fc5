"""moto in server mode on 127.0.0.1, as strict as DynamoDB where the budget guarantees depend on it."""

from __future__ import annotations

import contextlib
import logging
import threading
import urllib.request
from typing import Any


class _SerializedDynamoDB:
    """WSGI middleware: one DynamoDB request at a time.

    DynamoDB applies a conditional write atomically per item; moto's threaded server checks the
    condition and writes in plain Python, so two threads could both pass a check that only one should.
    The budget guarantees are exactly such checks, so the emulator must not be looser than the service.
    """

    def __init__(self, app: Any) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with self._lock:
                # Materialize the body inside the lock: the WSGI app may be lazy.
                return list(self._app(environ, start_response))
        return self._app(environ, start_response)


def start_moto(port: int = 0) -> tuple[Any, str]:
    """A moto server on 127.0.0.1 (DynamoDB requests serialized); returns the server and its URL."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import ThreadedWSGIServer

    class DeepBacklogServer(ThreadedWSGIServer):
        # werkzeug closes every connection after one answer, so each request is a new connection; a
        # burst of 512 connects overflows werkzeug's backlog of 128 while the accepting thread waits
        # for the GIL, and connections past it fail (writes the client must call ambiguous). Measured:
        # the 512-thread ledger test under three busy cores lost some with 128 and none with 4096.
        request_queue_size = 4096

    class SerializedMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = _SerializedDynamoDB(DomainDispatcherApplication(create_backend_app))
            self._server = DeepBacklogServer(self._ip_address, self._port, app, handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    # werkzeug logs every request through its own logger; moto's server is plumbing here, not output.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = SerializedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound_port = server.get_host_and_port()
    return server, f"http://{host}:{bound_port}"


def reset_moto(url: str) -> None:
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")  # noqa: S310 - local moto URL
    with contextlib.suppress(OSError), urllib.request.urlopen(request, timeout=30):  # noqa: S310
        pass
