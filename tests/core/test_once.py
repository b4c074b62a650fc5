"""built_once: what a function's container keeps, built by the first call only, even under threads."""

from __future__ import annotations

import threading
import time

import pytest

from cost_sentry.core.log import JsonLogger, default_logger
from cost_sentry.core.once import built_once


def test_the_first_call_builds_and_every_later_call_gets_the_same_value() -> None:
    builds: list[object] = []

    @built_once
    def service() -> object:
        """The container's service."""
        builds.append(object())
        return builds[-1]

    assert service() is service() is builds[0]
    assert len(builds) == 1
    assert (service.__name__, service.__doc__) == ("service", "The container's service.")


def test_concurrent_first_calls_build_once() -> None:
    # Given a slow build and eight threads that ask for it at the same moment
    builds: list[int] = []
    start = threading.Barrier(8)

    @built_once
    def slow() -> int:
        builds.append(1)
        time.sleep(0.05)
        return len(builds)

    answers: list[int] = []

    def ask() -> None:
        start.wait()
        answers.append(slow())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    # Then it was built once and every thread got that one value
    assert builds == [1]
    assert answers == [1] * 8


def test_a_build_that_fails_is_tried_again_by_the_next_call() -> None:
    attempts: list[int] = []

    @built_once
    def flaky() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("CONFIG_TABLE is not set")
        return "built"

    with pytest.raises(RuntimeError, match="CONFIG_TABLE"):
        flaky()
    assert flaky() == "built"
    assert flaky() == "built"
    assert len(attempts) == 2


def test_the_default_logger_is_one_per_process() -> None:
    assert isinstance(default_logger(), JsonLogger)
    assert default_logger() is default_logger()
