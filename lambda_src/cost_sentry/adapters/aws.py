"""One boto3 Session per function (every default client of a composition root comes from it), and the
lazily created default client of a class that takes its clients injected."""

from __future__ import annotations

import threading
from typing import Any


class AwsSession:
    """One boto3 Session for all of the gateway's default clients, created on first use.

    Clients of one Session share its loaded service models, which keeps the cold start short; the
    clients are created once, under the composition root's lock or the shared client's own lock,
    because a Session is not safe to create clients from concurrently.
    """

    def __init__(self, **defaults: Any) -> None:
        """``defaults``: botocore Config options every client gets unless the call sets them (the
        container's ``max_pool_connections``: one connection per request thread, where a Lambda sandbox
        serves one request at a time and botocore's 10 are plenty)."""
        self._session: Any = None
        self._defaults = defaults
        self._lock = threading.Lock()

    def client(self, service: Any, **config: Any) -> Any:
        """A client of ``service``; keyword arguments are botocore Config options."""
        from botocore.config import Config

        options = {**self._defaults, **config}
        with self._lock:
            if self._session is None:
                import boto3

                self._session = boto3.session.Session()
            return self._session.client(service, config=Config(**options) if options else None)


class LazyClient:
    """A client attribute: the client the constructor was given, or a default one of ``service``
    created from a new boto3 Session on first use (so nothing imports boto3 until it is needed).

    ``sts_client = LazyClient("sts")`` in the class body, ``self.sts_client = sts_client`` (None for
    the default) in ``__init__``; every read after that is the client.
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self._attribute = f"_{service}_client"

    def __set_name__(self, owner: type, name: str) -> None:
        self._attribute = f"_{name}"

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        if instance is None:
            return self
        client = instance.__dict__.get(self._attribute)
        if client is None:
            import boto3

            client = instance.__dict__[self._attribute] = boto3.session.Session().client(self.service)
        return client

    def __set__(self, instance: object, client: Any) -> None:
        instance.__dict__[self._attribute] = client
