"""The Bedrock runtime surface: ``POST /model/{modelId}/converse`` and ``/converse-stream``.

Wire-compatible with bedrock-runtime's rest-json protocol, so boto3 / the AWS SDKs / LangChain's
ChatBedrockConverse work unchanged with ``endpoint_url`` set to the gateway and the tenant's key as
``AWS_BEARER_TOKEN_BEDROCK``. ``modelId`` may be a short name, an alias, a base model id, a system
inference profile id, or the tenant's own application inference profile ARN (percent-encoded in the
path). Errors answer in Bedrock's shape (``x-amzn-ErrorType`` + ``{"message"}``); ConverseStream answers
``application/vnd.amazon.eventstream`` frames, an error after the first frame as an exception frame.

``InvokeModel`` / ``InvokeModelWithResponseStream`` (``/invoke``, ``/invoke-with-response-stream``) take
the model family's own body: Anthropic Messages (``anthropic_version: bedrock-2023-05-31``) for Anthropic
models, read by the Anthropic surface's parser, and Amazon Nova's ``messages-v1`` for Nova models, read
by ``parse_converse`` (it is Converse's JSON plus ``schemaVersion``, ``topK`` and ``max_new_tokens``).
Either runs through Converse, so its usage is metered exactly like every other call, and the answer comes
back in the family's InvokeModel format (streams: ``chunk`` events whose ``bytes`` are the Messages
stream events, or Nova's, the last chunk with ``amazon-bedrock-invocationMetrics``). The family is the
model's when ``modelId`` names a catalog model, else the body's; the model the gateway then resolves (an
alias, a profile ARN) must be of that family. InvokeModel's headers (service tier, guardrail) apply to
both. Other models and bodies, Nova video and audio, and latency-optimized inference are refused with a
400 that says what to send instead, before anything is reserved.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import unquote

from cost_sentry.core.catalog import Catalog, ModelSpec
from cost_sentry.core.converse import (
    UNPRICED_FIELDS,
    ConverseRequest,
    parse_converse,
    parse_guardrail_config,
    parse_service_tier,
    whole,
)
from cost_sentry.core.errors import BadRequest, GatewayError, MethodNotAllowed, NotFound, is_final
from cost_sentry.core.pricing import Usage
from cost_sentry.core.validation import TOP_K_MAX, parse_body
from cost_sentry.service.gateway import GatewayService
from cost_sentry.service.results import Completion, Done, StreamEvent, converse_event
from cost_sentry.surfaces import anthropic, http
from cost_sentry.surfaces.eventstream import encode_event, encode_exception
from cost_sentry.surfaces.surface import Exchange, Incoming, Surface

PATH = re.compile(
    r"^/model/(?P<model>[^/]+)/(?P<action>converse|converse-stream|invoke|invoke-with-response-stream)$"
)
STREAMING_ACTIONS = ("converse-stream", "invoke-with-response-stream")
ANTHROPIC_VERSION = "bedrock-2023-05-31"
NOVA_SCHEMA_VERSION = "messages-v1"
EVENTSTREAM = "application/vnd.amazon.eventstream"

# GatewayError status -> Bedrock's error type (botocore reads the error code from x-amzn-ErrorType).
_ERROR_TYPES = {
    400: "ValidationException",
    401: "UnrecognizedClientException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    405: "ValidationException",
    413: "ValidationException",
    429: "ThrottlingException",
    500: "InternalServerException",
    502: "InternalServerException",
    503: "ServiceUnavailableException",
    504: "ModelTimeoutException",
}
# A final denial (core/errors.FINAL_DENIALS): neither botocore nor the AWS SDK for JavaScript v3 retries
# this type with this status, as they do every 429 and every throttling name.
FINAL_DENIAL_TYPE = "ServiceQuotaExceededException"
FINAL_DENIAL_STATUS = 400
# An error after the first frame, as ConverseStream's modelled exception events name it.
_STREAM_EXCEPTIONS_BY_CODE = {
    "bedrock_throttled": "throttlingException",
    "bedrock_validation": "validationException",
    "bedrock_timeout": "modelStreamErrorException",
    "bedrock_stream_incomplete": "modelStreamErrorException",
}


def matches(path: str) -> bool:
    return PATH.match(path) is not None


def error_type(error: GatewayError) -> str:
    if is_final(error):
        return FINAL_DENIAL_TYPE
    return _ERROR_TYPES.get(error.status, "InternalServerException")


def error_status(error: GatewayError) -> int:
    """A final denial is Bedrock's answer to a quota the caller cannot wait out (core/errors.py)."""
    return FINAL_DENIAL_STATUS if is_final(error) else error.status


