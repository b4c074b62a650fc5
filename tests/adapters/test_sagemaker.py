"""SAGEMAKER_ENDPOINTS parsing, the catalog entry it adds and the Converse <-> OpenAI chat mapping."""

from __future__ import annotations

import json

import pytest

from cost_sentry.adapters.bedrock import UnreadableResponse
from cost_sentry.adapters.sagemaker import (
    SageMakerConfigError,
    chat_body,
    converse_result,
    endpoints_from_env,
    extend_catalog,
)
from cost_sentry.core.catalog import default_catalog

ENTRY = {
    "endpointName": "cs-shared-llm",
    "endpointArn": "arn:aws:sagemaker:us-east-1:111111111111:endpoint/cs-shared-llm",
    "inputPerMillionUsd": "0.20",
    "outputPerMillionUsd": 0.8,
    "maxOutputTokens": 2048,
    "tenants": ["sales"],
}


def test_an_endpoint_becomes_a_catalog_model_at_its_exact_rate() -> None:
    endpoints = endpoints_from_env({"SAGEMAKER_ENDPOINTS": json.dumps({"shared-llm": ENTRY})})

    catalog = extend_catalog(default_catalog(), endpoints)

    spec = catalog.get("shared-llm")
    assert (spec.input_nanos_per_token, spec.output_nanos_per_token) == (200, 800)
    assert (
        spec.model_id == ENTRY["endpointArn"] and spec.max_output_tokens == 2048 and spec.top_k_path is None
    )
    assert "claude-3-haiku" in catalog.models


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not json", "is not JSON"),
        (
            json.dumps({"x": {**ENTRY, "endpointArn": "arn:aws:sagemaker:us-east-1:1:endpoint/other"}}),
            "is not the ARN",
        ),
        (json.dumps({"x": {**ENTRY, "inputPerMillionUsd": "cheap"}}), "inputPerMillionUsd"),
        (json.dumps({"x": {k: v for k, v in ENTRY.items() if k != "maxOutputTokens"}}), "maxOutputTokens"),
    ],
)
def test_a_bad_configuration_names_what_to_fix(document: str, message: str) -> None:
    with pytest.raises(SageMakerConfigError, match=message):
        endpoints_from_env({"SAGEMAKER_ENDPOINTS": document})


def test_a_name_taken_by_a_bedrock_model_is_refused() -> None:
    endpoints = endpoints_from_env({"SAGEMAKER_ENDPOINTS": json.dumps({"claude-3-haiku": ENTRY})})
    with pytest.raises(SageMakerConfigError, match="clash"):
        extend_catalog(default_catalog(), endpoints)


def test_no_configuration_means_no_endpoints() -> None:
    assert endpoints_from_env({}) == {}


def test_converse_arguments_map_to_a_chat_body_and_back() -> None:
    arguments = {
        "modelId": ENTRY["endpointArn"],
        "system": [{"text": "Be brief."}],
        "messages": [{"role": "user", "content": [{"text": "Hi"}, {"text": " there"}]}],
        "inferenceConfig": {"maxTokens": 64, "topP": 0.9},
        "requestMetadata": {"tenantId": "sales", "requestId": "r1"},
    }
    assert chat_body(arguments, "llama") == {
        "model": "llama",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}],
        "max_tokens": 64,
        "top_p": 0.9,
    }
    answer = {
        "choices": [{"message": {"role": "assistant", "content": "Hello"}, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 64},
    }
    assert converse_result(json.dumps(answer).encode()) == {
        "output": {"message": {"role": "assistant", "content": [{"text": "Hello"}]}},
        "stopReason": "max_tokens",
        "usage": {"inputTokens": 12, "outputTokens": 64, "totalTokens": 76},
    }


def test_an_answer_without_usage_is_unreadable() -> None:
    with pytest.raises(UnreadableResponse):
        converse_result(json.dumps({"choices": [{"message": {"content": "x"}}]}).encode())
