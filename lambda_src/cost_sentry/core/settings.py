"""The gateway's environment (docs/design.md section 6), parsed once into a frozen object.

A wrong value fails at cold start with a message naming the variable, rather than on some request later.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from cost_sentry.core.names import DEFAULT_METRICS_NAMESPACE

_TRUE = {"true", "1", "yes"}
# Reserve + settle + Lambda's own overhead around the Bedrock call (README, "Accepted requests can finish").
GATEWAY_OVERHEAD_SECONDS = 2
_FALSE = {"false", "0", "no", ""}


class SettingsError(ValueError):
    """The environment does not describe a runnable gateway."""


def _flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {value}")
    return value


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} is required (the DynamoDB table name)")
    return value


@dataclass(frozen=True)
class Settings:
    ledger_table: str
    config_table: str
    metrics_namespace: str = DEFAULT_METRICS_NAMESPACE
    log_prompts: bool = False
    # The function timeout: a hold lives this long (plus a margin) before another request may reclaim it.
    max_request_seconds: int = 120
    # Read timeout of one Bedrock call; connect timeout is short because a slow TCP connect means trouble.
    bedrock_timeout_seconds: int = 60
    bedrock_connect_timeout_seconds: int = 5
    max_body_bytes: int = 262_144
    config_refresh_seconds: int = 300
    profile_resolver: str = "static"
    per_user_sessions: bool = False
    # The principal Bedrock records (CUR 2.0's line_item_iam_principal) for calls made with the function's
    # own role (no per-user session): written into the call records so the ledger joins the bill.
    own_principal: str = ""
    call_record_retention_days: int = 400
    # How long API Gateway waits for an answer. Every model route runs in the streaming function
    # (responseTransferMode STREAM, /v1/converse too, whose body is one piece: API Gateway's 29 s limit
    # applies only to buffered integrations), so each is bounded by that function's timeout only. The
    # gateway refuses what cannot finish in time.
    stream_timeout_seconds: int | None = None
    # Per-user sessions: new STS sessions one tenant may open per UTC minute (adapters/sessions.py).
    new_sessions_per_minute: int = 60

    @property
    def hold_lifetime_seconds(self) -> int:
        # The margin covers clock skew between Lambda hosts and the time to settle after the last byte.
        return self.max_request_seconds + 30

    def generation_limit_seconds(self) -> int:
        """How long the model may take to generate: the streaming integration's limit, never past the
        function timeout, less the time the gateway needs around the call (reserve, settle, answer)."""
        route = self.stream_timeout_seconds or self.max_request_seconds
        return min(route, self.max_request_seconds) - GATEWAY_OVERHEAD_SECONDS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        resolver = env.get("PROFILE_RESOLVER", "static").strip().lower() or "static"
        if resolver not in {"static", "dynamic"}:
            raise SettingsError(f"PROFILE_RESOLVER must be static or dynamic, got {resolver!r}")
        settings = cls(
            ledger_table=_required(env, "LEDGER_TABLE"),
            config_table=_required(env, "CONFIG_TABLE"),
            metrics_namespace=env.get("METRICS_NAMESPACE", "").strip() or DEFAULT_METRICS_NAMESPACE,
            log_prompts=_flag(env, "LOG_PROMPTS", False),
            max_request_seconds=_positive_int(env, "MAX_REQUEST_SECONDS", 300),
            bedrock_timeout_seconds=_positive_int(env, "BEDROCK_TIMEOUT_SECONDS", 60),
            bedrock_connect_timeout_seconds=_positive_int(env, "BEDROCK_CONNECT_TIMEOUT_SECONDS", 5),
            max_body_bytes=_positive_int(env, "MAX_BODY_BYTES", 262_144),
            config_refresh_seconds=_positive_int(env, "CONFIG_REFRESH_SECONDS", 300),
            profile_resolver=resolver,
            per_user_sessions=_flag(env, "PER_USER_SESSIONS", False),
            own_principal=env.get("OWN_PRINCIPAL", "").strip(),
            call_record_retention_days=_positive_int(env, "CALL_RECORD_RETENTION_DAYS", 400),
            stream_timeout_seconds=_positive_int(env, "STREAM_TIMEOUT_SECONDS", 0) or None,
            new_sessions_per_minute=_positive_int(env, "NEW_SESSIONS_PER_MINUTE", 60),
        )
        if settings.generation_limit_seconds() <= 0:
            raise SettingsError(
                "STREAM_TIMEOUT_SECONDS and MAX_REQUEST_SECONDS must leave more "
                f"than {GATEWAY_OVERHEAD_SECONDS} s for the model"
            )
        return settings


# Requests one container process serves at once: each holds a thread for its whole Bedrock call.
DEFAULT_GATEWAY_THREADS = 64


@dataclass(frozen=True)
class ServerSettings:
    """What only the container deployment (cost_sentry.handlers.asgi) needs beside ``Settings``: a Lambda
    sandbox serves one request at a time, a container process many."""

    # The thread pool the blocking service runs in, and the HTTP connections of each AWS client.
    threads: int = DEFAULT_GATEWAY_THREADS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServerSettings:
        env = os.environ if environ is None else environ
        return cls(threads=_positive_int(env, "GATEWAY_THREADS", DEFAULT_GATEWAY_THREADS))
