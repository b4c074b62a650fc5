"""Bedrock Converse / ConverseStream: request building, calls, and error mapping.

The client comes from a ``BedrockClients`` (one shared client by default; per-user STS sessions in
cost_sentry.adapters.sessions). Endpoints only ever come from the SDK's standard settings.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from cost_sentry.core.catalog import ModelSpec
from cost_sentry.core.converse import ConverseRequest
from cost_sentry.core.errors import (
    BadRequest,
    Forbidden,
    GatewayError,
    UpstreamFailed,
    UpstreamThrottled,
    UpstreamTimeout,
)
from cost_sentry.core.outcomes import CallEnd, may_retry
from cost_sentry.core.pricing import MalformedUsage, Usage, parse_usage
from cost_sentry.core.settings import Settings
from cost_sentry.core.tenants import TaggedTenant, TenantConfig, allocation_tags

# The SDK's own retries are off: botocore's standard mode also retries read timeouts, and a model call
# that timed out on our side may still run (and be billed) on Bedrock's, so a blind retry could pay
# twice for one recorded call. The gateway retries once itself, and only failures that guarantee no
# billable work happened (core/outcomes.py: throttled, or never sent). One retry, with a short
# jittered pause: every attempt runs while the tenant's budget is held, and a throttle that persists
# is better answered with a 429 the caller backs off on than with load on a shared quota.
BEDROCK_MAX_ATTEMPTS = 2
RETRY_PAUSE_SECONDS = (0.05, 0.25)

# Bedrock's error codes (lower case) -> how the call ended (core/outcomes.py decides what that costs).
# Only answers that prove the model did not run are refusals; a code we do not know is a server error.
_THROTTLED = {"throttlingexception", "toomanyrequestsexception", "modelnotreadyexception"}
_QUOTA = {"servicequotaexceededexception"}
_INVALID = {"validationexception"}
_DENIED = {"accessdeniedexception"}
_NOT_FOUND = {"resourcenotfoundexception"}
_TIMEOUT = {"modeltimeoutexception"}
_STREAM_EVENTS = ("messageStart", "contentBlockStart", "contentBlockStop", "messageStop")
_REFUSED_INVALID = _INVALID | _DENIED | _NOT_FOUND


class BedrockClients(Protocol):
    """Where the gateway gets a bedrock-runtime client for a call (per tenant and end user)."""

    def client_for(self, tenant: TenantConfig, user: str | None) -> Any: ...

    def principal_for(self, tenant: TenantConfig, user: str | None) -> str | None:
        """The IAM principal Bedrock records (CUR's line_item_iam_principal) for calls through
        `client_for(tenant, user)`; for the function's own role, its session's principal (OWN_PRINCIPAL)
        or None when it is not known."""
        ...


def bedrock_client_options(settings: Settings) -> dict[str, Any]:
    """botocore Config options of the bedrock-runtime clients: timeouts from settings, no SDK retries."""
    return {
        # SigV4 with the function's (or the per-user session's) credentials, always: a bearer token in
        # the environment (AWS_BEARER_TOKEN_BEDROCK, a caller's setting) must never become the gateway's.
        "signature_version": "v4",
        "connect_timeout": settings.bedrock_connect_timeout_seconds,
        "read_timeout": settings.bedrock_timeout_seconds,
        "retries": {"mode": "standard", "total_max_attempts": 1},
    }


def bedrock_client_config(settings: Settings) -> Any:
    from botocore.config import Config

    return Config(**bedrock_client_options(settings))


class SharedBedrockClients:
    """One bedrock-runtime client for every call, created on first use (botocore clients are thread-safe)."""

    def __init__(
        self,
        client: Any = None,
        *,
        client_config: Any = None,
        client_factory: Callable[[], Any] | None = None,
        own_principal: str | None = None,
    ) -> None:
        self._client = client
        self._config = client_config
        self._factory = client_factory
        self._own_principal = own_principal or None
        self._lock = threading.Lock()

    def client_for(self, tenant: TenantConfig, user: str | None) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._factory() if self._factory else self._default_client()
        return self._client

    def principal_for(self, tenant: TenantConfig, user: str | None) -> str | None:
        # Every call runs as the function's own role: its session's principal when Terraform gave it.
        return self._own_principal

    def _default_client(self) -> Any:
        import boto3

        return boto3.session.Session().client("bedrock-runtime", config=self._config)


def build_converse_request(
    model_arn: str,
    spec: ModelSpec,
    request: ConverseRequest,
    max_tokens: int,
    metadata: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The Converse/ConverseStream arguments. max_tokens is always sent: the reservation assumed it.

    ``metadata`` (tenant, user, request id) goes into requestMetadata beside the caller's own keys, so
    Bedrock's model invocation logs join the ledger's call records.
    """
    inference: dict[str, Any] = {"maxTokens": max_tokens}
    parameters = request.parameters
    # The SDK takes floats for sampling parameters; these are not money, so float is fine here.
    if parameters.temperature is not None:
        inference["temperature"] = float(parameters.temperature)
    if parameters.top_p is not None:
        inference["topP"] = float(parameters.top_p)
    if request.stop_sequences:
        inference["stopSequences"] = list(request.stop_sequences)
    arguments: dict[str, Any] = {"modelId": model_arn, **request.model_input(), "inferenceConfig": inference}
    fields: dict[str, Any] = dict(request.additional_fields or {})
    if parameters.top_k is not None:
        if spec.top_k_path is None:
            raise BadRequest("top_k_not_supported", f"{spec.short_name} does not accept top_k")
        *parents, leaf = spec.top_k_path
        node = fields
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = parameters.top_k
    if fields:
        arguments["additionalModelRequestFields"] = fields
    if request.service_tier is not None:
        arguments["serviceTier"] = {"type": request.service_tier}
    if request.response_field_paths:
        arguments["additionalModelResponseFieldPaths"] = list(request.response_field_paths)
    request_metadata = {**request.request_metadata, **(metadata or {})}
    if request_metadata:
        arguments["requestMetadata"] = request_metadata
    return arguments


def request_metadata(tenant: TaggedTenant, user: str | None, request_id: str, model: str) -> dict[str, str]:
    """Converse `requestMetadata`: Bedrock writes it into every model invocation log record, so a log
    line joins the ledger's call record (requestId) and CUR 2.0 (tenant tags, user). Values are a
    tenant's validated ids and the STS-session-safe user name, all inside Bedrock's allowed characters.
    """
    metadata = {
        "tenantId": tenant.tenant_id,
        **allocation_tags(tenant),
        "requestId": request_id,
        "model": model,  # the catalog's short name: prices the logged tokens exactly
    }
    if user:
        metadata["userId"] = user
    return metadata


@dataclass(frozen=True)
class ConverseResult:
    text: str
    input_tokens: int
    output_tokens: int
    stop_reason: str | None
    # The whole answer, for the surfaces that return more than text (tool use, reasoning).
    usage: Usage | None = None
    content: tuple[dict[str, Any], ...] = ()
    additional_fields: dict[str, Any] | None = None
    # Converse's ``trace`` as Bedrock returned it (the guardrail's assessments and their usage).
    trace: dict[str, Any] | None = None


@dataclass(frozen=True)
class TextDelta:
    text: str
    index: int = 0


@dataclass(frozen=True)
class RawEvent:
    """Any other ConverseStream event (messageStart, contentBlockStart/Stop, tool-use and reasoning
    deltas, messageStop), as botocore parsed it."""

    event: dict[str, Any]


@dataclass(frozen=True)
class StreamEnd:
    input_tokens: int
    output_tokens: int
    stop_reason: str | None
    usage: Usage | None = None
    trace: dict[str, Any] | None = None  # the metadata event's ``trace``


class UnreadableResponse(UpstreamFailed):
    """Bedrock answered (and so billed) but the answer cannot be read: the usage is unknown."""

    def __init__(self, message: str) -> None:
        super().__init__("bedrock_bad_response", message)


def _usage(usage: Any, service_tier: Any = None, trace: Any = None) -> Usage:
    try:
        return parse_usage(usage, service_tier, trace)
    except MalformedUsage as exc:
        raise UnreadableResponse(f"Bedrock returned unreadable token usage: {exc}") from None


class StreamEventException(Exception):
    """An exception Bedrock delivered inside a ConverseStream (e.g. ``modelStreamErrorException``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def _code_end(code: str) -> CallEnd:
    normalized = code.lower()
    if normalized in _THROTTLED:
        return CallEnd.THROTTLED
    if normalized in _QUOTA:
        return CallEnd.QUOTA_EXCEEDED
    if normalized in _REFUSED_INVALID:
        return CallEnd.REFUSED_INVALID
    return CallEnd.SERVER_ERROR


def call_end_of(exc: BaseException) -> CallEnd:
    """How a failed Converse/ConverseStream request ended, from what botocore raised (or what
    ``converse``/``open_stream`` raised, whose cause is the botocore error).

    Only a failure that proves nothing reached the model is a refusal or "not sent"; anything after the
    request may have left (a read timeout, a closed connection, an SSL error mid-read, an exception we
    do not know) may have been billed.
    """
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ProxyConnectionError,
        ReadTimeoutError,
    )

    if isinstance(exc, UnreadableResponse):
        return CallEnd.UNREADABLE_RESPONSE
    if isinstance(exc, GatewayError) and exc.__cause__ is not None:
        return call_end_of(exc.__cause__)
    if isinstance(exc, StreamEventException):
        return _code_end(exc.code)
    if isinstance(exc, ClientError):
        return _code_end(str(exc.response.get("Error", {}).get("Code", "")))
    if isinstance(exc, ReadTimeoutError):
        return CallEnd.READ_TIMEOUT
    if isinstance(exc, ConnectionClosedError):
        return CallEnd.CONNECTION_LOST
    # SSLError is a ConnectionError too, but urllib3 also raises it mid-read: not proof of "not sent".
    if isinstance(exc, ConnectTimeoutError | EndpointConnectionError | ProxyConnectionError):
        return CallEnd.NOT_SENT
    return CallEnd.SERVER_ERROR


def _call(
    operation: Callable[..., Any], arguments: dict[str, Any], sleep: Callable[[float], None] = time.sleep
) -> Any:
    for attempt in range(1, BEDROCK_MAX_ATTEMPTS + 1):
        try:
            return operation(**arguments)
        except Exception as exc:
            if attempt < BEDROCK_MAX_ATTEMPTS and may_retry(call_end_of(exc)):
                sleep(random.uniform(*RETRY_PAUSE_SECONDS))
                continue
            raise map_bedrock_error(exc) from exc
    raise AssertionError("unreachable")  # pragma: no cover


def converse(
    client: Any, arguments: dict[str, Any], sleep: Callable[[float], None] = time.sleep
) -> ConverseResult:
    response = _call(client.converse, arguments, sleep)
    try:
        content = response.get("output", {}).get("message", {}).get("content", [])
        text = "".join(str(block.get("text", "")) for block in content if isinstance(block, dict))
    except (AttributeError, TypeError):
        raise UnreadableResponse("Bedrock returned an unreadable message") from None
    usage = _usage(response.get("usage"), response.get("serviceTier"), response.get("trace"))
    return ConverseResult(
        text,
        usage.input_tokens,
        usage.output_tokens,
        response.get("stopReason"),
        usage=usage,
        content=tuple(block for block in content if isinstance(block, dict)),
        additional_fields=response.get("additionalModelResponseFields"),
        trace=response.get("trace"),
    )


def open_stream(client: Any, arguments: dict[str, Any], sleep: Callable[[float], None] = time.sleep) -> Any:
    """Start ConverseStream; errors before the first event (throttling, validation) surface here."""
    return _call(client.converse_stream, arguments, sleep)["stream"]


def iter_stream(stream: Any) -> Iterator[TextDelta | RawEvent | StreamEnd]:
    """Each event as it arrives (text deltas as TextDelta, the others as RawEvent), then one StreamEnd
    with the final usage; errors are mapped."""
    stop_reason: str | None = None
    try:
        for event in stream:
            if "contentBlockDelta" in event:
                delta = event["contentBlockDelta"].get("delta", {})
                if "text" in delta:
                    if delta["text"]:
                        yield TextDelta(
                            delta["text"], int(event["contentBlockDelta"].get("contentBlockIndex", 0))
                        )
                else:
                    yield RawEvent(event)
            elif "metadata" in event:
                metadata = event["metadata"]
                usage = _usage(metadata.get("usage"), metadata.get("serviceTier"), metadata.get("trace"))
                yield StreamEnd(
                    usage.input_tokens, usage.output_tokens, stop_reason, usage, metadata.get("trace")
                )
                return
            elif any(name in event for name in _STREAM_EVENTS):
                if "messageStop" in event:
                    stop_reason = event["messageStop"].get("stopReason")
                yield RawEvent(event)
            else:
                for name, value in event.items():
                    if name.endswith("Exception"):
                        cause = StreamEventException(name, str(value.get("message", value)))
                        raise _error_for_code(name, str(value.get("message", value))) from cause
    except GatewayError:
        raise
    except Exception as exc:
        raise map_bedrock_error(exc) from exc
    raise UpstreamFailed("bedrock_stream_incomplete", "the Bedrock stream ended without its usage metadata")


def _error_for_code(code: str, message: str) -> GatewayError:
    normalized = code.lower()
    if normalized in _THROTTLED | _QUOTA:
        return UpstreamThrottled("bedrock_throttled", f"Bedrock throttled the call: {message}")
    if normalized in _INVALID:
        return BadRequest("bedrock_validation", f"Bedrock refused the request: {message}")
    if normalized in _DENIED:
        # Bedrock's message names the calling principal (the invoker role): logged, not answered.
        return Forbidden(
            "model_access_denied", "Bedrock denied this tenant's role access to the model or its profile"
        )
    if normalized in _TIMEOUT:
        return UpstreamTimeout("bedrock_timeout", f"the model timed out: {message}")
    return UpstreamFailed("bedrock_failed", f"Bedrock failed ({code}); retry later")


def map_bedrock_error(exc: BaseException) -> GatewayError:
    """botocore errors -> the gateway's answer (docs/design.md section 5)."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, ReadTimeoutError):
        return UpstreamTimeout("bedrock_timeout", "Bedrock did not answer within the read timeout")
    if isinstance(exc, ConnectionClosedError):
        return UpstreamFailed("bedrock_connection_lost", "the connection to Bedrock closed before its answer")
    if isinstance(exc, ConnectTimeoutError | EndpointConnectionError):
        return UpstreamFailed("bedrock_unreachable", "Bedrock cannot be reached")
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return _error_for_code(str(error.get("Code", "Unknown")), str(error.get("Message", "")))
    return UpstreamFailed("bedrock_failed", f"the Bedrock call failed: {type(exc).__name__}")
