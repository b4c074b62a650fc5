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
  429  budget_exhausted, user_budget_exhausted, rate_limited, token_limit, too_many_in_flight,
       tenant_blocked (tenant and per-user limits, with Retry-After); too_many_new_sessions (new
       per-user sessions of a tenant per minute, with Retry-After); bedrock_throttled (the account's
       Bedrock quota)
  500  internal_error, gateway_misconfigured
  502  bedrock_failed, bedrock_unreachable, bedrock_connection_lost, bedrock_bad_response,
       bedrock_stream_incomplete
  503  ledger_unavailable, config_unavailable (and the attribution modules' session/profile errors)
  504  bedrock_timeout
"""

from __future__ import annotations


class GatewayError(Exception):
    """A request the gateway refuses or cannot complete."""

    status: int = 500

    def __init__(self, code: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers: dict[str, str] = dict(headers or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.code!r}, {self.message!r})"


class BadRequest(GatewayError):
    status = 400


class Unauthorized(GatewayError):
    status = 401


class Forbidden(GatewayError):
    status = 403


class NotFound(GatewayError):
    status = 404


class MethodNotAllowed(GatewayError):
    status = 405


class PayloadTooLarge(GatewayError):
    status = 413


class LimitExceeded(GatewayError):
    """A tenant limit denied the request; ``Retry-After`` says when trying again can succeed."""

    status = 429

    def __init__(self, code: str, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(code, message, headers={"Retry-After": str(retry_after_seconds)})
        self.retry_after_seconds = retry_after_seconds


class UpstreamThrottled(GatewayError):
    """Bedrock itself throttled the call (account quota), not a tenant limit."""

    status = 429


class UpstreamFailed(GatewayError):
    status = 502


class ServiceUnavailable(GatewayError):
    """A dependency of the gateway (the ledger or the config table) cannot be reached."""

    status = 503


class UpstreamTimeout(GatewayError):
    status = 504
