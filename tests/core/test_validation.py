import json
from decimal import Decimal

import pytest

from cost_sentry.core.catalog import default_catalog
from cost_sentry.core.converse import ConverseRequest, parse_json_api
from cost_sentry.core.converse import check_against_model as check_request_against_model
from cost_sentry.core.errors import BadRequest, GatewayError, PayloadTooLarge
from cost_sentry.core.validation import (
    DEFAULT_MAX_TOKENS,
    Parameters,
    is_valid_tag_value,
    parse_user,
)

LIMIT = 262_144


def body(**overrides) -> dict:
    document = {
        "model": "claude-3-haiku",
        "prompt": {
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}],
            "parameters": {"max_tokens": 64, "temperature": 0.7, "top_p": 0.9, "top_k": 50},
        },
        "tags": {"applicationId": "sales-assistant", "costCenter": "sales", "environment": "prod"},
    }
    document.update(overrides)
    return document


def encode(document: object) -> bytes:
    return json.dumps(document).encode()


def check_against_model(parameters: Parameters, spec, generation_limit_seconds=None) -> int:
    message = {"role": "user", "content": [{"text": "x"}]}
    request = ConverseRequest(model=None, messages=(message,), parameters=parameters)
    return check_request_against_model(request, spec, generation_limit_seconds)


def texts(blocks) -> tuple[str, ...]:
    return tuple(block["text"] for block in blocks)


def code_of(raw: bytes, limit: int = LIMIT) -> str:
    with pytest.raises(GatewayError) as caught:
        parse_json_api(raw, limit)
    return caught.value.code


def with_messages(messages) -> bytes:
    return encode(body(prompt={"messages": messages}))


def with_parameters(parameters) -> bytes:
    return encode(body(prompt={"messages": [{"role": "user", "content": "x"}], "parameters": parameters}))


def test_a_valid_request_parses_exactly():
    request = parse_json_api(encode(body()), LIMIT)
    assert request.model == "claude-3-haiku"
    assert texts(request.system) == ("Be brief.",)
    assert [m["role"] for m in request.messages] == ["user"]
    assert request.parameters == Parameters(64, Decimal("0.7"), Decimal("0.9"), 50)
    assert request.tags.application_id == "sales-assistant"


def test_oversize_body_is_refused_before_parsing():
    with pytest.raises(PayloadTooLarge) as caught:
        parse_json_api(b"{" * 101, 100)  # not even JSON: the size check comes first
    assert caught.value.status == 413
    assert caught.value.code == "body_too_large"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        (b'{"a": NaN}', "invalid_json"),
        (b"[1, 2]", "body_not_object"),
        (b'"text"', "body_not_object"),
        (encode(body(extra=1)), "unknown_field"),
        (encode(body(model="")), "invalid_model"),
        (encode(body(model=7)), "invalid_model"),
        (encode(body(prompt="hi")), "missing_messages"),
        (encode(body(prompt={"messages": []})), "missing_messages"),
        (encode(body(prompt={})), "missing_messages"),
        (encode(body(prompt={"messages": "hi"})), "missing_messages"),
        (encode(body(prompt={"messages": [{"role": "user", "content": "x"}], "other": 1})), "unknown_field"),
    ],
)
def test_structural_errors(raw, code):
    assert code_of(raw) == code


@pytest.mark.parametrize(
    ("messages", "code"),
    [
        (["hi"], "invalid_message"),
        ([{"role": "robot", "content": "x"}], "invalid_role"),
        ([{"role": "user", "content": ""}], "empty_content"),
        ([{"role": "user", "content": "   "}], "empty_content"),
        ([{"role": "user", "content": 5}], "empty_content"),
        ([{"role": "user"}], "empty_content"),
        ([{"role": "user", "content": "x", "name": "bob"}], "unknown_field"),
        ([{"role": "assistant", "content": "x"}], "role_order"),
        ([{"role": "user", "content": "x"}, {"role": "user", "content": "y"}], "role_order"),
        ([{"role": "user", "content": "x"}, {"role": "system", "content": "y"}], "role_order"),
        ([{"role": "system", "content": "x"}], "role_order"),
    ],
)
def test_message_rules(messages, code):
    assert code_of(with_messages(messages)) == code


