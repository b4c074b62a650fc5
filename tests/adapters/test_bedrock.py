from decimal import Decimal

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    SSLError,
)

from cost_sentry.adapters.bedrock import (
    RawEvent,
    StreamEnd,
    TextDelta,
    UnreadableResponse,
    build_converse_request,
    call_end_of,
    iter_stream,
    map_bedrock_error,
)
from cost_sentry.core.catalog import default_catalog
from cost_sentry.core.converse import ConverseRequest
from cost_sentry.core.errors import GatewayError
from cost_sentry.core.outcomes import CallEnd
from cost_sentry.core.pricing import Usage
from cost_sentry.core.validation import Parameters, RequestTags

ARN = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/abc"


def request(**parameters) -> ConverseRequest:
    turns = (("user", "hi"), ("assistant", "hello"), ("user", "bye"))
    return ConverseRequest(
        model=None,
        system=({"text": "Be brief."},),
        messages=tuple({"role": role, "content": [{"text": text}]} for role, text in turns),
        parameters=Parameters(**parameters),
        tags=RequestTags("app"),
    )


def test_converse_request_shape():
    spec = default_catalog().get("claude-3-haiku")
    arguments = build_converse_request(
        ARN, spec, request(temperature=Decimal("0.5"), top_p=Decimal("0.9"), top_k=10), 256
    )
    assert arguments == {
        "modelId": ARN,
        "messages": [
            {"role": "user", "content": [{"text": "hi"}]},
            {"role": "assistant", "content": [{"text": "hello"}]},
            {"role": "user", "content": [{"text": "bye"}]},
        ],
        "system": [{"text": "Be brief."}],
        "inferenceConfig": {"maxTokens": 256, "temperature": 0.5, "topP": 0.9},
        "additionalModelRequestFields": {"top_k": 10},
    }


def test_nova_top_k_and_no_optional_fields():
    spec = default_catalog().get("nova-lite")
    arguments = build_converse_request(ARN, spec, request(top_k=7), 100)
    assert arguments["additionalModelRequestFields"] == {"inferenceConfig": {"topK": 7}}
    assert arguments["inferenceConfig"] == {"maxTokens": 100}


def test_meta_top_k_refused():
    with pytest.raises(GatewayError) as caught:
        build_converse_request(ARN, default_catalog().get("llama3-1-8b"), request(top_k=7), 100)
    assert caught.value.code == "top_k_not_supported"


def error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "Converse")


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (error("ThrottlingException"), 429, "bedrock_throttled"),
        (error("ServiceQuotaExceededException"), 429, "bedrock_throttled"),
        (error("ValidationException"), 400, "bedrock_validation"),
        (error("AccessDeniedException"), 403, "model_access_denied"),
        (error("ModelTimeoutException"), 504, "bedrock_timeout"),
        (error("ModelNotReadyException"), 429, "bedrock_throttled"),
        (error("ServiceUnavailableException"), 502, "bedrock_failed"),
        (error("InternalServerException"), 502, "bedrock_failed"),
        (ReadTimeoutError(endpoint_url="x"), 504, "bedrock_timeout"),
        (EndpointConnectionError(endpoint_url="x"), 502, "bedrock_unreachable"),
        (ConnectionClosedError(endpoint_url="x"), 502, "bedrock_connection_lost"),
        (RuntimeError("boom"), 502, "bedrock_failed"),
    ],
)
def test_error_mapping(exc, status, code):
    mapped = map_bedrock_error(exc)
    assert (mapped.status, mapped.code) == (status, code)


def test_stream_events_are_parsed_in_order():
    events = [
        {"messageStart": {"role": "assistant"}},
        {"contentBlockDelta": {"delta": {"text": "a"}}},
        {"contentBlockDelta": {"delta": {"text": "b"}}},
        {"messageStop": {"stopReason": "max_tokens"}},
        {"metadata": {"usage": {"inputTokens": 3, "outputTokens": 2}}},
    ]
    parsed = list(iter_stream(iter(events)))
    assert parsed == [
        RawEvent(events[0]),
        TextDelta("a"),
        TextDelta("b"),
        RawEvent(events[3]),
        StreamEnd(3, 2, "max_tokens", Usage(3, 2)),
    ]


def test_stream_end_carries_cache_usage_and_the_tier_that_served():
    events = [
        {"messageStop": {"stopReason": "end_turn"}},
        {
            "metadata": {
                "usage": {
                    "inputTokens": 5,
                    "outputTokens": 7,
                    "cacheReadInputTokens": 100,
                    "cacheWriteInputTokens": 30,
                    "cacheDetails": [{"ttl": "1h", "inputTokens": 20}, {"ttl": "5m", "inputTokens": 10}],
                },
                "serviceTier": {"type": "priority"},
            }
        },
    ]
    *_, end = iter_stream(iter(events))
    assert end.usage == Usage(
        5, 7, 100, 30, cache_write_5m_tokens=10, cache_write_1h_tokens=20, service_tier="priority"
    )


