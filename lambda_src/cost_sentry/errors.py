"""Errors the gateway answers with: each carries its HTTP status, a stable code and a precise message.

Every error reaches the caller as ``{"error": {"code", "message", "requestId"}}`` (docs/design.md
section 5). Codes are stable API: clients branch on them, so a code is never reused for another cause.
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