def test_alternating_conversation_with_several_system_messages_is_accepted():
    request = parse_json_api(
        with_messages(
            [
                {"role": "system", "content": "a"},
                {"role": "system", "content": "b"},
                {"role": "user", "content": "1"},
                {"role": "assistant", "content": "2"},
                {"role": "user", "content": "3"},
            ]
        ),
        LIMIT,
    )
    assert texts(request.system) == ("a", "b")
    assert [m["role"] for m in request.messages] == ["user", "assistant", "user"]


@pytest.mark.parametrize(
    ("parameters", "code"),
    [
        ({"max_tokens": 0}, "invalid_parameter"),
        ({"max_tokens": 1.5}, "invalid_parameter"),
        ({"max_tokens": "100"}, "invalid_parameter"),
        ({"max_tokens": True}, "invalid_parameter"),
        ({"temperature": 1.01}, "invalid_parameter"),
        ({"temperature": -0.1}, "invalid_parameter"),
        ({"temperature": "hot"}, "invalid_parameter"),
        ({"top_p": 2}, "invalid_parameter"),
        ({"top_k": 0}, "invalid_parameter"),
        ({"top_k": 501}, "invalid_parameter"),
        ({"top_k": 2.5}, "invalid_parameter"),
        ({"stop": ["x"]}, "unknown_parameter"),
        ("fast", "invalid_parameter"),
    ],
)
def test_parameter_rules(parameters, code):
    assert code_of(with_parameters(parameters)) == code


def test_parameter_edges_are_accepted():
    request = parse_json_api(
        with_parameters({"temperature": 0, "top_p": 1, "top_k": 500, "max_tokens": 1}), LIMIT
    )
    assert request.parameters == Parameters(1, Decimal(0), Decimal(1), 500)


@pytest.mark.parametrize(
    ("tags", "code"),
    [
        (None, "missing_tag"),
        ({}, "missing_tag"),
        ({"applicationId": ""}, "missing_tag"),
        ({"applicationId": "a", "team": "x"}, "unknown_tag"),
        ({"applicationId": "bad<chars>"}, "invalid_tag"),
        ({"applicationId": "a" * 257}, "invalid_tag"),
        ({"applicationId": "a", "costCenter": 5}, "invalid_tag"),
        ({"applicationId": "a", "environment": "semi;colon"}, "invalid_tag"),
    ],
)
def test_tag_rules(tags, code):
    assert code_of(encode(body(tags=tags))) == code


def test_tag_values_follow_aws_rules():
    assert is_valid_tag_value("Sales team_1 .:/=+-@")
    assert is_valid_tag_value("Équipe ventes")
    assert is_valid_tag_value("a" * 256)
    assert not is_valid_tag_value("a" * 257)
    assert not is_valid_tag_value("50%")


def test_max_tokens_above_the_model_limit_names_the_limit():
    spec = default_catalog().get("claude-3-haiku")
    with pytest.raises(BadRequest, match="at most 4096") as caught:
        check_against_model(Parameters(max_tokens=4097), spec)
    assert caught.value.code == "max_tokens_above_model_limit"
    assert check_against_model(Parameters(max_tokens=4096), spec) == 4096


def test_default_max_tokens_is_bounded_by_the_model():
    catalog = default_catalog()
    assert check_against_model(Parameters(), catalog.get("claude-3-haiku")) == DEFAULT_MAX_TOKENS
    assert check_against_model(Parameters(), catalog.get("claude-3-haiku")) <= 4096


def test_top_k_is_refused_for_meta():
    with pytest.raises(BadRequest) as caught:
        check_against_model(Parameters(top_k=5), default_catalog().get("llama3-1-8b"))
    assert caught.value.code == "top_k_not_supported"


@pytest.mark.parametrize("user", ["a", "x" * 65, "has space", "semi;colon", "ünï", "smith,alice"])
def test_invalid_user_header(user):
    with pytest.raises(BadRequest) as caught:
        parse_user(user)
    assert caught.value.code == "invalid_user"


def test_valid_user_header():
    assert parse_user("alice@example.com") == "alice@example.com"
    assert parse_user(None) is None


