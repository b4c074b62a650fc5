"""The input bound is taken over the Converse arguments exactly as sent (issue 14, item 1): every byte the
model can read counts, wherever it sits, and a field no rule knows counts as text at full length."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from cost_sentry.adapters.bedrock import build_converse_request
from cost_sentry.core.catalog import default_catalog
from cost_sentry.core.converse import check_against_model, parse_converse
from cost_sentry.core.errors import BadRequest
from cost_sentry.core.estimate import sent_input_bound, worst_case_for

CATALOG = default_catalog()
HAIKU = CATALOG.get("claude-3-haiku")
SONNET = CATALOG.get("claude-sonnet-4")
MARKER = "ß" * 5_000  # 10,000 UTF-8 bytes
MARKER_BYTES = len(MARKER.encode("utf-8"))


def converse_body(**extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": [{"text": "hello"}]}], **extra}


def sent(document: dict[str, Any], spec: Any = HAIKU) -> dict[str, Any]:
    request = parse_converse(document, spec.short_name)
    max_tokens = check_against_model(request, spec)
    return build_converse_request("arn:profile", spec, request, max_tokens, {"tenantId": "t"})


def bound(document: dict[str, Any], spec: Any = HAIKU) -> int:
    return sent_input_bound(spec, sent(document, spec))


def document_block(**members: Any) -> dict[str, Any]:
    data = base64.b64encode(b"plain text document").decode()
    return {"document": {"format": "txt", "name": "notes", "source": {"bytes": data}, **members}}


BASE = bound(converse_body())
PLACES = {
    "a tool definition in additionalModelRequestFields": converse_body(
        additionalModelRequestFields={"tools": [{"name": "computer", "description": MARKER}]}
    ),
    "text as a key of additionalModelRequestFields": converse_body(additionalModelRequestFields={MARKER: 1}),
    "a document's context": {
        "messages": [{"role": "user", "content": [{"text": "hello"}, document_block(context=MARKER)]}]
    },
}


@pytest.mark.parametrize("place", sorted(PLACES))
def test_text_anywhere_in_the_request_raises_the_bound_by_at_least_its_bytes(place: str) -> None:
    document = PLACES[place]
    # The same request with the marker cut to one character.
    without_marker = json.loads(json.dumps(document).replace(json.dumps(MARKER)[1:-1], "c"))
    assert bound(document) - bound(without_marker) >= MARKER_BYTES - 1


def test_every_member_of_the_arguments_counts_unless_bedrock_does_not_feed_it_to_the_model() -> None:
    arguments = sent(converse_body())
    plain = sent_input_bound(HAIKU, arguments)
    for name, value in {
        "aFutureField": {"prompt": MARKER},
        "additionalModelRequestFields": {"system_prompt": MARKER},
    }.items():
        assert sent_input_bound(HAIKU, {**arguments, name: value}) - plain >= MARKER_BYTES
    for name in ("requestMetadata", "inferenceConfig", "additionalModelResponseFieldPaths"):
        assert sent_input_bound(HAIKU, {**arguments, name: {"note": MARKER}}) == plain
    message = {**arguments["messages"][0], "futureMember": MARKER}
    assert sent_input_bound(HAIKU, {**arguments, "messages": [message]}) - plain >= MARKER_BYTES
    block = {"text": "hello", "futureMember": MARKER}
    with_block = {**arguments, "messages": [{"role": "user", "content": [block]}]}
    assert sent_input_bound(HAIKU, with_block) - plain >= MARKER_BYTES


def test_a_plain_request_keeps_the_bound_it_had() -> None:
    # 64 per request, 16 per block, the text's bytes: what design 7.3 documents (no JSON framing added).
    plain_bound = 64 + 16 + len(b"hello")
    assert plain_bound == BASE


def test_the_gateway_reserves_over_what_it_sends() -> None:
    document = converse_body(additionalModelRequestFields={"tools": [{"description": MARKER}]})
    request = parse_converse(document, HAIKU.short_name)
    max_tokens = check_against_model(request, HAIKU)
    arguments = build_converse_request("arn:profile", HAIKU, request, max_tokens)
    worst = worst_case_for(HAIKU, request, max_tokens, sent=arguments)
    assert worst.input_tokens >= MARKER_BYTES
    assert worst.input_tokens == worst_case_for(HAIKU, request, max_tokens).input_tokens


def test_a_large_extra_field_is_bounded_by_the_context_window_and_no_more() -> None:
    huge = converse_body(additionalModelRequestFields={"tools": [{"description": "x" * 300_000}]})
    assert bound(huge) == HAIKU.context_tokens


def test_cache_breakpoints_in_the_models_own_fields_price_input_at_the_dearest_cache_write() -> None:
    plain = parse_converse(converse_body(additionalModelRequestFields={"tools": [{"name": "t"}]}), None)
    cached = parse_converse(
        converse_body(
            additionalModelRequestFields={"tools": [{"name": "t", "cache_control": {"type": "ephemeral"}}]}
        ),
        None,
    )
    rates = SONNET.prices.worst_rates(None, SONNET.profile_kind)
    dearest_write = max(rates.cache_write(ttl) for ttl in SONNET.cache_ttls)
    assert dearest_write > rates.input
    plain_worst = worst_case_for(SONNET, plain, 10)
    cached_worst = worst_case_for(SONNET, cached, 10)
    extra_bytes = len(',"cache_control":{"type":"ephemeral"}')
    expected_femtos = (plain_worst.input_tokens + extra_bytes) * dearest_write + 10 * rates.output
    assert cached_worst.cost_nanos == -(-expected_femtos // 1_000_000)


@pytest.mark.parametrize(
    "fields",
    [
        {"max_tokens": 64_000},
        {"max_new_tokens": 64_000},
        {"inferenceConfig": {"maxTokens": 64_000}},
        {"textGenerationConfig": {"maxTokenCount": 8_000}},
        {"options": [{"Max-Tokens-To-Sample": 9}]},
    ],
)
def test_a_field_that_could_raise_the_output_is_refused_with_a_400_saying_so(fields: dict[str, Any]) -> None:
    request = parse_converse(converse_body(additionalModelRequestFields=fields), None)
    with pytest.raises(BadRequest) as refused:
        check_against_model(request, HAIKU)
    assert refused.value.code == "output_limit_in_extra_fields"
    assert "inferenceConfig.maxTokens" in refused.value.message


def test_a_thinking_budget_inside_max_tokens_is_still_taken() -> None:
    thinking = {"thinking": {"type": "enabled", "budget_tokens": 1024}}
    document = converse_body(additionalModelRequestFields=thinking, inferenceConfig={"maxTokens": 2048})
    request = parse_converse(document, None)
    assert check_against_model(request, SONNET) == 2048


@pytest.mark.parametrize("beta", ["context-1m-2025-08-07", ["context-1m-2025-08-07"], [1], {"a": "b"}])
def test_anthropic_beta_must_be_a_list_of_strings_and_never_the_1m_context(beta: Any) -> None:
    request = parse_converse(converse_body(additionalModelRequestFields={"anthropic_beta": beta}), None)
    with pytest.raises(BadRequest) as refused:
        check_against_model(request, SONNET)
    assert refused.value.code in {"invalid_field", "unsupported_field"}
    expected = "1M-token context" if isinstance(beta, list) and beta == ["context-1m-2025-08-07"] else "list"
    assert expected in refused.value.message


def test_a_listed_beta_flag_is_taken() -> None:
    fields = {"anthropic_beta": ["token-efficient-tools-2025-02-19"]}
    request = parse_converse(converse_body(additionalModelRequestFields=fields), None)
    assert check_against_model(request, SONNET) > 0