def error_response(error: GatewayError, request_id: str) -> http.HttpResponse:
    response = http.json_response(
        error_status(error),
        {"message": error.message, "code": error.code, **error.details},
        request_id,
        {"x-amzn-ErrorType": error_type(error), "x-amzn-RequestId": request_id, **http.error_headers(error)},
    )
    return response


def model_id_of(request: http.HttpRequest) -> tuple[str, str]:
    """(the decoded modelId, the action). API Gateway decodes path parameters itself."""
    match = PATH.match(request.path)
    if match is None:
        raise NotFound("not_found", f"no route {request.path!r}")
    model = request.path_parameters.get("modelId") or unquote(match["model"])
    return model, match["action"]


def _parser(model_id: str) -> Callable[[bytes, int], ConverseRequest]:
    def parse(body: bytes, max_body_bytes: int) -> ConverseRequest:
        return parse_converse(parse_body(body, max_body_bytes), model_id)

    return parse


def usage_document(usage: Usage) -> dict[str, Any]:
    """Converse's ``usage`` as Bedrock reported it (the cache fields included)."""
    document: dict[str, Any] = {
        "inputTokens": usage.input_tokens,
        "outputTokens": usage.output_tokens,
        "totalTokens": usage.total_tokens,
    }
    if usage.cache_read_tokens or usage.cache_write_tokens:
        document["cacheReadInputTokens"] = usage.cache_read_tokens
        document["cacheWriteInputTokens"] = usage.cache_write_tokens
        details = [
            {"ttl": ttl, "inputTokens": tokens}
            for ttl, tokens in (("5m", usage.cache_write_5m_tokens), ("1h", usage.cache_write_1h_tokens))
            if tokens
        ]
        if details:
            document["cacheDetails"] = details
    return document


# -- InvokeModel: the body format is the model family's own ----------------------------------------

# What each family's InvokeModel body is, as the refusals name it.
BODY_FORMATS = {
    "anthropic": f"an Anthropic Messages body (anthropic_version {ANTHROPIC_VERSION!r}, max_tokens, messages)",
    "nova": f"an Amazon Nova body (schemaVersion {NOVA_SCHEMA_VERSION!r}, messages of content blocks, "
    "inferenceConfig)",
}
FAMILY_NAMES = {"anthropic": "an Anthropic", "nova": "an Amazon Nova"}
NOVA_FIELDS = frozenset({"schemaVersion", "system", "messages", "inferenceConfig", "toolConfig"})
# Nova content the gateway cannot bound before the call: Nova bills a video by its frames and an
# audio clip by its length, which the gateway does not decode.
UNBOUNDED_BLOCKS = {
    "video": "the gateway cannot bound a video's cost before the call (Nova bills it by its sampled "
    "frames); send the frames you need as image blocks",
    "audio": "the gateway cannot bound an audio clip's cost before the call; send its transcript as text",
}
_NOT_METERED = "use Converse (POST /model/{modelId}/converse) for any other model or body"


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _refuse_unbounded_content(messages: Any) -> None:
    """Video and audio blocks (a tool result's too), refused with why before parse_converse, which would
    only say they are not supported. Malformed content is left for parse_converse to name."""
    for index, message in enumerate(_items(messages)):
        content = message.get("content") if isinstance(message, dict) else None
        for position, block in enumerate(_items(content)):
            where = f"messages[{index}].content[{position}]"
            result = block.get("toolResult") if isinstance(block, dict) else None
            nested = result.get("content") if isinstance(result, dict) else None
            candidates = [(where, block)]
            candidates += [
                (f"{where}.toolResult.content[{i}]", inner) for i, inner in enumerate(_items(nested))
            ]
            for place, candidate in candidates:
                for kind, reason in UNBOUNDED_BLOCKS.items():
                    if isinstance(candidate, dict) and kind in candidate:
                        raise BadRequest("unsupported_content", f"{place}.{kind} is not supported: {reason}")


