"""Fixtures of the attribution tests."""

from __future__ import annotations

import pytest

from .support import FakeClock, Tenant


@pytest.fixture
def tenant() -> Tenant:
    return Tenant()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
