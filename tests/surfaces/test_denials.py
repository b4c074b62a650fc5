"""Every "no" renders the same way on every surface: a final denial (core/errors.FINAL_DENIALS) never asks
for a retry and says when the limit resets; a rate-limit denial keeps its short Retry-After. The SDKs
themselves are driven over HTTP in tests/integration/test_sdk_denials.py."""

from __future__ import annotations

import json

import pytest

from cost_sentry.core.errors import (
    FINAL_DENIALS,
    RESETS_AT_HEADER,
    LimitExceeded,
    UpstreamThrottled,
    is_final_denial,
)
from cost_sentry.surfaces import anthropic, bedrock_runtime, json_api, openai
from cost_sentry.surfaces.json_api import error_body

NOW = 1_764_547_200  # 2025-12-01T00:00:00Z
RENDERERS = {
    "openai": openai.error_response,
    "anthropic": anthropic.error_response,
    "bedrock": bedrock_runtime.error_response,
    "json-api": json_api.error_response,
}


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def test_the_table_names_the_four_limits_no_retry_can_cure() -> None:
    assert {"budget_exhausted", "user_budget_exhausted", "token_limit", "tenant_blocked"} == FINAL_DENIALS
    for code in ("rate_limited", "too_many_in_flight", "too_many_new_sessions", "bedrock_throttled"):
        assert not is_final_denial(code)


@pytest.mark.parametrize("code", sorted(FINAL_DENIALS))
def test_a_final_denial_carries_its_reset_and_no_retry_after(code: str) -> None:
    denial = LimitExceeded(code, "no", retry_after_seconds=3600, now=NOW)

    assert denial.final
    assert denial.headers == {"x-should-retry": "false", RESETS_AT_HEADER: "2025-12-01T01:00:00Z"}
    assert denial.details == {"resetsAt": "2025-12-01T01:00:00Z", "resetInSeconds": 3600}
    assert error_body(denial, "r1")["error"] == {
        "code": code,
        "message": "no",
        "resetsAt": "2025-12-01T01:00:00Z",
        "resetInSeconds": 3600,
        "requestId": "r1",
    }


@pytest.mark.parametrize("surface", sorted(RENDERERS))
def test_every_surface_renders_a_final_denial_as_final(surface: str) -> None:
    denial = LimitExceeded("budget_exhausted", "spent", retry_after_seconds=60, now=NOW)
    for error in (denial,):
        response = RENDERERS[surface](error, "r1")
        headers = lower(response.headers)
        document = json.loads(response.body)
        fields = document if surface == "bedrock" else document["error"]
        assert "retry-after" not in headers and "retry-after-ms" not in headers
        assert headers["x-should-retry"] == "false"
        assert headers[RESETS_AT_HEADER] == fields["resetsAt"] == "2025-12-01T00:01:00Z"
        assert fields["resetInSeconds"] == 60
        if surface == "bedrock":
            # What Bedrock answers for a quota the caller cannot wait out: botocore and the JS SDK do
            # not retry it (they retry every 429 and every throttling name).
            assert (response.status, headers["x-amzn-errortype"]) == (400, "ServiceQuotaExceededException")
        else:
            assert response.status == 429


def test_the_seed_api_renders_a_final_denial_as_final() -> None:
    denial = LimitExceeded("tenant_blocked", "blocked", retry_after_seconds=10, now=NOW)

    response = json_api.error_response(denial, "r1").to_proxy()

    assert response["statusCode"] == 429
    assert "Retry-After" not in response["headers"]
    assert response["headers"]["x-should-retry"] == "false"
    assert json.loads(response["body"])["error"]["resetsAt"] == "2025-12-01T00:00:10Z"


@pytest.mark.parametrize("surface", sorted(RENDERERS))
def test_a_rate_limit_keeps_a_short_retry_after_everywhere(surface: str) -> None:
    for error in (
        LimitExceeded("rate_limited", "slow down", retry_after_seconds=12),
        UpstreamThrottled("bedrock_throttled", "Bedrock throttled the call"),
    ):
        response = RENDERERS[surface](error, "r1")
        headers = lower(response.headers)

        assert response.status == 429
        assert 1 <= int(headers["retry-after"]) <= 60
        assert "x-should-retry" not in headers and RESETS_AT_HEADER not in headers
        if surface == "bedrock":
            assert headers["x-amzn-errortype"] == "ThrottlingException"


@pytest.mark.parametrize("surface", sorted(RENDERERS))
def test_a_pace_denial_is_final_when_far_and_retryable_when_near_on_every_surface(surface: str) -> None:
    far = LimitExceeded("pace_exceeded", "paced", retry_after_seconds=3_600, now=NOW)
    near = LimitExceeded("pace_exceeded", "paced", retry_after_seconds=12, now=NOW)

    for error in (far,):
        response = RENDERERS[surface](error, "r1")
        headers = lower(response.headers)
        assert "retry-after" not in headers and headers["x-should-retry"] == "false"
        assert headers[RESETS_AT_HEADER] == "2025-12-01T01:00:00Z"
        if surface == "bedrock":
            assert (response.status, headers["x-amzn-errortype"]) == (400, "ServiceQuotaExceededException")
        else:
            assert response.status == 429
    for error in (near,):
        response = RENDERERS[surface](error, "r1")
        headers = lower(response.headers)
        assert response.status == 429 and headers["retry-after"] == "12"
        assert "x-should-retry" not in headers
        if surface == "bedrock":
            assert headers["x-amzn-errortype"] == "ThrottlingException"