def test_stream_without_usage_is_an_upstream_failure():
    with pytest.raises(GatewayError) as caught:
        list(iter_stream(iter([{"contentBlockDelta": {"delta": {"text": "a"}}}])))
    assert caught.value.code == "bedrock_stream_incomplete"


def test_stream_exception_event_is_mapped():
    with pytest.raises(GatewayError) as caught:
        list(iter_stream(iter([{"throttlingException": {"message": "slow down"}}])))
    assert caught.value.status == 429


class Flaky:
    """A client failing with the given errors first, then answering."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def converse(self, **arguments):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return {
            "output": {"message": {"content": [{"text": "ok"}]}},
            "usage": {"inputTokens": 1, "outputTokens": 2},
        }


def test_a_transient_throttle_is_retried_once():
    from cost_sentry.adapters.bedrock import converse

    client = Flaky(error("ThrottlingException"))
    pauses: list[float] = []
    result = converse(client, {}, sleep=pauses.append)
    assert (result.text, result.input_tokens, result.output_tokens) == ("ok", 1, 2)
    assert client.calls == 2 and len(pauses) == 1 and 0 < pauses[0] < 1


def test_a_persistent_throttle_gives_up_after_one_retry():
    from cost_sentry.adapters.bedrock import converse

    client = Flaky(error("ThrottlingException"), error("ThrottlingException"), error("ThrottlingException"))
    with pytest.raises(GatewayError) as caught:
        converse(client, {}, sleep=lambda seconds: None)
    assert caught.value.status == 429 and client.calls == 2


@pytest.mark.parametrize(
    "exc",
    [
        ReadTimeoutError(endpoint_url="x"),
        ConnectionClosedError(endpoint_url="x"),
        error("ModelTimeoutException"),
        error("InternalServerException"),
        error("ServiceUnavailableException"),
        error("ServiceQuotaExceededException"),
    ],
)
def test_calls_that_may_have_run_are_never_retried(exc):
    from cost_sentry.adapters.bedrock import converse

    client = Flaky(exc)
    with pytest.raises(GatewayError):
        converse(client, {}, sleep=lambda seconds: None)
    assert client.calls == 1


@pytest.mark.parametrize(
    ("exc", "end"),
    [
        (error("ThrottlingException"), CallEnd.THROTTLED),
        (error("ModelNotReadyException"), CallEnd.THROTTLED),
        (error("ServiceQuotaExceededException"), CallEnd.QUOTA_EXCEEDED),
        (error("ValidationException"), CallEnd.REFUSED_INVALID),
        (error("AccessDeniedException"), CallEnd.REFUSED_INVALID),
        (error("ResourceNotFoundException"), CallEnd.REFUSED_INVALID),
        (error("InternalServerException"), CallEnd.SERVER_ERROR),
        (error("ServiceUnavailableException"), CallEnd.SERVER_ERROR),
        (error("ModelTimeoutException"), CallEnd.SERVER_ERROR),
        (error("ModelErrorException"), CallEnd.SERVER_ERROR),
        (error("NeverHeardOfItException"), CallEnd.SERVER_ERROR),
        (ReadTimeoutError(endpoint_url="x"), CallEnd.READ_TIMEOUT),
        (ConnectionClosedError(endpoint_url="x"), CallEnd.CONNECTION_LOST),
        (EndpointConnectionError(endpoint_url="x"), CallEnd.NOT_SENT),
        (ConnectTimeoutError(endpoint_url="x"), CallEnd.NOT_SENT),
        (SSLError(endpoint_url="x", error="x"), CallEnd.SERVER_ERROR),
        (RuntimeError("boom"), CallEnd.SERVER_ERROR),
    ],
)
def test_each_failure_is_classified_by_the_outcome_table(exc, end):
    assert call_end_of(exc) is end
    # What converse() raises carries the botocore error as its cause: the same answer.
    wrapped = map_bedrock_error(exc)
    wrapped.__cause__ = exc
    assert call_end_of(wrapped) is end


def test_an_in_stream_exception_is_classified_by_its_code():
    with pytest.raises(GatewayError) as caught:
        list(iter_stream(iter([{"modelStreamErrorException": {"message": "broke"}}])))
    assert call_end_of(caught.value) is CallEnd.SERVER_ERROR
    with pytest.raises(GatewayError) as caught:
        list(iter_stream(iter([{"throttlingException": {"message": "slow"}}])))
    assert call_end_of(caught.value) is CallEnd.THROTTLED


def test_an_unreadable_answer_is_its_own_end():
    assert call_end_of(UnreadableResponse("no usage")) is CallEnd.UNREADABLE_RESPONSE