def nova_request(document: Mapping[str, Any], model_id: str) -> ConverseRequest:
    """Amazon Nova's InvokeModel body (``messages-v1``) as the content model.

    The body is Converse's own JSON (bytes base64-encoded alike) plus ``schemaVersion`` and a few
    inferenceConfig fields, so it is read by parse_converse once those are moved where Converse takes them.
    """
    version = document.get("schemaVersion", NOVA_SCHEMA_VERSION)
    if version != NOVA_SCHEMA_VERSION:
        raise BadRequest(
            "invalid_field", f"schemaVersion must be {NOVA_SCHEMA_VERSION!r} (or left out), got {version!r}"
        )
    unknown = sorted(set(document) - NOVA_FIELDS)
    if unknown:
        raise BadRequest(
            "unknown_field",
            f"unknown field(s) of a Nova {NOVA_SCHEMA_VERSION} body: {', '.join(unknown)}; it takes "
            f"{', '.join(sorted(NOVA_FIELDS))}",
        )
    _refuse_unbounded_content(document.get("messages"))
    raw_inference = document.get("inferenceConfig")
    if raw_inference is not None and not isinstance(raw_inference, dict):
        raise BadRequest("invalid_field", "inferenceConfig must be an object")
    inference = dict(raw_inference or {})
    top_k = inference.pop("topK", None)
    reasoning = inference.pop("reasoningConfig", None)
    if "max_new_tokens" in inference:
        if "maxTokens" in inference:
            raise BadRequest(
                "invalid_parameter",
                "inferenceConfig: send maxTokens or max_new_tokens (its older name), not both",
            )
        inference["maxTokens"] = inference.pop("max_new_tokens")
    converse = {name: document[name] for name in ("system", "messages", "toolConfig") if name in document}
    if inference:
        converse["inferenceConfig"] = inference
    if reasoning is not None:
        # Where Converse takes Nova 2's reasoning switch; reasoning is generated inside maxTokens.
        converse["additionalModelRequestFields"] = {"reasoningConfig": reasoning}
    request = parse_converse(converse, model_id)
    if top_k is not None:
        parameters = replace(request.parameters, top_k=whole(top_k, "inferenceConfig.topK", 1, TOP_K_MAX))
        request = replace(request, parameters=parameters)
    return request


def anthropic_request(document: Mapping[str, Any], model_id: str) -> ConverseRequest:
    """An Anthropic Messages body as InvokeModel takes it (the model from the path, the beta flags in
    the body) through the Anthropic surface's parser."""
    fields = {
        key: value for key, value in document.items() if key not in ("anthropic_version", "anthropic_beta")
    }
    if document.get("anthropic_version") != ANTHROPIC_VERSION:
        raise BadRequest(
            "unsupported_body",
            f"anthropic_version must be {ANTHROPIC_VERSION!r}, got {document.get('anthropic_version')!r}",
        )
    request = anthropic.messages_request({**fields, "model": model_id})
    if document.get("anthropic_beta"):
        extra = dict(request.additional_fields or {})
        extra["anthropic_beta"] = document["anthropic_beta"]
        request = replace(request, additional_fields=extra)
    return request


_BODY_PARSERS = {"anthropic": anthropic_request, "nova": nova_request}


def _body_shape(document: Mapping[str, Any]) -> str | None:
    if "anthropic_version" in document:
        return "anthropic"
    if "messages" in document or "schemaVersion" in document:
        return "nova"
    return None


def header_settings(headers: Mapping[str, str]) -> dict[str, Any]:
    """What InvokeModel takes in headers rather than the body: the service tier, a guardrail, and the
    latency setting (optimized latency is priced apart and not in the catalog, so it is refused)."""
    settings: dict[str, Any] = {}
    latency = headers.get("x-amzn-bedrock-performanceconfig-latency")
    if latency not in (None, "standard"):
        raise BadRequest(
            "unsupported_field", f"performanceConfigLatency: {UNPRICED_FIELDS['performanceConfig']}"
        )
    tier = headers.get("x-amzn-bedrock-service-tier")
    if tier is not None:
        settings["service_tier"] = parse_service_tier(tier, "serviceTier")
    guardrail = {
        "guardrailIdentifier": headers.get("x-amzn-bedrock-guardrailidentifier"),
        "guardrailVersion": headers.get("x-amzn-bedrock-guardrailversion"),
    }
    if any(guardrail.values()):
        if not all(guardrail.values()):
            raise BadRequest(
                "invalid_field",
                "a guardrail needs both X-Amzn-Bedrock-GuardrailIdentifier and X-Amzn-Bedrock-GuardrailVersion "
                "(boto3: guardrailIdentifier and guardrailVersion)",
            )
        if headers.get("x-amzn-bedrock-trace"):
            # Converse spells InvokeModel's ENABLED / DISABLED / ENABLED_FULL in lower case.
            guardrail["trace"] = headers["x-amzn-bedrock-trace"].lower()
        settings["guardrail_config"] = parse_guardrail_config(guardrail)
    return settings