def test_deep_nesting_is_invalid_json_not_a_crash():
    assert code_of(b"[" * 100_000 + b"]" * 100_000, 10**6) == "invalid_json"


def test_huge_exponents_are_refused_without_expanding_them():
    for number in (b"1e999999999", b"1E+999999999", b"-1e999999999", b"99999999999999999999"):
        raw = b'{"prompt": {"messages": [{"role": "user", "content": "x"}], "parameters": {"max_tokens": '
        raw += number + b'}}, "tags": {"applicationId": "a"}}'
        assert code_of(raw) == "invalid_parameter"
        raw = raw.replace(b"max_tokens", b"temperature")
        assert code_of(raw) == "invalid_parameter"


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (with_messages([{"role": "user", "content": "hi \ud800 there"}]), "prompt.messages[0].content"),
        (with_messages([{"role": "user", "content": "\udfff"}]), "prompt.messages[0].content"),
        (with_messages([{"role": "user", "content": "ok \ud83d"}]), "prompt.messages[0].content"),
        (b'{"model": "\\ud800", "prompt": {}}', "model"),
        (b'{"tags": {"applicationId": "a\\uDBFF"}}', "tags.applicationId"),
        (b'{"\\ud800": 1}', "a key of the body"),
    ],
)
def test_a_lone_surrogate_anywhere_is_a_400_naming_where(raw, where):
    with pytest.raises(BadRequest) as caught:
        parse_json_api(raw, LIMIT)
    assert caught.value.code == "invalid_unicode"
    assert caught.value.message.startswith(where)


def test_a_surrogate_pair_is_a_character_and_accepted():
    raw = with_messages([{"role": "user", "content": "smile \ud83d\ude00"}])  # json.dumps escapes the pair
    [message] = parse_json_api(raw, LIMIT).messages
    assert texts(message["content"]) == ("smile \U0001f600",)


def test_a_final_assistant_message_is_a_prefill_the_model_continues():
    raw = with_messages(
        [
            {"role": "system", "content": "You answer in JSON."},
            {"role": "user", "content": "Name a colour."},
            {"role": "assistant", "content": "{"},
        ]
    )
    request = parse_json_api(raw, LIMIT)
    assert [message["role"] for message in request.messages] == ["user", "assistant"]
    assert texts(request.system) == ("You answer in JSON.",)


def test_a_max_tokens_that_cannot_finish_in_the_routes_time_is_refused_with_what_fits():
    # claude-sonnet-4: a conservative 25 tokens/s after 3 s to the first token. A route limit that
    # leaves 27 s for the model: (27 - 3) x 25 = 600 tokens.
    spec = default_catalog().get("claude-sonnet-4")
    assert spec.min_output_tokens_per_second == 25
    assert check_against_model(Parameters(max_tokens=600), spec, 27) == 600
    with pytest.raises(BadRequest) as caught:
        check_against_model(Parameters(max_tokens=601), spec, 27)
    assert caught.value.code == "generation_too_long"
    assert "at most 600" in caught.value.message and "lower max_tokens" in caught.value.message
    # The streaming route's longer limit (function timeout 120 s - 2 s): (118 - 3) x 25 = 2875 tokens.
    assert check_against_model(Parameters(max_tokens=2875), spec, 118) == 2875
    with pytest.raises(BadRequest, match="lower max_tokens \\(at most 2875 here\\)"):
        check_against_model(Parameters(max_tokens=2876), spec, 118)


def test_without_max_tokens_the_default_is_lowered_to_what_fits():
    spec = default_catalog().get("claude-sonnet-4")
    assert check_against_model(Parameters(), spec, 27) == 600  # not the usual 1024
    assert check_against_model(Parameters(), spec, 118) == DEFAULT_MAX_TOKENS
    with pytest.raises(BadRequest) as caught:
        check_against_model(Parameters(), spec, 3)  # no time left after the first token
    assert caught.value.code == "generation_too_long"


def test_every_catalog_model_has_a_conservative_output_speed():
    for spec in default_catalog().models.values():
        assert 10 <= spec.min_output_tokens_per_second <= 200, spec.short_name
