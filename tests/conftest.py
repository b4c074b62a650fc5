"""Shared test equipment: a moto server over HTTP on 127.0.0.1, started and stopped by the tests."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

# Fake credentials for every test process: no test may ever reach a real account.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto server (all services) for this test session, reached only through its endpoint URL.

    DynamoDB requests are serialized, as strict as the service: a conditional write is atomic there,
    and the budget guarantees are exactly such writes."""
    from scripts.testbed.emulators.moto_server import start_moto

    server, url = start_moto()
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def aws_endpoint_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the SDK's standard endpoint setting at the moto server for one test."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    return moto_endpoint


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make ``--dist loadgroup`` (make pytest) keep each ``xdist_group`` on one worker.

    pytest-xdist 3.8 marks an item's group by appending ``@group`` to ``item._nodeid``, which pytest 9 no
    longer reads (the id lives in ``item._id``): every group was spread over the workers, so a module's
    stack was built once per worker and the load tests ran against each other. This puts the suffix where
    pytest 9 reads it; it does nothing where xdist's own marking took effect.
    """
    if not getattr(config.option, "loadgroup", False):
        return
    from _pytest.nodeid import coerce_node_id

    for item in items:
        names = {
            str(m.args[0] if m.args else m.kwargs.get("name", "default"))
            for m in item.iter_markers("xdist_group")
        }
        if names and "@" not in item.nodeid:
            item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(sorted(names))}")  # type: ignore[attr-defined]