class InvokeBody:
    """How one InvokeModel call's body is read: by the model's family when ``modelId`` names a catalog
    model (short name, base model or system profile id), else by the body's shape; once the gateway has
    resolved the model (an alias, the tenant's profile ARN), ``check`` refuses a body of another family.
    Both run before anything is reserved."""

    def __init__(self, model_id: str, catalog: Catalog, headers: Mapping[str, str]) -> None:
        self.model_id = model_id
        self.catalog = catalog
        self.headers = headers
        self.family: str | None = None

    def _named_family(self) -> str | None:
        name = self.model_id if self.model_id in self.catalog.models else None
        name = name or self.catalog.short_name_for_model_id(self.model_id)
        return None if name is None else self.catalog.get(name).family

    def parse(self, body: bytes, max_body_bytes: int) -> ConverseRequest:
        document = parse_body(body, max_body_bytes)
        named = self._named_family()
        shape = _body_shape(document)
        if named is not None and named not in BODY_FORMATS:
            raise _not_metered(f"{self.model_id!r} is a {named} model")
        family = named or shape
        if family is None:
            raise _not_metered("this body is neither")
        if shape is None:
            raise BadRequest(
                "unsupported_body",
                f"{self.model_id!r} takes {BODY_FORMATS[family]} on InvokeModel, and this body is not one; "
                f"{_NOT_METERED}",
            )
        if shape != family:
            raise _mismatch(self.model_id, family, shape)
        self.family = family
        request = _BODY_PARSERS[family](document, self.model_id)
        settings = header_settings(self.headers)
        return replace(request, **settings) if settings else request

    def check(self, spec: ModelSpec) -> None:
        if spec.family not in BODY_FORMATS:
            raise _not_metered(f"{self.model_id!r} ({spec.short_name}) is a {spec.family} model")
        if self.family is not None and spec.family != self.family:
            raise _mismatch(f"{self.model_id!r} ({spec.short_name})", spec.family, self.family)


# What a body was read as, in a mismatch's message.
_SHAPES = {
    "anthropic": "an Anthropic Messages body (it has anthropic_version)",
    "nova": "not one: it has no anthropic_version, so it reads as an Amazon Nova body",
}


def _not_metered(reason: str) -> BadRequest:
    return BadRequest(
        "unsupported_body",
        f"InvokeModel is metered for {BODY_FORMATS['anthropic']} to an Anthropic model and "
        f"{BODY_FORMATS['nova']} to a Nova model; {reason}: {_NOT_METERED}",
    )


def _mismatch(model: str, family: str, shape: str) -> BadRequest:
    return BadRequest(
        "body_does_not_match_model",
        f"{model} is {FAMILY_NAMES[family]} model: send {BODY_FORMATS[family]}; this body is {_SHAPES[shape]}",
    )


def parse(incoming: Incoming, service: GatewayService) -> Exchange:
    request = incoming.http
    model_id, action = model_id_of(request)
    if request.method != "POST":
        raise MethodNotAllowed("method_not_allowed", f"{request.path} accepts POST only")
    route, started, request_id = f"bedrock-{action}", incoming.started, incoming.request_id
    stream = action in STREAMING_ACTIONS
    if action.startswith("invoke"):
        body = InvokeBody(model_id, service.catalog, request.headers)
        call = incoming.call(route, parser=body.parse, model_check=body.check)
        invoke = _Invoke(body, model_id, request_id, started)
        if not stream:
            return Exchange(call, answer=invoke.answer)
        return Exchange(
            call, events=invoke.events, failure=invoke.failure, stream_headers=_stream_headers(request_id)
        )
    call = incoming.call(route, parser=_parser(model_id))
    if not stream:
        return Exchange(call, answer=lambda completion: _converse_answer(completion, started))
    return Exchange(
        call,
        events=lambda events: _frames(events, started),
        failure=_stream_exception,
        stream_headers=_stream_headers(request_id),
    )


