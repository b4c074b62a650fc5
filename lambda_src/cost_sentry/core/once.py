"""A value built once per process, on first use: a function's composition root, the default logger."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def built_once(build: Callable[[], T]) -> Callable[[], T]:
    """A function that returns ``build()``'s result, made by the first call and kept for every later one.

    For what a Lambda container keeps between invocations (a service, a credential checker, the
    logger): built on first use rather than at import, so a module imports without its settings.
    Concurrent first calls (the local stack serves requests on threads) build it once; a build that
    raises is tried again by the next call, so a function that was misconfigured is not stuck with it.
    """
    lock = threading.Lock()
    built: list[T] = []

    @functools.wraps(build)
    def get() -> T:
        if not built:
            with lock:
                if not built:
                    built.append(build())
        return built[0]

    return get
