"""Bedrock Guardrails: the catalog's rates, the trace's usage priced field by field, and the worst case
(docs/design.md 7.2-7.4). Expected figures are written out from the published rates, not read from the
code under test."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace

import pytest

from cost_sentry.core.catalog import default_catalog
from cost_sentry.core.converse import ConverseRequest
from cost_sentry.core.errors import BadRequest
from cost_sentry.core.estimate import (
    MAX_CHARACTERS_PER_OUTPUT_TOKEN,
    characters,
    guardrail_input_units,
    guardrail_output_units,
    guardrail_worst_nanos,
    text_units,
    worst_case_for,
)
from cost_sentry.core.guardrails import (
    caller_wants_trace,
    check_guardrail_config,
    traced,
    without_guardrail_trace,
)
from cost_sentry.core.pricing import (
    GuardrailRates,
    MalformedUsage,
    Usage,
    parse_guardrail_trace,
    parse_usage,
)
from cost_sentry.core.validation import Parameters

# USD per 1,000 text units x 10^6 = nano-dollars per text unit (models.json "guardrails").
CONTENT, TOPIC, PII, GROUNDING, AUTOMATED_REASONING = 150_000, 150_000, 100_000, 100_000, 170_000
IMAGE = 750_000  # USD 0.00075 per image
# One text unit through every priced policy, two automated reasoning policies at most.
EVERY_POLICY = CONTENT + TOPIC + PII + GROUNDING + 2 * AUTOMATED_REASONING
GUARDRAIL = {"guardrailIdentifier": "gr-1", "guardrailVersion": "1"}


def assessment(**usage: int) -> dict:
    fields = {
        "topicPolicyUnits": 0,
        "contentPolicyUnits": 0,
        "wordPolicyUnits": 0,
        "sensitiveInformationPolicyUnits": 0,
        "sensitiveInformationPolicyFreeUnits": 0,
        "contextualGroundingPolicyUnits": 0,
        **usage,
    }
    return {"invocationMetrics": {"guardrailProcessingLatency": 3, "usage": fields}}


def trace(input_usage: dict, *outputs: dict) -> dict:
    return {
        "guardrail": {"inputAssessment": {"gr-1": input_usage}, "outputAssessments": {"gr-1": list(outputs)}}
    }


@pytest.fixture(scope="module")
def rates() -> GuardrailRates:
    rates = default_catalog().get("nova-lite").guardrail_rates
    assert rates is not None
    return rates


def test_the_catalog_prices_every_guardrail_usage_field_in_whole_nano_dollars(rates: GuardrailRates) -> None:
    assert dict(rates.text_unit_nanos) == {
        "contentPolicyUnits": CONTENT,
        "topicPolicyUnits": TOPIC,
        "sensitiveInformationPolicyUnits": PII,
        "sensitiveInformationPolicyFreeUnits": 0,
        "wordPolicyUnits": 0,
        "contextualGroundingPolicyUnits": GROUNDING,
        "automatedReasoningPolicyUnits": AUTOMATED_REASONING,
    }
    assert rates.image_nanos == IMAGE
    assert rates.every_policy_text_unit_nanos == EVERY_POLICY
    # Every model shares the one guardrails section.
    assert all(spec.guardrail_rates is rates for spec in default_catalog().models.values())


def test_guardrail_rates_refuse_a_missing_field_or_an_inexact_price() -> None:
    good = {
        "perThousandTextUnitsUsd": {
            "contentPolicyUnits": "0.15",
            "topicPolicyUnits": "0.15",
            "wordPolicyUnits": "0",
            "sensitiveInformationPolicyUnits": "0.10",
            "sensitiveInformationPolicyFreeUnits": "0",
            "contextualGroundingPolicyUnits": "0.10",
            "automatedReasoningPolicyUnits": "0.17",
        },
        "perImageUsd": {"contentPolicyImageUnits": "0.00075"},
    }
    assert GuardrailRates.from_document(good).automated_reasoning_policies_max == 1
    missing = {**good, "perThousandTextUnitsUsd": dict(good["perThousandTextUnitsUsd"])}
    del missing["perThousandTextUnitsUsd"]["topicPolicyUnits"]
    with pytest.raises(ValueError, match="missing \\['topicPolicyUnits'\\]"):
        GuardrailRates.from_document(missing)
    inexact = {**good, "perImageUsd": {"contentPolicyImageUnits": "0.0000000001"}}
    with pytest.raises(ValueError, match="not a whole number of nano-dollars"):
        GuardrailRates.from_document(inexact)
    with pytest.raises(ValueError, match="automatedReasoningPoliciesMax"):
        GuardrailRates.from_document({**good, "automatedReasoningPoliciesMax": 0})


def test_every_assessment_is_summed_and_each_field_priced_at_its_own_rate(rates: GuardrailRates) -> None:
    usage = parse_guardrail_trace(
        trace(
            assessment(
                contentPolicyUnits=3,
                topicPolicyUnits=3,
                sensitiveInformationPolicyUnits=3,
                sensitiveInformationPolicyFreeUnits=3,
                wordPolicyUnits=3,
                contentPolicyImageUnits=2,
            ),
            assessment(contentPolicyUnits=1, topicPolicyUnits=1, contextualGroundingPolicyUnits=1),
            assessment(contentPolicyUnits=1, topicPolicyUnits=1, contextualGroundingPolicyUnits=1),
        )
    )
    assert usage is not None and usage.complete and usage.assessments == 3
    assert usage.text_units["contentPolicyUnits"] == 5
    assert usage.image_units == 2
    # Free units (word filters, regex sensitive information) cost nothing.
    expected = 5 * CONTENT + 5 * TOPIC + 3 * PII + 2 * GROUNDING + 2 * IMAGE
    assert rates.cost_nanos(usage) == expected


def test_automated_reasoning_is_billed_per_policy_evaluated(rates: GuardrailRates) -> None:
    usage = parse_guardrail_trace(
        trace(assessment(automatedReasoningPolicyUnits=4, automatedReasoningPolicies=2), assessment())
    )
    assert usage is not None
    assert rates.cost_nanos(usage) == 4 * 2 * AUTOMATED_REASONING
    one = parse_guardrail_trace(trace(assessment(automatedReasoningPolicyUnits=4)))
    assert one is not None and rates.cost_nanos(one) == 4 * AUTOMATED_REASONING


def test_a_usage_field_the_catalog_does_not_know_is_charged_at_the_dearest_rate(
    rates: GuardrailRates,
) -> None:
    usage = parse_guardrail_trace(trace(assessment(futurePolicyUnits=2)))
    assert usage is not None
    assert rates.cost_nanos(usage) == 2 * AUTOMATED_REASONING  # the dearest text-unit rate


def test_no_trace_means_no_guardrail_usage_and_an_assessment_without_usage_makes_it_incomplete() -> None:
    assert parse_guardrail_trace(None) is None
    assert parse_guardrail_trace({"promptRouter": {"invokedModelId": "x"}}) is None
    partial = parse_guardrail_trace(trace(assessment(contentPolicyUnits=1), {"contentPolicy": {}}))
    assert partial is not None and not partial.complete
    with pytest.raises(MalformedUsage):
        parse_guardrail_trace(trace(assessment(contentPolicyUnits=-1)))
    with pytest.raises(MalformedUsage):
        parse_guardrail_trace({"guardrail": {"outputAssessments": {"gr-1": "not a list"}}})


def test_a_call_costs_its_tokens_plus_its_guardrail_units_exactly() -> None:
    spec = default_catalog().get("nova-lite")  # in-Region: input 0.06, output 0.24 USD per million
    raw = trace(assessment(contentPolicyUnits=2, topicPolicyUnits=2), assessment(contentPolicyUnits=1))
    usage = parse_usage({"inputTokens": 1000, "outputTokens": 100}, None, raw)
    tokens = 1000 * 60 + 100 * 240
    assert spec.usage_cost_nanos(usage) == tokens + 3 * CONTENT + 2 * TOPIC
    assert spec.usage_cost_nanos(replace(usage, guardrail=None)) == tokens
    assert spec.usage_cost_nanos(Usage(1000, 100)) == tokens


# -- the worst case -------------------------------------------------------------------------------------


def request(*texts: str, guardrail: dict | None = GUARDRAIL, images: int = 0, **fields) -> ConverseRequest:
    content: list[dict] = [{"text": text} for text in texts]
    content += [{"image": {"format": "png", "source": {"bytes": b"\x89PNG"}}}] * images
    return ConverseRequest(
        model="nova-lite",
        messages=({"role": "user", "content": content},),
        guardrail_config=guardrail,
        parameters=Parameters(max_tokens=100),
        **fields,
    )


def test_text_units_round_each_assessed_text_up_and_count_utf16_characters() -> None:
    assert [text_units(n) for n in (0, 1, 1000, 1001, 2000)] == [0, 1, 1, 2, 2]
    assert characters("abc") == 3
    assert characters("é") == 1  # two UTF-8 bytes, one character
    assert characters("\U0001f600") == 2  # outside the BMP: a surrogate pair


def test_the_input_bound_rounds_every_block_on_its_own_and_counts_images() -> None:
    spec = default_catalog().get("nova-lite")
    system = ({"text": "s" * 10},)
    units, images = guardrail_input_units(spec, request("a" * 1001, "b", images=2, system=system))
    assert (units, images) == (2 + 1 + 1, 2)


def test_output_units_of_converse_and_of_a_stream_assessed_chunk_by_chunk() -> None:
    most = 100 * MAX_CHARACTERS_PER_OUTPUT_TOKEN
    assert guardrail_output_units(100, stream=False) == -(-most // 1000)
    assert guardrail_output_units(100, stream=True) == most // 1000 + 100


def test_the_reservation_adds_the_guardrail_worst_case_at_every_policy_rate() -> None:
    spec = default_catalog().get("nova-lite")
    plain = worst_case_for(spec, request("hello", guardrail=None), 100)
    guarded = worst_case_for(spec, request("hello", images=1), 100)
    streamed = worst_case_for(spec, request("hello", images=1), 100, stream=True)
    assert plain.guardrail_nanos == 0
    input_units, output_units = 1, -(-(100 * MAX_CHARACTERS_PER_OUTPUT_TOKEN) // 1000)
    assert guarded.guardrail_nanos == (input_units + output_units) * EVERY_POLICY + IMAGE
    stream_units = 100 * MAX_CHARACTERS_PER_OUTPUT_TOKEN // 1000 + 100
    assert streamed.guardrail_nanos == (input_units + stream_units) * EVERY_POLICY + IMAGE
    # The token part is the same bound as without a guardrail (plus the settings' own JSON bytes).
    assert guarded.cost_nanos - guarded.guardrail_nanos >= plain.cost_nanos


def test_the_guardrail_bound_holds_for_any_split_into_assessed_texts_and_stream_chunks() -> None:
    """Bedrock may assess the input as one text or per message, and a stream chunk by chunk: whatever
    the split, the units it bills stay within the bound (output within MAX_CHARACTERS_PER_OUTPUT_TOKEN)."""
    spec = default_catalog().get("nova-lite")
    rates = spec.guardrail_rates
    assert rates is not None
    generator = random.Random(7)
    alphabet = "ab é\U0001f600"
    for _ in range(200):
        texts = [
            "".join(generator.choice(alphabet) for _ in range(generator.randint(1, 2500))) for _ in range(3)
        ]
        max_tokens = generator.randint(1, 300)
        tokens = [generator.randint(1, MAX_CHARACTERS_PER_OUTPUT_TOKEN) for _ in range(max_tokens)]
        output = "x" * sum(tokens)
        # Stream chunks: consecutive runs of whole tokens.
        cuts = sorted(generator.sample(range(1, max_tokens), k=generator.randint(0, max_tokens - 1)))
        bounds = [0, *cuts, max_tokens]
        chunks = [sum(tokens[a:b]) for a, b in itertools.pairwise(bounds)]
        input_as_one = text_units(sum(characters(t) for t in texts))
        billed_stream = (
            input_as_one + sum(text_units(c) for c in chunks)
        ) * rates.every_policy_text_unit_nanos
        billed_converse = (input_as_one + text_units(len(output))) * rates.every_policy_text_unit_nanos
        guarded = request(*texts)
        assert billed_converse <= guardrail_worst_nanos(spec, guarded, max_tokens, stream=False)
        assert billed_stream <= guardrail_worst_nanos(spec, guarded, max_tokens, stream=True)


# -- the settings on the way to Bedrock -----------------------------------------------------------------


def test_the_gateway_asks_for_the_trace_and_knows_whether_the_caller_did() -> None:
    assert traced(GUARDRAIL) == {**GUARDRAIL, "trace": "enabled"}
    assert traced({**GUARDRAIL, "trace": "disabled"})["trace"] == "enabled"
    assert traced({**GUARDRAIL, "trace": "enabled_full"})["trace"] == "enabled_full"
    assert not caller_wants_trace(GUARDRAIL)
    assert not caller_wants_trace({**GUARDRAIL, "trace": "disabled"})
    assert caller_wants_trace({**GUARDRAIL, "trace": "enabled"})
    assert caller_wants_trace(None) is False
    kept = {"guardrail": {"inputAssessment": {}}, "promptRouter": {"invokedModelId": "m"}}
    assert without_guardrail_trace(kept) == {"promptRouter": {"invokedModelId": "m"}}
    assert without_guardrail_trace({"guardrail": {}}) is None


def test_guardrail_settings_bedrock_would_refuse_are_refused_first() -> None:
    check_guardrail_config({**GUARDRAIL, "trace": "enabled_full"}, stream=False)
    check_guardrail_config({**GUARDRAIL, "streamProcessingMode": "async"}, stream=True)
    with pytest.raises(BadRequest, match="trace must be one of enabled, disabled, enabled_full"):
        check_guardrail_config({**GUARDRAIL, "trace": "on"}, stream=False)
    with pytest.raises(BadRequest, match="ConverseStream only"):
        check_guardrail_config({**GUARDRAIL, "streamProcessingMode": "sync"}, stream=False)
    with pytest.raises(BadRequest, match="sync or async"):
        check_guardrail_config({**GUARDRAIL, "streamProcessingMode": "SYNCHRONOUS"}, stream=True)