def _converse_answer(completion: Completion, started: float) -> http.HttpResponse:
    document: dict[str, Any] = {
        "output": {"message": {"role": "assistant", "content": list(completion.content)}},
        "stopReason": completion.stop_reason,
        "usage": usage_document(completion.usage),
        "metrics": {"latencyMs": _elapsed_ms(started)},
    }
    if completion.additional_fields:
        document["additionalModelResponseFields"] = completion.additional_fields
    if completion.usage.service_tier:
        document["serviceTier"] = {"type": completion.usage.service_tier}
    if (
        completion.trace is not None
    ):  # the guardrail's part only when the caller asked for it (the service's rule)
        document["trace"] = completion.trace
    headers = {"x-amzn-RequestId": completion.request_id, **http.cost_headers(completion.cost)}
    return http.json_response(200, document, completion.request_id, headers)


def _stream_headers(request_id: str) -> dict[str, str]:
    return {"Content-Type": EVENTSTREAM, "X-Request-Id": request_id, "x-amzn-RequestId": request_id}


def _stream_exception(error: GatewayError) -> bytes:
    """A failure after the first frame, as ConverseStream's modelled exception events name it."""
    return encode_exception(
        _STREAM_EXCEPTIONS_BY_CODE.get(error.code, "internalServerException"), error.message
    )


def _frames(events: Iterator[StreamEvent], started: float) -> Iterator[bytes]:
    for event in events:
        if not isinstance(event, Done):
            ((name, body),) = converse_event(event).items()
            yield encode_event(name, body)
            continue
        metadata: dict[str, Any] = {
            "usage": usage_document(event.usage),
            "metrics": {"latencyMs": _elapsed_ms(started)},
        }
        if event.usage.service_tier:
            metadata["serviceTier"] = {"type": event.usage.service_tier}
        if event.trace is not None:
            metadata["trace"] = event.trace
        # Not a member of ConverseStreamMetadataEvent: botocore and the AWS SDK for JavaScript read a
        # structure's modelled members only, so SDKs parse the event unchanged.
        metadata.update(http.cost_member(event.cost))
        yield encode_event("metadata", metadata)


class _Invoke:
    """One InvokeModel call: answered in the body's family's format (known once the service parsed it)."""

    def __init__(self, body: InvokeBody, model_id: str, request_id: str, started: float) -> None:
        self.body = body
        self.model_id = model_id
        self.message_id = f"msg_bdrk_{request_id.replace('-', '')}"
        self.started = started

    def answer(self, completion: Completion) -> http.HttpResponse:
        if self.body.family == "nova":
            document = nova_document(completion)
        else:
            document = anthropic.message_document(completion, self.message_id, self.model_id)
        counts = _token_counts(completion.usage)
        headers = {
            "x-amzn-RequestId": completion.request_id,
            "X-Amzn-Bedrock-Input-Token-Count": str(counts["inputTokenCount"]),
            "X-Amzn-Bedrock-Output-Token-Count": str(counts["outputTokenCount"]),
            "X-Amzn-Bedrock-Cache-Read-Input-Token-Count": str(counts["cacheReadInputTokenCount"]),
            "X-Amzn-Bedrock-Cache-Write-Input-Token-Count": str(counts["cacheWriteInputTokenCount"]),
            "X-Amzn-Bedrock-Invocation-Latency": str(_elapsed_ms(self.started)),
            **_tier_header(completion.usage),
            **http.cost_headers(completion.cost),
        }
        return http.json_response(200, document, completion.request_id, headers)

    def events(self, events: Iterator[StreamEvent]) -> Iterator[bytes]:
        if self.body.family == "nova":
            return _nova_chunk_frames(events, self.started)
        messages = anthropic.MessageStream(self.message_id, self.model_id).events(events)
        return _chunk_frames(messages, self.started)

    def failure(self, error: GatewayError) -> bytes:
        if self.body.family == "nova":
            return _stream_exception(error)
        return encode_exception("internalServerException", error.message)


def _elapsed_ms(started: float) -> int:
    return max(1, round((time.monotonic() - started) * 1000))


