"""Every function's environment (docs/design.md section 6), parsed once at cold start into a frozen object.

One model for all of them: each setting is a field that names its variable, its parser and its default,
once; ``from_env`` reads the fields. The functions' settings nest by what they touch: the authorizer
reads the config table (``ConfigSettings``), the sweep the ledger too (``LedgerSettings``, whose hold
lifetime is the gateway's), the gateway (``Settings``) and the budget functions (``BudgetSettings``) add
their own. A wrong value fails at cold start with a message naming the variable, rather than on some
request later.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Self

from cost_sentry.core.names import DEFAULT_METRICS_NAMESPACE

# Reserve + settle + Lambda's own overhead around the Bedrock call (README, "Accepted requests can finish").
GATEWAY_OVERHEAD_SECONDS = 2
# A hold outlives the function timeout by this much: clock skew between hosts and the settle after the
# last byte.
HOLD_MARGIN_SECONDS = 30
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no", ""}


class SettingsError(ValueError):
    """The environment does not describe a runnable function."""


def _text(name: str, raw: str) -> str:
    return raw.strip()


def _flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {value}")
    return value


def _optional_seconds(name: str, raw: str) -> int | None:
    return _positive_int(name, raw) if raw.strip() else None


def _optional_text(name: str, raw: str) -> str | None:
    return raw.strip() or None


def _account_id(name: str, raw: str) -> str | None:
    value = raw.strip() or None
    if value is not None and not re.fullmatch(r"\d{12}", value):
        raise SettingsError(f"{name} must be 12 digits, got {value!r}")
    return value


def _resolver(name: str, raw: str) -> str:
    value = raw.strip().lower() or "static"
    if value not in {"static", "dynamic"}:
        raise SettingsError(f"{name} must be static or dynamic, got {value!r}")
    return value


def env(
    variable: str,
    parse: Callable[[str, str], Any] = _text,
    default: Any = MISSING,
    *,
    required_because: str = "",
) -> Any:
    """A setting read from ``variable``: unset (or blank) means ``default``; without one it is required."""
    metadata = {"variable": variable, "parse": parse, "required_because": required_because}
    return field(default=default, metadata=metadata)


@dataclass(frozen=True, kw_only=True)
class FromEnvironment:
    """The parsing every settings class shares: each field names its variable (``env``)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        source = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        missing: list[str] = []
        for setting in fields(cls):
            variable = setting.metadata["variable"]
            raw = source.get(variable, "")
            if raw.strip():
                values[setting.name] = setting.metadata["parse"](variable, raw)
            elif setting.default is MISSING:
                missing.append(f"{variable} ({setting.metadata['required_because']})")
            else:
                # A blank value means the default, and still passes the parser's checks.
                values[setting.name] = setting.default
        if missing:
            raise SettingsError(f"missing environment: {', '.join(missing)}")
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Rules across settings; a subclass adds its own."""


@dataclass(frozen=True, kw_only=True)
class ConfigSettings(FromEnvironment):
    """What every function that reads tenants needs: the config table (the authorizer needs no more)."""

    config_table: str = env("CONFIG_TABLE", required_because="the tenant config table's name")
    # How long a config read is trusted before the next one (cost_sentry.adapters.config_store).
    config_refresh_seconds: int = env("CONFIG_REFRESH_SECONDS", _positive_int, 300)
    metrics_namespace: str = env("METRICS_NAMESPACE", default=DEFAULT_METRICS_NAMESPACE)


@dataclass(frozen=True, kw_only=True)
class LedgerSettings(ConfigSettings):
    """Functions that write the ledger: the gateway, the sweep and the budget functions."""

    ledger_table: str = env("LEDGER_TABLE", required_because="the ledger table's name")
    # The function timeout: a hold lives this long (plus a margin) before another request may reclaim it.
    max_request_seconds: int = env("MAX_REQUEST_SECONDS", _positive_int, 300)
    call_record_retention_days: int = env("CALL_RECORD_RETENTION_DAYS", _positive_int, 400)

    @property
    def hold_lifetime_seconds(self) -> int:
        return self.max_request_seconds + HOLD_MARGIN_SECONDS


@dataclass(frozen=True, kw_only=True)
class Settings(LedgerSettings):
    """The gateway function's settings (the buffered and the streaming function alike)."""

    log_prompts: bool = env("LOG_PROMPTS", _flag, False)
    # Read timeout of one Bedrock call; connect timeout is short because a slow TCP connect means trouble.
    bedrock_timeout_seconds: int = env("BEDROCK_TIMEOUT_SECONDS", _positive_int, 60)
    bedrock_connect_timeout_seconds: int = env("BEDROCK_CONNECT_TIMEOUT_SECONDS", _positive_int, 5)
    max_body_bytes: int = env("MAX_BODY_BYTES", _positive_int, 262_144)
    profile_resolver: str = env("PROFILE_RESOLVER", _resolver, "static")
    per_user_sessions: bool = env("PER_USER_SESSIONS", _flag, False)
    # The principal Bedrock records (CUR 2.0's line_item_iam_principal) for calls made with the function's
    # own role (no per-user session): written into the call records so the ledger joins the bill.
    own_principal: str = env("OWN_PRINCIPAL", default="")
    # How long API Gateway waits for an answer. Every model route runs in the streaming function
    # (responseTransferMode STREAM, /v1/converse too, whose body is one piece: API Gateway's 29 s limit
    # applies only to buffered integrations), so each is bounded by that function's timeout only. The
    # gateway refuses what cannot finish in time.
    stream_timeout_seconds: int | None = env("STREAM_TIMEOUT_SECONDS", _optional_seconds, None)
    # Per-user sessions: new STS sessions one tenant may open per UTC minute (adapters/sessions.py).
    new_sessions_per_minute: int = env("NEW_SESSIONS_PER_MINUTE", _positive_int, 60)

    def generation_limit_seconds(self) -> int:
        """How long the model may take to generate: the streaming integration's limit, never past the
        function timeout, less the time the gateway needs around the call (reserve, settle, answer)."""
        route = self.stream_timeout_seconds or self.max_request_seconds
        return min(route, self.max_request_seconds) - GATEWAY_OVERHEAD_SECONDS

    def check(self) -> None:
        if self.generation_limit_seconds() <= 0:
            raise SettingsError(
                "STREAM_TIMEOUT_SECONDS and MAX_REQUEST_SECONDS must leave more "
                f"than {GATEWAY_OVERHEAD_SECONDS} s for the model"
            )


@dataclass(frozen=True, kw_only=True)
class BudgetSettings(LedgerSettings):
    """The budget sync and budget alert functions."""

    budget_name_prefix: str = env("BUDGET_NAME_PREFIX", required_because="the prefix of the tenants' budgets")
    # The account that owns the budgets; when unset, the function's own account (STS GetCallerIdentity).
    account_id: str | None = env("BUDGETS_ACCOUNT_ID", _account_id, None)
    # The budgets SNS topic: the alert function acts only on messages this topic delivered.
    budget_topic_arn: str | None = env("BUDGET_TOPIC_ARN", _optional_text, None)


# Requests one container process serves at once: each holds a thread for its whole Bedrock call.
DEFAULT_GATEWAY_THREADS = 64


@dataclass(frozen=True, kw_only=True)
class ServerSettings(FromEnvironment):
    """What only the container deployment (cost_sentry.handlers.asgi) needs beside ``Settings``: a Lambda
    sandbox serves one request at a time, a container process many."""

    # The thread pool the blocking service runs in, and the HTTP connections of each AWS client.
    threads: int = env("GATEWAY_THREADS", _positive_int, DEFAULT_GATEWAY_THREADS)
