"""Errors the gateway answers with: each carries its HTTP status, a stable code and a precise message.

Every error reaches the caller as ``{"error": {"code", "message", "requestId"}}`` (docs/design.md
section 5). Codes are stable API: clients branch on them, so a code is never reused for another cause.

  400  invalid_json, body_not_object, invalid_body_encoding, unknown_field, missing_messages,
       invalid_message, invalid_role, empty_content, role_order, invalid_parameter, unknown_parameter,
       max_tokens_above_model_limit, generation_too_long, top_k_not_supported, missing_tag, invalid_tag,
       unknown_tag, invalid_user, invalid_unicode, invalid_model, unknown_model, model_not_allowed,
       bedrock_validation; the content model (core/converse.py, the SDK surfaces): invalid_field,
       invalid_content, unsupported_content, content_too_large, invalid_tools, reserved_metadata,
       unsupported_field, unsupported_body, cache_not_supported, service_tier_not_supported,
       tools_not_supported
  401  missing_api_key, unknown_api_key (and the authorizer's refusal of any invalid, expired or revoked
       credential: per-user key or OIDC token, docs/design.md section 9)
  403  tag_mismatch, model_access_denied, profile_not_allowed (another tenant's inference profile),
       user_required (per-user budgets and no user), user_mismatch (a header naming someone other than
       the credential's user)
  404  not_found          405  method_not_allowed          413  body_too_large
  429  final (FINAL_DENIALS: no retry helps before the limit resets; no Retry-After, x-should-retry:
       false, resetsAt/resetInSeconds in the body and RESETS_AT_HEADER; the Bedrock surface answers
       them as 400 ServiceQuotaExceededException): budget_exhausted, user_budget_exhausted, token_limit,
       tenant_blocked; pace_exceeded (the budget's pace) is retryable when the pace admits the request
       within PACE_RETRY_WITHIN_SECONDS, final otherwise; retryable (a true, short Retry-After):
       rate_limited, too_many_in_flight,
       too_many_new_sessions (new per-user sessions of a tenant per minute), bedrock_throttled (the
       account's Bedrock quota)
  500  internal_error, gateway_misconfigured
  502  bedrock_failed, bedrock_unreachable, bedrock_connection_lost, bedrock_bad_response,
       bedrock_stream_incomplete
  503  ledger_unavailable, config_unavailable (and the attribution modules' session/profile errors)
  504  bedrock_timeout
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

# Denials no retry can cure before the limit resets (the period ends, the budget is raised, or
# outstanding reservations settle): the one table every surface renders finality from. A final
# denial carries no Retry-After (the anthropic package sleeps for whatever it says: 27 days for a
# monthly budget), "x-should-retry: false" (read by the openai and anthropic packages), and the
# reset time in the body (resetsAt, resetInSeconds) and in RESETS_AT_HEADER. The Bedrock surface
# answers it as Bedrock answers a quota the caller cannot wait out, 400 ServiceQuotaExceededException:
# botocore (legacy and standard modes) and the AWS SDK for JavaScript v3 retry every HTTP 429 and
# every throttling error name, never a 400 of that name. Every other LimitExceeded (rate_limited,
# too_many_in_flight, too_many_new_sessions) keeps its short Retry-After and stays retryable.
FINAL_DENIALS = frozenset({"budget_exhausted", "user_budget_exhausted", "token_limit", "tenant_blocked"})
RESETS_AT_HEADER = "x-cost-sentry-budget-resets-at"
PACE_EXCEEDED = "pace_exceeded"
SHOULD_RETRY_HEADER = "x-should-retry"
# Seconds a caller waits after Bedrock throttled the account: Bedrock gives no hint, its quotas are
# per-minute token buckets, and one second is what the SDKs' own first backoff waits.
UPSTREAM_THROTTLED_RETRY_AFTER_SECONDS = 1


# A pace denial (pace_exceeded) names a real moment: when the elapsed share of the limit will cover the
# request. When that is at most this far off, the denial is retryable with that true Retry-After (the
# openai package honours a Retry-After up to 60 s, the anthropic package any; botocore's own backoff
# retries a 429 for up to about 20 s); further off, it is final like a budget's, with the moment in
# resetsAt, so no SDK sleeps for hours or spends its retries on a certain "no".
PACE_RETRY_WITHIN_SECONDS = 60


def is_final_denial(code: str) -> bool:
    return code in FINAL_DENIALS


def is_final(error: GatewayError) -> bool:
    """Whether a denial is final: its code says so (FINAL_DENIALS), or the denial itself did (a pace
    denial far from its moment); the header survives the service's answer being rebuilt as an error."""
    if is_final_denial(error.code):
        return True
    return any(
        name.lower() == SHOULD_RETRY_HEADER and value == "false" for name, value in error.headers.items()
    )


def iso_time(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(int(epoch_seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class GatewayError(Exception):
    """A request the gateway refuses or cannot complete.

    A subclass states its HTTP status in its declaration line (``class NotFound(GatewayError,
    status=404)``): the classes below read as the table of statuses, and a status has one way to be set.
    """

    status: int = 500

    def __init_subclass__(cls, status: int | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status

    def __init__(
        self,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers: dict[str, str] = dict(headers or {})
        # Fields beside code and message in every surface's error document (a final denial's reset).
        self.details: dict[str, Any] = dict(details or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.code!r}, {self.message!r})"


class BadRequest(GatewayError, status=400): ...


class Unauthorized(GatewayError, status=401): ...


class Forbidden(GatewayError, status=403): ...


class NotFound(GatewayError, status=404): ...


class MethodNotAllowed(GatewayError, status=405): ...


class PayloadTooLarge(GatewayError, status=413): ...


class LimitExceeded(GatewayError, status=429):
    """A tenant limit denied the request; ``retry_after_seconds`` says when trying again can succeed.

    Whether the denial is final is the code's (FINAL_DENIALS), or for a pace denial how far off its
    moment is (PACE_RETRY_WITHIN_SECONDS): a final one tells the caller when the limit resets (``now``
    + ``retry_after_seconds``; ``now`` defaults to the wall clock) instead of asking it to retry; any
    other carries ``Retry-After``.
    """

    def __init__(
        self, code: str, message: str, *, retry_after_seconds: int, now: float | None = None
    ) -> None:
        self.retry_after_seconds = retry_after_seconds
        self.final = is_final_denial(code) or (
            code == PACE_EXCEEDED and retry_after_seconds > PACE_RETRY_WITHIN_SECONDS
        )
        if not self.final:
            super().__init__(code, message, headers={"Retry-After": str(retry_after_seconds)})
            return
        resets_at = iso_time((time.time() if now is None else now) + retry_after_seconds)
        super().__init__(
            code,
            message,
            headers={SHOULD_RETRY_HEADER: "false", RESETS_AT_HEADER: resets_at},
            details={"resetsAt": resets_at, "resetInSeconds": retry_after_seconds},
        )


class UpstreamThrottled(GatewayError, status=429):
    """Bedrock itself throttled the call (account quota), not a tenant limit: retryable, shortly."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, headers={"Retry-After": str(UPSTREAM_THROTTLED_RETRY_AFTER_SECONDS)})


class UpstreamFailed(GatewayError, status=502): ...


class ServiceUnavailable(GatewayError, status=503):
    """A dependency of the gateway (the ledger or the config table) cannot be reached."""


class UpstreamTimeout(GatewayError, status=504): ...