def _tier_header(usage: Usage) -> dict[str, str]:
    return {"X-Amzn-Bedrock-Service-Tier": usage.service_tier} if usage.service_tier else {}


def _token_counts(usage: Usage) -> dict[str, int]:
    """The token counts InvokeModel reports (its headers, its streams' invocation metrics)."""
    return {
        "inputTokenCount": usage.input_tokens,
        "outputTokenCount": usage.output_tokens,
        "cacheReadInputTokenCount": usage.cache_read_tokens,
        "cacheWriteInputTokenCount": usage.cache_write_tokens,
    }


def nova_usage(usage: Usage) -> dict[str, int]:
    """Nova's ``usage`` (its own names for the cache fields)."""
    counts = _token_counts(usage)
    return {
        "inputTokens": counts["inputTokenCount"],
        "outputTokens": counts["outputTokenCount"],
        # As Converse counts it: the cache reads and writes are input too.
        "totalTokens": sum(counts.values()),
        "cacheReadInputTokenCount": counts["cacheReadInputTokenCount"],
        "cacheWriteInputTokenCount": counts["cacheWriteInputTokenCount"],
    }


def nova_document(completion: Completion) -> dict[str, Any]:
    """InvokeModel's answer for a Nova model: Converse's message and stop reason, Nova's usage."""
    return {
        "output": {"message": {"role": "assistant", "content": list(completion.content)}},
        "stopReason": completion.stop_reason,
        "usage": nova_usage(completion.usage),
    }


def _chunk(document: dict[str, Any]) -> bytes:
    payload = base64.b64encode(http.dumps(document).encode("utf-8")).decode("ascii")
    return encode_event("chunk", {"bytes": payload})


def _invocation_metrics(counts: dict[str, int], started: float, first_byte_ms: int) -> dict[str, int]:
    """What Bedrock adds to an InvokeModelWithResponseStream's last chunk."""
    return {
        "inputTokenCount": counts["inputTokenCount"],
        "outputTokenCount": counts["outputTokenCount"],
        "invocationLatency": _elapsed_ms(started),
        "firstByteLatency": first_byte_ms,
        "cacheReadInputTokenCount": counts["cacheReadInputTokenCount"],
        "cacheWriteInputTokenCount": counts["cacheWriteInputTokenCount"],
    }


def _nova_chunk_frames(events: Iterator[StreamEvent], started: float) -> Iterator[bytes]:
    """InvokeModelWithResponseStream for Nova: each Converse stream event as a ``chunk`` whose bytes are
    its JSON (Nova's stream is Converse's), then ``metadata`` with Nova's usage and the invocation
    metrics on the last chunk."""
    first_byte_ms = _elapsed_ms(started)
    for event in events:
        if not isinstance(event, Done):
            yield _chunk(converse_event(event))
            continue
        usage = nova_usage(event.usage)
        del usage["totalTokens"]  # Nova's stream metadata leaves it out
        metadata = {"usage": usage, "metrics": {}, "trace": {}, **http.cost_member(event.cost)}
        metrics = _invocation_metrics(_token_counts(event.usage), started, first_byte_ms)
        yield _chunk({"metadata": metadata, "amazon-bedrock-invocationMetrics": metrics})


def _chunk_frames(events: Iterator[dict[str, Any]], started: float) -> Iterator[bytes]:
    """InvokeModelWithResponseStream for Anthropic: each Messages stream event as a ``chunk`` whose bytes
    are its JSON; message_stop carries Bedrock's invocation metrics, as Bedrock sends them."""
    usage: dict[str, Any] = {}
    first_byte_ms = _elapsed_ms(started)
    for event in events:
        if event["type"] == "message_delta":
            usage = event.get("usage", {})
        if event["type"] == "message_stop":
            counts = {
                "inputTokenCount": usage.get("input_tokens", 0),
                "outputTokenCount": usage.get("output_tokens", 0),
                "cacheReadInputTokenCount": usage.get("cache_read_input_tokens", 0),
                "cacheWriteInputTokenCount": usage.get("cache_creation_input_tokens", 0),
            }
            metrics = _invocation_metrics(counts, started, first_byte_ms)
            event = {**event, "amazon-bedrock-invocationMetrics": metrics}
        yield _chunk(event)


SURFACE = Surface("bedrock", matches, parse, error_response)
