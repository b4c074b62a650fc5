"""One outcome per request, decided in one place (service/telemetry.py), and one EMF document and one log
line whatever the request did: finished, refused, failed unexpectedly or lost its caller."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cost_sentry.core.errors import BadRequest, GatewayError, LimitExceeded, UpstreamFailed
from cost_sentry.core.log import RequestLogger
from cost_sentry.core.metrics import MetricsEmitter
from cost_sentry.core.outcomes import CallEnd
from cost_sentry.service.results import ApiCall
from cost_sentry.service.telemetry import Outcome, Telemetry, Trace, outcome_of


def trace(*, admitted: bool = False, call_end: CallEnd | None = None) -> Trace:
    return Trace(call=ApiCall("r1", "key"), started=0.0, admitted=admitted, call_end=call_end)


@pytest.mark.parametrize(
    ("admitted", "call_end", "error", "expected"),
    [
        (False, None, None, Outcome.SUCCEEDED),  # GET /v1/budget, /v1/models
        (False, None, BadRequest("invalid_json", "x"), Outcome.REJECTED),
        (False, None, GatewayError("ledger_contended", "x"), Outcome.REJECTED),  # no limit said no
        (False, None, LimitExceeded("budget_exhausted", "x", retry_after_seconds=1), Outcome.DENIED),
        (True, None, None, Outcome.SUCCEEDED),
        (True, None, UpstreamFailed("bedrock_failed", "x"), Outcome.FAILED),
        # A caller that went away: no error answer, but the call ended badly (the hold is charged).
        (True, CallEnd.STREAM_BROKEN_AFTER_CONTENT, None, Outcome.FAILED),
    ],
)
def test_the_outcome_table(
    admitted: bool, call_end: CallEnd | None, error: GatewayError | None, expected: Outcome
) -> None:
    assert outcome_of(trace(admitted=admitted, call_end=call_end), error) is expected


def emitted(documents: list[str]) -> dict[str, Any]:
    [document] = documents
    return json.loads(document)


def test_an_unexpected_exception_leaves_as_internal_error_and_is_measured_once() -> None:
    documents: list[str] = []
    lines: list[str] = []
    tracked = Telemetry(MetricsEmitter("CostSentry", documents.append), RequestLogger(False, lines.append))

    with pytest.raises(GatewayError) as raised, tracked.track(ApiCall("r1", "key")) as t:
        t.admitted = True
        raise KeyError("surprise")

    assert (raised.value.code, raised.value.status) == ("internal_error", 500)
    assert isinstance(raised.value.__cause__, KeyError)
    document = emitted(documents)
    assert (document["outcome"], document["status"]) == ("failed", 500)
    assert (document["RateLimitApproved"], document["InvocationFailed"]) == (1, 1)
    [line] = [json.loads(text) for text in lines]
    assert line["code"] == "internal_error" and "internal_error: KeyError" in line["warnings"][0]
    assert "surprise" not in raised.value.message  # the cause is the log's, never the caller's


def test_a_caller_that_went_away_is_measured_without_an_error_answer() -> None:
    documents: list[str] = []
    tracked = Telemetry(MetricsEmitter("CostSentry", documents.append), RequestLogger(False, lambda _: None))

    def stream() -> Any:
        with tracked.track(ApiCall("r1", "key")) as t:
            t.admitted = True
            try:
                yield "first"
                yield "second"
            except GeneratorExit:
                t.call_end = CallEnd.STREAM_BROKEN_AFTER_CONTENT  # what the service's relay records
                raise

    events = stream()
    assert next(events) == "first"
    events.close()

    document = emitted(documents)
    assert (document["outcome"], document["status"], document["callEnd"]) == (
        "failed",
        200,
        "stream_broken_after_content",
    )


def test_a_denial_is_measured_as_denied_and_raised_unchanged() -> None:
    documents: list[str] = []
    tracked = Telemetry(MetricsEmitter("CostSentry", documents.append), RequestLogger(False, lambda _: None))
    denial = LimitExceeded("budget_exhausted", "spent", retry_after_seconds=60)

    with pytest.raises(LimitExceeded) as raised, tracked.track(ApiCall("r1", "key")):
        raise denial

    assert raised.value is denial
    document = emitted(documents)
    assert (document["outcome"], document["status"], document["RateLimitDenied"]) == ("denied", 429, 1)
