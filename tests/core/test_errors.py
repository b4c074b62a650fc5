"""The error classes: each carries the HTTP status its declaration names, and subclasses inherit it."""

from __future__ import annotations

import pytest

from cost_sentry.adapters.sessions import InvalidUserError, SessionUnavailableError
from cost_sentry.core import errors


@pytest.mark.parametrize(
    ("error_class", "status"),
    [
        (errors.GatewayError, 500),
        (errors.BadRequest, 400),
        (errors.Unauthorized, 401),
        (errors.Forbidden, 403),
        (errors.NotFound, 404),
        (errors.MethodNotAllowed, 405),
        (errors.PayloadTooLarge, 413),
        (errors.UpstreamFailed, 502),
        (errors.ServiceUnavailable, 503),
        (errors.UpstreamTimeout, 504),
    ],
)
def test_each_error_answers_with_the_status_its_declaration_names(
    error_class: type[errors.GatewayError], status: int
) -> None:
    error = error_class("some_code", "what went wrong")

    assert error.status == status
    assert repr(error) == f"{error_class.__name__}({status}, 'some_code', 'what went wrong')"


def test_the_limit_errors_are_429_whether_retryable_or_not() -> None:
    assert errors.LimitExceeded("rate_limited", "slow down", retry_after_seconds=3).status == 429
    assert errors.UpstreamThrottled("bedrock_throttled", "the account's quota").status == 429


def test_a_subclass_that_names_no_status_keeps_its_parents() -> None:
    assert InvalidUserError("bad user").status == 400
    assert SessionUnavailableError().status == 503
