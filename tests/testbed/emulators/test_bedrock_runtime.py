"""The Bedrock runtime stand-in, driven by plain boto3 bedrock-runtime clients over HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EventStreamError, ReadTimeoutError
from urllib3.exceptions import ProtocolError

from scripts.testbed.emulators.bedrock_runtime import (
    BedrockRuntimeStub,
    count_input_tokens,
    count_text_tokens,
    deterministic_text,
)

PROFILE_ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/sales-haiku"
OTHER_ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/other"


@pytest.fixture(scope="module")
def stub() -> Iterator[BedrockRuntimeStub]:
    with BedrockRuntimeStub(models={PROFILE_ARN: 4096, OTHER_ARN: 200}) as running:
        yield running


@pytest.fixture(autouse=True)
def clean_stub(stub: BedrockRuntimeStub) -> None:
    stub.clear_faults()
    stub.clear_requests()


def client(stub: BedrockRuntimeStub, **config: Any) -> Any:
    # No retries: every injected fault must reach the test as the error it is.
    options: dict[str, Any] = {"retries": {"total_max_attempts": 1}} | config
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=stub.url,
        region_name="us-east-1",
        aws_access_key_id="AKIDSTUBTEST",
        aws_secret_access_key="secret",
        config=Config(**options),
    )


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"text": text}]}


def assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"text": text}]}


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


# -- pure rules ---------------------------------------------------------------------------------------


def test_tokens_are_utf8_bytes_over_four_rounded_up_per_message_plus_system() -> None:
    body = {
        "messages": [user("abcde"), assistant("é"), user("12345678")],  # 5 bytes, 2 bytes, 8 bytes
        "system": [{"text": "ab"}, {"text": "c"}],  # 3 bytes as one block of text
    }

    assert count_input_tokens(body) == 2 + 1 + 2 + 1
    assert count_text_tokens("") == 1


def test_deterministic_text_has_exactly_four_bytes_per_token() -> None:
    text = deterministic_text(b"seed", 37)

    assert len(text.encode()) == 148
    assert count_text_tokens(text) == 37
    assert text == deterministic_text(b"seed", 37)
    assert text != deterministic_text(b"other", 37)


# -- Converse -----------------------------------------------------------------------------------------


def test_converse_answers_with_usage_derived_from_the_input(stub: BedrockRuntimeStub) -> None:
    prompt = (
        "Sum up the spend. " * 25 + "abcdefghijklmnopqrstuvwxyz" * 2 + "!!!!!!"
    )  # 508 bytes -> 127 tokens

    response = client(stub).converse(
        modelId=PROFILE_ARN,
        messages=[user(prompt)],
        system=[{"text": "You are terse."}],  # 14 bytes -> 4 tokens
        inferenceConfig={"maxTokens": 500, "temperature": 0.2},
    )

    assert response["usage"] == {"inputTokens": 131, "outputTokens": 65, "totalTokens": 196}
    assert response["stopReason"] == "end_turn"
    text = response["output"]["message"]["content"][0]["text"]
    assert response["output"]["message"]["role"] == "assistant"
    assert len(text.encode()) == 65 * 4
    assert response["metrics"]["latencyMs"] >= 1


def test_max_tokens_caps_the_reply_and_says_so(stub: BedrockRuntimeStub) -> None:
    response = client(stub).converse(
        modelId=PROFILE_ARN, messages=[user("x" * 400)], inferenceConfig={"maxTokens": 10}
    )

    assert response["usage"]["outputTokens"] == 10
    assert response["stopReason"] == "max_tokens"


def test_the_same_request_gets_the_same_answer(stub: BedrockRuntimeStub) -> None:
    def ask() -> str:
        response = client(stub).converse(modelId=PROFILE_ARN, messages=[user("What is our budget?")])
        return response["output"]["message"]["content"][0]["text"]

    assert ask() == ask()


def test_the_request_log_records_what_the_caller_sent(stub: BedrockRuntimeStub) -> None:
    client(stub).converse(
        modelId=PROFILE_ARN,
        messages=[user("hi"), assistant("hello"), user("top k please")],
        system=[{"text": "be brief"}],
        inferenceConfig={"maxTokens": 64, "topP": 0.9, "stopSequences": ["END"]},
        additionalModelRequestFields={"top_k": 40},
    )

    [entry] = stub.requests()
    assert entry["operation"] == "Converse"
    assert entry["modelId"] == PROFILE_ARN  # decoded from the URL-encoded path segment
    assert entry["accessKeyId"] == "AKIDSTUBTEST"
    assert entry["body"]["system"] == [{"text": "be brief"}]
    assert entry["body"]["inferenceConfig"] == {"maxTokens": 64, "topP": 0.9, "stopSequences": ["END"]}
    assert entry["body"]["additionalModelRequestFields"] == {"top_k": 40}
    assert entry["status"] == 200


def test_the_request_log_is_served_over_http_too(stub: BedrockRuntimeStub) -> None:
    client(stub).converse(modelId=PROFILE_ARN, messages=[user("hi")])

    with urllib.request.urlopen(f"{stub.url}/_stub/requests") as response:  # noqa: S310 - local stub URL
        log = json.load(response)["requests"]

    assert [entry["modelId"] for entry in log] == [PROFILE_ARN]


# -- ConverseStream -----------------------------------------------------------------------------------


def test_converse_stream_frames_parse_in_botocore_and_match_converse(stub: BedrockRuntimeStub) -> None:
    messages = [user("Draft a reply to the customer about the invoice. " * 4)]
    plain = client(stub).converse(modelId=PROFILE_ARN, messages=messages)

    events = list(client(stub).converse_stream(modelId=PROFILE_ARN, messages=messages)["stream"])

    kinds = [next(iter(event)) for event in events]
    assert kinds[0] == "messageStart"
    assert kinds[-3:] == ["contentBlockStop", "messageStop", "metadata"]
    assert set(kinds[1:-3]) == {"contentBlockDelta"}
    streamed = "".join(event["contentBlockDelta"]["delta"]["text"] for event in events[1:-3])
    assert streamed == plain["output"]["message"]["content"][0]["text"]
    assert events[-2]["messageStop"]["stopReason"] == "end_turn"
    assert events[-1]["metadata"]["usage"] == plain["usage"]
    assert stub.requests()[-1]["operation"] == "ConverseStream"


def test_a_stream_error_fault_breaks_the_stream_midway(stub: BedrockRuntimeStub) -> None:
    stub.inject_fault("stream-error")
    stream = client(stub).converse_stream(modelId=PROFILE_ARN, messages=[user("x" * 200)])["stream"]

    with pytest.raises(EventStreamError, match="modelStreamErrorException"):
        list(stream)


# -- validation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ([], "must start with a user message"),
        ([assistant("hi")], "must start with a user message"),
        ([user("a"), user("b")], "alternate between user and assistant"),
        ([{"role": "user", "content": []}], "is empty"),
    ],
)
def test_malformed_conversations_are_rejected_like_bedrock(
    stub: BedrockRuntimeStub, messages: list[dict[str, Any]], expected: str
) -> None:
    bedrock = client(stub, parameter_validation=False)  # the stand-in, not botocore, must refuse these

    with pytest.raises(ClientError) as excinfo:
        bedrock.converse(modelId=PROFILE_ARN, messages=messages)

    code, status, message = error_of(excinfo)
    assert (code, status) == ("ValidationException", 400)
    assert expected in message


def test_max_tokens_beyond_the_model_limit_is_rejected(stub: BedrockRuntimeStub) -> None:
    with pytest.raises(ClientError) as excinfo:
        client(stub).converse(modelId=OTHER_ARN, messages=[user("hi")], inferenceConfig={"maxTokens": 201})

    code, status, message = error_of(excinfo)
    assert (code, status) == ("ValidationException", 400)
    assert "model limit of 200" in message


def test_an_unknown_model_id_is_rejected_once_models_are_registered(stub: BedrockRuntimeStub) -> None:
    with pytest.raises(ClientError) as excinfo:
        client(stub).converse(modelId="anthropic.claude-3-haiku-20240307-v1:0", messages=[user("hi")])

    assert error_of(excinfo)[:2] == ("ValidationException", 400)
    assert stub.requests()[-1]["errorType"] == "ValidationException"


def test_temperature_out_of_range_is_rejected(stub: BedrockRuntimeStub) -> None:
    bedrock = client(stub, parameter_validation=False)

    with pytest.raises(ClientError) as excinfo:
        bedrock.converse(modelId=PROFILE_ARN, messages=[user("hi")], inferenceConfig={"temperature": 1.5})

    assert error_of(excinfo)[:2] == ("ValidationException", 400)


def test_an_unsigned_request_is_denied(stub: BedrockRuntimeStub) -> None:
    body = json.dumps({"messages": [user("hi")]}).encode()
    request = urllib.request.Request(f"{stub.url}/model/x/converse", data=body, method="POST")  # noqa: S310

    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request)  # noqa: S310 - local stub URL

    assert excinfo.value.code == 403
    assert excinfo.value.headers["x-amzn-ErrorType"] == "AccessDeniedException"


# -- faults -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "code", "status"),
    [
        ("throttle", "ThrottlingException", 429),
        ("validation", "ValidationException", 400),
        ("internal", "InternalServerException", 500),
        ("unavailable", "ServiceUnavailableException", 503),
        ("timeout", "ModelTimeoutException", 408),
    ],
)
def test_injected_faults_answer_in_bedrocks_error_shape(
    stub: BedrockRuntimeStub, mode: str, code: str, status: int
) -> None:
    stub.inject_fault(mode)

    with pytest.raises(ClientError) as excinfo:
        client(stub).converse(modelId=PROFILE_ARN, messages=[user("hi")])

    assert error_of(excinfo)[:2] == (code, status)


def test_a_fault_lasts_count_requests_then_the_model_answers(stub: BedrockRuntimeStub) -> None:
    stub.inject_fault("throttle", count=2)
    bedrock = client(stub)

    for _ in range(2):
        with pytest.raises(ClientError):
            bedrock.converse(modelId=PROFILE_ARN, messages=[user("hi")])
    response = bedrock.converse(modelId=PROFILE_ARN, messages=[user("hi")])

    assert response["stopReason"] == "end_turn"


def test_a_fault_for_one_model_leaves_the_others_alone(stub: BedrockRuntimeStub) -> None:
    stub.inject_fault("internal", count=None, model_id=OTHER_ARN)
    bedrock = client(stub)

    assert bedrock.converse(modelId=PROFILE_ARN, messages=[user("hi")])["stopReason"] == "end_turn"
    with pytest.raises(ClientError):
        bedrock.converse(modelId=OTHER_ARN, messages=[user("hi")])


def test_faults_can_be_injected_over_http_and_bad_ones_are_refused(stub: BedrockRuntimeStub) -> None:
    def post(spec: dict[str, Any]) -> int:
        url = f"{stub.url}/_stub/faults"
        request = urllib.request.Request(url, data=json.dumps(spec).encode(), method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request) as response:  # noqa: S310 - local stub URL
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    assert post({"mode": "unavailable", "count": 1, "modelId": PROFILE_ARN}) == 201
    assert post({"mode": "meltdown"}) == 400
    assert post({"mode": "throttle", "count": 0}) == 400
    assert post({"mode": "latency"}) == 400  # a latency fault without a latency

    with pytest.raises(ClientError) as excinfo:
        client(stub).converse(modelId=PROFILE_ARN, messages=[user("hi")])
    assert error_of(excinfo)[0] == "ServiceUnavailableException"


def test_injected_latency_beyond_the_client_timeout_times_out(stub: BedrockRuntimeStub) -> None:
    stub.inject_fault("latency", latency_ms=1500)
    impatient = client(stub, read_timeout=0.3, connect_timeout=1)

    with pytest.raises(ReadTimeoutError):
        impatient.converse(modelId=PROFILE_ARN, messages=[user("hi")])


def test_drop_after_read_reads_the_request_and_closes_without_an_answer(stub: BedrockRuntimeStub) -> None:
    stub.inject_fault("drop-after-read")

    with pytest.raises(ConnectionClosedError):
        client(stub).converse(modelId=PROFILE_ARN, messages=[user("hello there")])

    [entry] = stub.requests()
    assert entry["fault"] == "drop-after-read"
    assert entry["body"]["messages"] == [user("hello there")]  # read in full before the hang-up
    assert entry["status"] is None  # never answered
    assert client(stub).converse(modelId=PROFILE_ARN, messages=[user("hi")])["usage"]["inputTokens"] == 1


def test_stall_answers_nothing_until_past_the_client_read_timeout(stub: BedrockRuntimeStub) -> None:
    stub.inject_fault("stall", latency_ms=3000)
    impatient = client(stub, read_timeout=0.5, connect_timeout=1)

    with pytest.raises(ReadTimeoutError):
        impatient.converse(modelId=PROFILE_ARN, messages=[user("hi")])
    [entry] = stub.requests()
    assert (entry["fault"], entry["status"]) == ("stall", None)


def test_stream_error_early_breaks_before_any_text(stub: BedrockRuntimeStub) -> None:
    stub.inject_fault("stream-error-early")
    stream = client(stub).converse_stream(modelId=PROFILE_ARN, messages=[user("x" * 200)])["stream"]
    seen: list[str] = []

    with pytest.raises(EventStreamError, match="modelStreamErrorException"):
        for event in stream:
            seen.append(next(iter(event)))
    assert seen == ["messageStart"]


def test_stream_drop_cuts_the_stream_after_text_without_an_end(stub: BedrockRuntimeStub) -> None:
    stub.inject_fault("stream-drop")
    stream = client(stub).converse_stream(modelId=PROFILE_ARN, messages=[user("x" * 200)])["stream"]
    seen: list[str] = []

    with pytest.raises(ProtocolError):  # what botocore's event stream lets through for a cut body
        for event in stream:
            seen.append(next(iter(event)))
    assert seen == ["messageStart", "contentBlockDelta"]
