"""A Bedrock runtime stand-in: a real HTTP server on 127.0.0.1 speaking the wire protocol boto3 uses.

Routes (the same as bedrock-runtime's rest-json API):

- ``POST /model/{modelId}/converse``: JSON in, JSON out (``output.message``, ``stopReason``, ``usage``,
  ``metrics.latencyMs``).
- ``POST /model/{modelId}/converse-stream``: ``application/vnd.amazon.eventstream`` frames
  ``messageStart``, ``contentBlockDelta``..., ``contentBlockStop``, ``messageStop``, ``metadata``.

The ``modelId`` path segment is URL-encoded by botocore (an application inference profile ARN contains
``:`` and ``/``), so it is decoded only after the route is matched.

Deterministic behaviour, so tests can predict every figure:

- Token counting: each message (its text blocks joined) counts ``ceil(utf8 bytes / 4)`` tokens, at least
  1; the system prompt (its text blocks joined) counts the same way as one more message. Other content
  counts on top (see "Content beyond text" below).
- Reply length: ``max(16, input_tokens // 2)`` tokens, capped at ``inferenceConfig.maxTokens`` (or the
  model's registered ``maxOutputTokens``, else 4096); when the cap cuts it, ``stopReason`` is
  ``max_tokens``, otherwise ``end_turn``. A fixed ``reply_tokens`` can replace the rule.
- Reply text: words picked from a seeded hash of the request, exactly ``4 * output_tokens`` ASCII bytes,
  so counting the reply by the same rule gives back ``outputTokens``.

Content beyond text (``content_tokens``), each added to the message that holds it:

- image: a PNG counts ``ceil(width * height / 750)`` tokens (its IHDR size), at most 1600; any other
  format 1600. document: ``ceil(bytes / 4)``. toolUse / toolResult: ``ceil(len(compact JSON) / 4)``.
  ``toolConfig`` counts ``ceil(len(compact JSON) / 4)`` on the first message.
- Prompt cache: a ``cachePoint`` (system, tools or a message; ``ttl`` 5m or 1h) caches every token
  before it. The first call writes them (``cacheWriteInputTokens``, ``cacheDetails`` per TTL), a call
  with the same prefix within the TTL reads them (``cacheReadInputTokens``); ``inputTokens`` is the rest.
- Tools: when a tool's name appears in the last user message's text (or ``toolChoice`` is ``any`` or
  ``tool``) and that message holds no toolResult, the answer is one ``toolUse`` of that tool with an
  input holding ``"value"`` for each required property, and ``stopReason`` ``tool_use``.
- ``serviceTier`` is echoed in the answer (``default`` when none was asked for).
- Thinking (``additionalModelRequestFields.thinking.type = enabled``): a ``reasoningContent`` block of
  ``min(16, budget_tokens)`` tokens comes first; its tokens are part of ``outputTokens``.
- Streaming: ``first_token_ms`` delays the first content delta, ``token_interval_ms`` paces each next
  one (then one token per delta), as a model generating would.
- Guardrails (``guardrailConfig``): the stand-in's guardrail has content filters, denied topics,
  sensitive information (managed PII and regex) and word filters. It assesses the input once (the text
  of every message, tool result and system block joined: ``ceil(characters / 1000)`` units per policy;
  each image one ``contentPolicyImageUnits``), and the output once for Converse, once per streamed
  text chunk for ConverseStream (each chunk rounded up on its own). With ``trace`` ``enabled`` or
  ``enabled_full`` the answer (ConverseStream: the ``metadata`` event) carries ``trace.guardrail``
  with ``inputAssessment`` / ``outputAssessments`` and their ``invocationMetrics.usage``, as Bedrock's;
  without, no trace. The request log's ``guardrailUsage`` is what the guardrail billed either way.

Errors come in Bedrock's shape: an ``x-amzn-ErrorType`` header and a JSON ``{"message": ...}`` body.
Validation follows Bedrock for the basics: ``messages`` non-empty, roles ``user``/``assistant``
alternating and starting with ``user``, every message with non-empty ``content``, sane
``inferenceConfig``, and (when models are registered) a known model id and ``maxTokens`` within the model.

Control API for tests (also available as Python methods on :class:`BedrockRuntimeStub`):

- ``POST /_stub/faults`` ``{"mode": "throttle", "count": 3, "modelId": "...", "latencyMs": 2000}``:
  the next ``count`` matching requests fail (or are delayed, for ``latency``). Modes: ``FAULTS`` (an
  error answer), ``latency``, ``stream-error`` / ``stream-error-early`` / ``stream-drop`` (ConverseStream
  broken after text, before text, or cut off), ``drop-after-read`` (request read, connection closed
  unanswered), ``stall`` (request read, nothing sent for ``latencyMs``, default until the stand-in
  stops), ``bad-response`` (Converse answers 200 without ``usage``), ``guardrail-no-usage`` (the
  guardrail trace comes without its ``invocationMetrics``). ``count`` null = until cleared.
  ``DELETE /_stub/faults`` clears them.
- ``GET /_stub/requests``: every Bedrock request received (model id, body, access key id, status).
  ``DELETE /_stub/requests`` clears the log.
- ``POST /_stub/models`` ``{"modelId": "...", "maxOutputTokens": 4096}``: register a known model id.

Run alone: ``python -m scripts.testbed.emulators.bedrock_runtime --port 8081``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import math
import re
import struct
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from scripts.testbed.emulators.eventstream import encode_event, encode_exception


@dataclass(frozen=True)
class FaultKind:
    status: int
    error_type: str
    message: str


# Bedrock's error codes for the faults the gateway must map; "latency" and "stream-error" are separate.
FAULTS: dict[str, FaultKind] = {
    "throttle": FaultKind(429, "ThrottlingException", "Too many requests, please wait before trying again."),
    "validation": FaultKind(400, "ValidationException", "Injected validation failure."),
    "internal": FaultKind(500, "InternalServerException", "The server encountered an internal error."),
    "unavailable": FaultKind(503, "ServiceUnavailableException", "The service is temporarily unavailable."),
    "timeout": FaultKind(408, "ModelTimeoutException", "The model took too long to respond."),
    "model-error": FaultKind(424, "ModelErrorException", "The model failed while processing the request."),
    "quota": FaultKind(400, "ServiceQuotaExceededException", "Your request exceeds the service quota."),
    "denied": FaultKind(
        403, "AccessDeniedException", "You don't have access to the model with the specified model ID."
    ),
}
LATENCY_MODE = "latency"
# ConverseStream answers 200, sends text, then an in-band modelStreamErrorException.
STREAM_ERROR_MODE = "stream-error"
# ConverseStream answers 200 and messageStart, then the exception before any text.
STREAM_ERROR_EARLY_MODE = "stream-error-early"
# ConverseStream sends text, then the connection is cut (no exception event, no final chunk).
STREAM_DROP_MODE = "stream-drop"
# The whole request is read (the model "runs"), then the connection is closed without any answer.
DROP_AFTER_READ_MODE = "drop-after-read"
# Converse answers 200 (the model ran) without the usage block: the gateway cannot know what it cost.
BAD_RESPONSE_MODE = "bad-response"
# The whole request is read, then nothing is sent for latencyMs (default: until the stand-in stops),
# longer than any gateway read timeout; then the connection is closed without an answer.
STALL_MODE = "stall"
# The guardrail ran (and billed) but its trace carries no invocationMetrics: its units are unknown.
GUARDRAIL_NO_USAGE_MODE = "guardrail-no-usage"
FAULT_MODES = (
    *FAULTS,
    LATENCY_MODE,
    STREAM_ERROR_MODE,
    STREAM_ERROR_EARLY_MODE,
    STREAM_DROP_MODE,
    DROP_AFTER_READ_MODE,
    STALL_MODE,
    BAD_RESPONSE_MODE,
    GUARDRAIL_NO_USAGE_MODE,
)
STREAM_BREAKS = (STREAM_ERROR_MODE, STREAM_ERROR_EARLY_MODE, STREAM_DROP_MODE)
DEFAULT_STALL_MS = 10 * 60 * 1000

DEFAULT_MAX_OUTPUT_TOKENS = 4096
MIN_REPLY_TOKENS = 16
BYTES_PER_TOKEN = 4
STREAM_TOKENS_PER_DELTA = 8
MAX_BODY_BYTES = 20 * 1024 * 1024
EVENTSTREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream"

_ROUTE = re.compile(r"^/model/(?P<model>[^/]+)/(?P<action>converse|converse-stream)$")
_ACCESS_KEY = re.compile(r"Credential=(?P<key>[^/,\s]+)/")
_WORDS = [
    "budget",
    "forecast",
    "tenant",
    "invoice",
    "ledger",
    "margin",
    "quota",
    "region",
    "profile",
    "usage",
    "spend",
    "signal",
    "report",
    "latency",
    "token",
    "model",
    "answer",
    "summary",
    "account",
    "review",
    "policy",
    "control",
    "cost",
    "center",
    "chargeback",
    "alert",
    "customer",
    "pipeline",
    "insight",
    "trend",
    "estimate",
    "threshold",
    "period",
    "daily",
    "monthly",
    "secure",
    "audit",
]


class BedrockError(Exception):
    """An error Bedrock answers with ``x-amzn-ErrorType`` and ``{"message"}``."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def validation_error(message: str) -> BedrockError:
    return BedrockError(400, "ValidationException", message)


# --------------------------------------------------------------------------------------------------
# Pure domain: validation, token counting, deterministic replies
# --------------------------------------------------------------------------------------------------


def count_text_tokens(text: str) -> int:
    return max(1, math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN))


def _joined_text(blocks: list[Any]) -> str:
    return "".join(block["text"] for block in blocks if isinstance(block, dict) and "text" in block)


def count_input_tokens(body: Mapping[str, Any]) -> int:
    tokens = sum(count_text_tokens(_joined_text(message["content"])) for message in body["messages"])
    system_text = _joined_text(body.get("system") or [])
    if system_text:
        tokens += count_text_tokens(system_text)
    return tokens


def _check_number(config: Mapping[str, Any], name: str, low: float, high: float) -> None:
    value = config.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise validation_error(
            f"1 validation error detected: Value '{value}' at 'inferenceConfig.{name}' failed to satisfy "
            f"constraint: Member must be between {low} and {high}"
        )


def validate_converse_body(body: Any, max_output_tokens: int | None) -> None:
    """Reject what Bedrock rejects before any model runs, with Bedrock-like messages."""
    if not isinstance(body, dict):
        raise validation_error("The request body must be a JSON object.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise validation_error(
            "A conversation must start with a user message. Try again with a user message."
        )
    expected_role = "user"
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("user", "assistant"):
            raise validation_error(
                f"1 validation error detected: Value '{role}' at 'messages.{index + 1}.member.role' failed "
                "to satisfy constraint: Member must satisfy enum value set: [user, assistant]"
            )
        if role != expected_role:
            if index == 0:
                raise validation_error(
                    "A conversation must start with a user message. Try again with a user message."
                )
            raise validation_error(
                "A conversation must alternate between user and assistant roles. Make sure the "
                "conversation alternates between user and assistant roles and try again."
            )
        content = message.get("content")
        if not isinstance(content, list) or not content:
            raise validation_error(f"The content field in the Message object at messages.{index} is empty.")
        for block in content:
            if not isinstance(block, dict) or not block:
                raise validation_error(f"messages.{index}.content holds a block that is not an object.")
            if "text" in block and not isinstance(block["text"], str):
                raise validation_error(f"messages.{index}.content text must be a string.")
        expected_role = "assistant" if role == "user" else "user"
    system = body.get("system")
    if system is not None and (
        not isinstance(system, list) or not all(isinstance(b, dict) and b for b in system)
    ):
        raise validation_error("system must be a list of SystemContentBlock objects.")
    config = body.get("inferenceConfig") or {}
    if not isinstance(config, dict):
        raise validation_error("inferenceConfig must be an object.")
    max_tokens = config.get("maxTokens")
    if max_tokens is not None:
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise validation_error(
                f"1 validation error detected: Value '{max_tokens}' at 'inferenceConfig.maxTokens' failed "
                "to satisfy constraint: Member must have value greater than or equal to 1"
            )
        if max_output_tokens is not None and max_tokens > max_output_tokens:
            raise validation_error(
                f"The maximum tokens you requested exceeds the model limit of {max_output_tokens}. "
                "Try again with a maximum tokens value that is lower than the model limit."
            )
    _check_number(config, "temperature", 0, 1)
    _check_number(config, "topP", 0, 1)
    stop_sequences = config.get("stopSequences")
    if stop_sequences is not None and (
        not isinstance(stop_sequences, list) or not all(isinstance(s, str) for s in stop_sequences)
    ):
        raise validation_error("inferenceConfig.stopSequences must be a list of strings.")
    extra = body.get("additionalModelRequestFields")
    if extra is not None and not isinstance(extra, dict):
        raise validation_error("additionalModelRequestFields must be an object.")


@dataclass(frozen=True)
class Reply:
    text: str
    input_tokens: int
    output_tokens: int
    stop_reason: str
    cache: CacheUsage | None = None
    tool_use: dict[str, Any] | None = None
    reasoning: str | None = None
    service_tier: str = "default"

    @property
    def usage(self) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
            "totalTokens": self.input_tokens + self.output_tokens,
        }
        if self.cache is not None:
            usage.update(self.cache.usage_fields())
            usage["totalTokens"] += self.cache.read + self.cache.written
        return usage

    def content(self) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        if self.reasoning is not None:
            blocks.append(
                {"reasoningContent": {"reasoningText": {"text": self.reasoning, "signature": "stub"}}}
            )
        if self.text:
            blocks.append({"text": self.text})
        if self.tool_use is not None:
            blocks.append({"toolUse": self.tool_use})
        return blocks


def deterministic_text(seed: bytes, tokens: int) -> str:
    """Words chosen from ``seed``, exactly ``tokens * 4`` ASCII bytes long."""
    wanted = tokens * BYTES_PER_TOKEN
    words: list[str] = []
    length = 0
    counter = 0
    while length < wanted:
        digest = hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        for byte in digest:
            word = _WORDS[byte % len(_WORDS)]
            words.append(word)
            length += len(word) + 1
        counter += 1
    return " ".join(words)[:wanted]


def build_reply(
    model_id: str,
    body: Mapping[str, Any],
    max_output_tokens: int | None,
    reply_tokens: int | None,
    cache: PromptCache | None = None,
) -> Reply:
    input_tokens = count_input_tokens(body) + content_tokens(body)
    wanted = reply_tokens if reply_tokens is not None else max(MIN_REPLY_TOKENS, input_tokens // 2)
    config = body.get("inferenceConfig") or {}
    cap = config.get("maxTokens") or max_output_tokens or DEFAULT_MAX_OUTPUT_TOKENS
    seed = hashlib.sha256(model_id.encode() + json.dumps(body["messages"], sort_keys=True).encode()).digest()
    reasoning = reasoning_text(body, seed, cap)
    reasoning_tokens = count_text_tokens(reasoning) if reasoning else 0
    cap -= reasoning_tokens
    tool_use = chosen_tool_use(body, seed)
    if tool_use is not None:
        text, output_tokens, stop = "", count_json_tokens(tool_use["input"]), "tool_use"
    else:
        output_tokens = min(wanted, cap)
        text, stop = (
            deterministic_text(seed, output_tokens),
            "max_tokens" if output_tokens < wanted else "end_turn",
        )
    cache_usage = cache.account(model_id, body) if cache is not None else None
    uncached = input_tokens - (cache_usage.read + cache_usage.written if cache_usage else 0)
    return Reply(
        text=text,
        input_tokens=uncached,
        output_tokens=output_tokens + reasoning_tokens,
        stop_reason=stop,
        cache=cache_usage,
        tool_use=tool_use,
        reasoning=reasoning,
        service_tier=(body.get("serviceTier") or {}).get("type", "default"),
    )


# --------------------------------------------------------------------------------------------------
# Content beyond text: images, documents, tools, the prompt cache, thinking
# --------------------------------------------------------------------------------------------------

IMAGE_TOKENS_MAX = 1600
PIXELS_PER_TOKEN = 750


# Model-specific settings in additionalModelRequestFields that are parameters, not text the model reads.
PARAMETER_FIELDS = frozenset({"top_k", "inferenceConfig", "thinking", "reasoningConfig", "anthropic_beta"})


def count_json_tokens(value: Any) -> int:
    return count_text_tokens(json.dumps(value, separators=(",", ":"), sort_keys=True))


def _image_tokens(image: Mapping[str, Any]) -> int:
    data = base64.b64decode((image.get("source") or {}).get("bytes") or "")
    if image.get("format") == "png" and data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return min(IMAGE_TOKENS_MAX, max(1, math.ceil(width * height / PIXELS_PER_TOKEN)))
    return IMAGE_TOKENS_MAX


def _block_tokens(block: Mapping[str, Any]) -> int:
    if "image" in block:
        return _image_tokens(block["image"])
    if "document" in block:
        document = block["document"]
        data = base64.b64decode((document.get("source") or {}).get("bytes") or "")
        # The model reads the document's context (and name) beside its text.
        frame = count_text_tokens(document.get("name", "") + document.get("context", ""))
        return max(1, math.ceil(len(data) / BYTES_PER_TOKEN)) + frame
    if "toolUse" in block:
        return count_json_tokens(block["toolUse"])
    if "toolResult" in block:
        return count_json_tokens(block["toolResult"])
    return 0


def content_tokens(body: Mapping[str, Any]) -> int:
    """Tokens of everything but text (text is count_input_tokens')."""
    tokens = sum(_block_tokens(block) for message in body["messages"] for block in message["content"])
    if body.get("toolConfig"):
        tokens += count_json_tokens(body["toolConfig"])
    extra = {
        name: value
        for name, value in (body.get("additionalModelRequestFields") or {}).items()
        if name not in PARAMETER_FIELDS
    }
    if extra:
        # What a model reads from its own fields (Anthropic tools, documents of computer use, ...) is
        # billed as input like any prompt text; its sampling and reasoning switches are not.
        tokens += count_json_tokens(extra)
    return tokens


def cached_prefix(body: Mapping[str, Any]) -> tuple[str, int, str] | None:
    """(prefix fingerprint, its tokens, ttl) up to the request's last cache point, or None."""
    parts: list[Any] = []
    tokens = 0
    found: tuple[str, int, str] | None = None
    system = body.get("system") or []
    sections: list[tuple[str, list[Any]]] = [("system", system)]
    if body.get("toolConfig"):
        sections.append(("tools", body["toolConfig"].get("tools", [])))
    sections += [(message["role"], message["content"]) for message in body["messages"]]
    for name, blocks in sections:
        for block in blocks:
            if "cachePoint" in block:
                digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
                found = (digest, tokens, block["cachePoint"].get("ttl", "5m"))
                continue
            parts.append([name, block])
            if "text" in block:
                tokens += count_text_tokens(block["text"])
            elif "toolSpec" in block:
                tokens += count_json_tokens(block)
            else:
                tokens += _block_tokens(block)
    return found


@dataclass(frozen=True)
class CacheUsage:
    read: int
    written: int
    ttl: str

    def usage_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"cacheReadInputTokens": self.read, "cacheWriteInputTokens": self.written}
        if self.written:
            fields["cacheDetails"] = [{"ttl": self.ttl, "inputTokens": self.written}]
        return fields


@dataclass
class PromptCache:
    """Prefixes written by earlier calls, per model, until their TTL runs out."""

    clock: Any = time.monotonic
    entries: dict[tuple[str, str], float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def account(self, model_id: str, body: Mapping[str, Any]) -> CacheUsage | None:
        prefix = cached_prefix(body)
        if prefix is None:
            return None
        digest, tokens, ttl = prefix
        now = self.clock()
        key = (model_id, digest)
        with self.lock:
            if self.entries.get(key, 0) > now:
                return CacheUsage(read=tokens, written=0, ttl=ttl)
            self.entries[key] = now + (3600 if ttl == "1h" else 300)
        return CacheUsage(read=0, written=tokens, ttl=ttl)


def chosen_tool_use(body: Mapping[str, Any], seed: bytes) -> dict[str, Any] | None:
    tools = [t["toolSpec"] for t in (body.get("toolConfig") or {}).get("tools", []) if "toolSpec" in t]
    if not tools:
        return None
    last = body["messages"][-1]
    if last["role"] != "user" or any("toolResult" in block for block in last["content"]):
        return None
    choice = (body.get("toolConfig") or {}).get("toolChoice") or {}
    text = _joined_text(last["content"])
    if "tool" in choice:
        tool = next(t for t in tools if t["name"] == choice["tool"]["name"])
    elif "any" in choice:
        tool = tools[0]
    else:
        named = [t for t in tools if t["name"] in text]
        if not named:
            return None
        tool = named[0]
    schema = (tool.get("inputSchema") or {}).get("json") or {}
    arguments = {name: "value" for name in schema.get("required", [])}
    return {"toolUseId": "tooluse_" + seed.hex()[:16], "name": tool["name"], "input": arguments}


def reasoning_text(body: Mapping[str, Any], seed: bytes, cap: int) -> str | None:
    thinking = (body.get("additionalModelRequestFields") or {}).get("thinking") or {}
    if thinking.get("type") != "enabled":
        return None
    tokens = max(1, min(16, int(thinking.get("budget_tokens", 16)), cap - 1))
    return deterministic_text(seed[::-1], tokens)


# --------------------------------------------------------------------------------------------------
# Faults and the request log (shared between server threads, so guarded by one lock)
# --------------------------------------------------------------------------------------------------


@dataclass
class Fault:
    mode: str
    remaining: int | None  # None: until cleared
    model_id: str | None = None
    latency_ms: int = 0

    def matches(self, model_id: str) -> bool:
        return self.model_id is None or self.model_id == model_id


def parse_fault(spec: Mapping[str, Any]) -> Fault:
    mode = spec.get("mode")
    if mode not in FAULT_MODES:
        raise ValueError(f"unknown fault mode {mode!r}; expected one of {', '.join(FAULT_MODES)}")
    count = spec.get("count", 1)
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ValueError("count must be a positive integer or null (until cleared)")
    latency_ms = spec.get("latencyMs", 0)
    if isinstance(latency_ms, bool) or not isinstance(latency_ms, int) or latency_ms < 0:
        raise ValueError("latencyMs must be a non-negative integer")
    if mode == LATENCY_MODE and latency_ms == 0:
        raise ValueError("a latency fault needs latencyMs > 0")
    model_id = spec.get("modelId")
    if model_id is not None and not isinstance(model_id, str):
        raise ValueError("modelId must be a string")
    return Fault(mode=mode, remaining=count, model_id=model_id, latency_ms=latency_ms)


@dataclass
class StubState:
    reply_tokens: int | None = None
    base_latency_ms: int = 0
    models: dict[str, int | None] = field(default_factory=dict)
    prompt_cache: PromptCache = field(default_factory=PromptCache)
    first_token_ms: int = 0
    token_interval_ms: int = 0
    faults: list[Fault] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)

    def take_fault(self, model_id: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(model_id):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining == 0:
                            self.faults.remove(fault)
                    return fault
        return None

    def max_output_tokens(self, model_id: str) -> int | None:
        """The registered limit; raises when models are registered and this one is not among them."""
        with self.lock:
            if not self.models:
                return None
            if model_id not in self.models:
                raise validation_error("The provided model identifier is invalid.")
            return self.models[model_id]

    def log(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.requests.append(entry)

    def update(self, entry: dict[str, Any], **fields: Any) -> None:
        with self.lock:
            entry.update(fields)


# --------------------------------------------------------------------------------------------------
# Guardrails: what the stand-in's guardrail assesses and the trace Bedrock returns for it
# --------------------------------------------------------------------------------------------------

GUARDRAIL_TEXT_UNIT_CHARACTERS = 1000
# The policies the stand-in's guardrail has (GuardrailUsage fields); the others report 0 units.
GUARDRAIL_POLICIES = (
    "contentPolicyUnits",
    "topicPolicyUnits",
    "sensitiveInformationPolicyUnits",
    "sensitiveInformationPolicyFreeUnits",
    "wordPolicyUnits",
)
GUARDRAIL_UNUSED_POLICIES = ("contextualGroundingPolicyUnits",)
GUARDRAIL_TRACE_SHOWN = ("enabled", "enabled_full")


def _guarded_blocks(body: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield from body.get("system") or []
    for message in body["messages"]:
        for block in message["content"]:
            yield block
            if "toolResult" in block:
                yield from block["toolResult"].get("content") or []


def guardrail_input(body: Mapping[str, Any]) -> tuple[str, int]:
    """(the text the input assessment evaluates, the number of images)."""
    blocks = list(_guarded_blocks(body))
    text = "".join(block["text"] for block in blocks if isinstance(block.get("text"), str))
    images = sum(1 for block in blocks if "image" in block)
    return text, images


def guardrail_assessment(text: str, images: int = 0, with_usage: bool = True) -> dict[str, Any]:
    """One GuardrailAssessment of ``text`` (and ``images``), with the invocationMetrics Bedrock sends."""
    units = math.ceil(len(text) / GUARDRAIL_TEXT_UNIT_CHARACTERS)
    usage: dict[str, Any] = {name: units for name in GUARDRAIL_POLICIES}
    usage.update({name: 0 for name in GUARDRAIL_UNUSED_POLICIES})
    if images:
        usage["contentPolicyImageUnits"] = images
    coverage: dict[str, Any] = {"textCharacters": {"guarded": len(text), "total": len(text)}}
    if images:
        coverage["images"] = {"guarded": images, "total": images}
    assessment: dict[str, Any] = {"contentPolicy": {"filters": []}}
    if with_usage:
        assessment["invocationMetrics"] = {
            "guardrailProcessingLatency": 1,
            "usage": usage,
            "guardrailCoverage": coverage,
        }
    return assessment


def guardrail_trace(body: Mapping[str, Any], outputs: list[str], with_usage: bool = True) -> dict[str, Any]:
    """``trace`` of a call with guardrailConfig: the input assessment and one output assessment per
    assessed output text (Converse: the whole reply; ConverseStream: each chunk)."""
    guardrail_id = str((body.get("guardrailConfig") or {}).get("guardrailIdentifier", "guardrail"))
    text, images = guardrail_input(body)
    return {
        "guardrail": {
            "inputAssessment": {guardrail_id: guardrail_assessment(text, images, with_usage)},
            "outputAssessments": {
                guardrail_id: [guardrail_assessment(output, 0, with_usage) for output in outputs]
            },
        }
    }


def guardrail_billed(body: Mapping[str, Any], outputs: list[str]) -> dict[str, int]:
    """Every GuardrailUsage field summed over the assessments: what the guardrail billed, also when
    the trace the caller gets leaves the usage out."""
    full = guardrail_trace(body, outputs)["guardrail"]
    assessments = [*full["inputAssessment"].values(), *next(iter(full["outputAssessments"].values()))]
    total: dict[str, int] = {}
    for assessment in assessments:
        for name, units in assessment["invocationMetrics"]["usage"].items():
            total[name] = total.get(name, 0) + units
    return total


def reply_outputs(reply: Reply) -> list[str]:
    """What Converse's output assessment evaluates: the reply's text (or its tool use's input)."""
    if reply.text:
        return [reply.text]
    if reply.tool_use is not None:
        return [json.dumps(reply.tool_use["input"], separators=(",", ":"))]
    return []


def stream_text_chunks(reply: Reply, pacing: Pacing) -> list[str]:
    """The text deltas ConverseStream sends for ``reply`` (the guardrail assesses each on its own)."""
    size = pacing.tokens_per_delta * BYTES_PER_TOKEN
    return [reply.text[offset : offset + size] for offset in range(0, len(reply.text), size)]


# --------------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real endpoint; botocore pools connections
    # Headers and body go out as separate writes; with Nagle on, the client's delayed ACK adds ~40 ms.
    disable_nagle_algorithm = True
    server: _StubServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr line; the request log endpoint is the record."""

    # -- plumbing ------------------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise validation_error("Input is too long for requested model.")
        return self.rfile.read(length) if length else b""

    def _send_json(self, status: int, document: Any, headers: Mapping[str, str] | None = None) -> None:
        payload = json.dumps(document).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", self._request_id)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _send_error(self, error: BedrockError) -> None:
        self._send_json(error.status, {"message": error.message}, {"x-amzn-ErrorType": error.error_type})

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _sleep(self, milliseconds: int) -> None:
        # Interruptible, so stop() does not wait for an injected delay to run out.
        self.server.state.stopping.wait(milliseconds / 1000)

    # -- routes --------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._request_id = str(uuid.uuid4())
        state = self.server.state
        if self.path == "/_stub/requests":
            with state.lock:
                log = [dict(entry) for entry in state.requests]
            self._send_json(200, {"requests": log})
        elif self.path == "/_stub/health":
            self._send_json(200, {"ok": True})
        else:
            self._send_error(BedrockError(404, "UnknownOperationException", f"No route for GET {self.path}"))

    def do_DELETE(self) -> None:
        self._request_id = str(uuid.uuid4())
        state = self.server.state
        with state.lock:
            if self.path == "/_stub/requests":
                state.requests.clear()
            elif self.path == "/_stub/faults":
                state.faults.clear()
            else:
                self._send_error(
                    BedrockError(404, "UnknownOperationException", f"No route for DELETE {self.path}")
                )
                return
        self._send_json(200, {"ok": True})

    def do_POST(self) -> None:
        self._request_id = str(uuid.uuid4())
        try:
            raw_body = self._read_body()
        except BedrockError as error:
            self._send_error(error)
            return
        if self.path.startswith("/_stub/"):
            self._control(raw_body)
            return
        route = _ROUTE.match(self.path.split("?", 1)[0])
        if route is None:
            self._send_error(BedrockError(404, "UnknownOperationException", f"No route for POST {self.path}"))
            return
        self._model_call(unquote(route["model"]), route["action"] == "converse-stream", raw_body)

    def _control(self, raw_body: bytes) -> None:
        state = self.server.state
        try:
            spec = json.loads(raw_body or b"{}")
            if self.path == "/_stub/faults":
                fault = parse_fault(spec)
                with state.lock:
                    state.faults.append(fault)
                self._send_json(201, {"queued": fault.mode, "count": fault.remaining})
            elif self.path == "/_stub/models":
                model_id, limit = spec.get("modelId"), spec.get("maxOutputTokens")
                if not isinstance(model_id, str) or not (limit is None or isinstance(limit, int)):
                    raise ValueError("expected {'modelId': str, 'maxOutputTokens': int | null}")
                with state.lock:
                    state.models[model_id] = limit
                self._send_json(201, {"registered": model_id})
            else:
                self._send_error(BedrockError(404, "UnknownOperationException", f"No route for {self.path}"))
        except (ValueError, AttributeError) as error:
            self._send_error(validation_error(str(error)))

    def _model_call(self, model_id: str, stream: bool, raw_body: bytes) -> None:
        state = self.server.state
        started = time.monotonic()
        credential = _ACCESS_KEY.search(self.headers.get("Authorization", ""))
        entry: dict[str, Any] = {
            "operation": "ConverseStream" if stream else "Converse",
            "modelId": model_id,
            "accessKeyId": credential["key"] if credential else None,
            "receivedAt": time.time(),
            "status": None,  # until answered: the log is in arrival order, even for delayed answers
        }
        state.log(entry)
        fault: Fault | None = None
        try:
            try:
                body = json.loads(raw_body)
            except ValueError:
                raise validation_error("The request body is not valid JSON.") from None
            state.update(entry, body=body)
            if credential is None:
                raise BedrockError(403, "AccessDeniedException", "Missing Authentication Token")
            fault = state.take_fault(model_id)
            if fault is not None:
                state.update(entry, fault=fault.mode)
                if fault.mode in (DROP_AFTER_READ_MODE, STALL_MODE):
                    self._hang_up(fault)
                    return
                if fault.latency_ms:
                    self._sleep(fault.latency_ms)
                if fault.mode in FAULTS:
                    kind = FAULTS[fault.mode]
                    raise BedrockError(kind.status, kind.error_type, kind.message)
            if state.base_latency_ms:
                self._sleep(state.base_latency_ms)
            max_output_tokens = state.max_output_tokens(model_id)
            validate_converse_body(body, max_output_tokens)
            reply = build_reply(model_id, body, max_output_tokens, state.reply_tokens, state.prompt_cache)
        except BedrockError as error:
            state.update(entry, status=error.status, errorType=error.error_type)
            self._send_error(error)
            return
        state.update(entry, status=200, usage=reply.usage, stopReason=reply.stop_reason)
        latency_ms = max(1, round((time.monotonic() - started) * 1000))
        pacing = Pacing(state.first_token_ms, state.token_interval_ms, self._sleep)
        trace = self._guardrail(
            entry, body, stream_text_chunks(reply, pacing) if stream else reply_outputs(reply), fault
        )
        if stream:
            self._stream_reply(reply, latency_ms, fault.mode if fault is not None else None, pacing, trace)
        else:
            answer = {
                "output": {"message": {"role": "assistant", "content": reply.content()}},
                "stopReason": reply.stop_reason,
                "usage": reply.usage,
                "metrics": {"latencyMs": latency_ms},
                "serviceTier": {"type": reply.service_tier},
            }
            if trace is not None:
                answer["trace"] = trace
            if fault is not None and fault.mode == BAD_RESPONSE_MODE:
                del answer["usage"]
            self._send_json(200, answer)

    def _guardrail(
        self, entry: dict[str, Any], body: Mapping[str, Any], outputs: list[str], fault: Fault | None
    ) -> dict[str, Any] | None:
        """Log what a guardrailConfig's guardrail billed; the trace to answer with, if one was asked."""
        config = body.get("guardrailConfig")
        if not isinstance(config, Mapping):
            return None
        with_usage = fault is None or fault.mode != GUARDRAIL_NO_USAGE_MODE
        self.server.state.update(entry, guardrailUsage=guardrail_billed(body, outputs))
        if config.get("trace") not in GUARDRAIL_TRACE_SHOWN:
            return None
        return guardrail_trace(body, outputs, with_usage)

    def _hang_up(self, fault: Fault) -> None:
        """The request was read in full; answer nothing (after a stall) and close the connection."""
        if fault.mode == STALL_MODE:
            self._sleep(fault.latency_ms or DEFAULT_STALL_MS)
        self.close_connection = True

    def _stream_reply(
        self,
        reply: Reply,
        latency_ms: int,
        fault_mode: str | None,
        pacing: Pacing,
        trace: dict[str, Any] | None = None,
    ) -> None:
        self.send_response(200)
        self.send_header("Content-Type", EVENTSTREAM_CONTENT_TYPE)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-amzn-RequestId", self._request_id)
        self.end_headers()
        broken = fault_mode if fault_mode in STREAM_BREAKS else None
        for frame in stream_frames(reply, latency_ms, broken, pacing, trace):
            self._write_chunk(frame)
        if broken == STREAM_DROP_MODE:
            self.close_connection = True  # no terminating chunk: the client sees a cut stream
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


@dataclass(frozen=True)
class Pacing:
    """How fast a stream's content arrives: the first delta after ``first_token_ms``, then one token
    per delta every ``token_interval_ms`` (0: no waits, STREAM_TOKENS_PER_DELTA tokens per delta)."""

    first_token_ms: int = 0
    token_interval_ms: int = 0
    sleep: Any = None

    @property
    def tokens_per_delta(self) -> int:
        return 1 if self.token_interval_ms else STREAM_TOKENS_PER_DELTA

    def wait(self, first: bool) -> None:
        milliseconds = self.first_token_ms if first else self.token_interval_ms
        if milliseconds and self.sleep is not None:
            self.sleep(milliseconds)


def stream_frames(
    reply: Reply,
    latency_ms: int,
    broken: str | None = None,
    pacing: Pacing | None = None,
    trace: dict[str, Any] | None = None,
) -> Iterator[bytes]:
    """The ConverseStream events for ``reply``; ``broken`` (a stream fault mode) cuts it short: with an
    exception after the first text (``stream-error``) or before any (``stream-error-early``), or with no
    further event after the first text (``stream-drop``)."""
    pacing = pacing or Pacing()
    # The model's first token is what takes time: messageStart comes with it, as Bedrock sends it.
    pacing.wait(True)
    yield encode_event("messageStart", {"role": "assistant"})
    if broken == STREAM_ERROR_EARLY_MODE:
        yield encode_exception("modelStreamErrorException", "The model stream was interrupted.")
        return
    index = 0
    first = False
    if reply.reasoning is not None:
        pacing.wait(first)
        first = False
        yield encode_event(
            "contentBlockDelta",
            {"contentBlockIndex": index, "delta": {"reasoningContent": {"text": reply.reasoning}}},
        )
        yield encode_event(
            "contentBlockDelta",
            {"contentBlockIndex": index, "delta": {"reasoningContent": {"signature": "stub"}}},
        )
        yield encode_event("contentBlockStop", {"contentBlockIndex": index})
        index += 1
    for chunk in stream_text_chunks(reply, pacing):
        pacing.wait(first)
        first = False
        yield encode_event("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": chunk}})
        if broken == STREAM_ERROR_MODE:
            yield encode_exception("modelStreamErrorException", "The model stream was interrupted.")
            return
        if broken == STREAM_DROP_MODE:
            return
    if reply.text:
        yield encode_event("contentBlockStop", {"contentBlockIndex": index})
        index += 1
    if reply.tool_use is not None:
        pacing.wait(first)
        start = {"toolUse": {"toolUseId": reply.tool_use["toolUseId"], "name": reply.tool_use["name"]}}
        yield encode_event("contentBlockStart", {"contentBlockIndex": index, "start": start})
        arguments = json.dumps(reply.tool_use["input"], separators=(",", ":"))
        yield encode_event(
            "contentBlockDelta", {"contentBlockIndex": index, "delta": {"toolUse": {"input": arguments}}}
        )
        yield encode_event("contentBlockStop", {"contentBlockIndex": index})
    yield encode_event("messageStop", {"stopReason": reply.stop_reason})
    metadata: dict[str, Any] = {
        "usage": reply.usage,
        "metrics": {"latencyMs": latency_ms},
        "serviceTier": {"type": reply.service_tier},
    }
    if trace is not None:
        metadata["trace"] = trace
    yield encode_event("metadata", metadata)


class _StubServer(ThreadingHTTPServer):
    daemon_threads = True
    state: StubState

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (its read timeout) closes the socket under a delayed answer: expected.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class BedrockRuntimeStub:
    """The stand-in as an object: ``with BedrockRuntimeStub() as stub: ... stub.url ...``.

    ``port=0`` picks a free port. ``reply_tokens`` fixes the reply length; ``latency_ms`` delays every
    model call; ``models`` maps known model ids (e.g. profile ARNs) to their max output tokens.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        reply_tokens: int | None = None,
        latency_ms: int = 0,
        models: Mapping[str, int | None] | None = None,
        first_token_ms: int = 0,
        token_interval_ms: int = 0,
    ) -> None:
        self._state = StubState(
            reply_tokens=reply_tokens,
            base_latency_ms=latency_ms,
            models=dict(models or {}),
            first_token_ms=first_token_ms,
            token_interval_ms=token_interval_ms,
        )
        self._server = _StubServer((host, port), _Handler)
        self._server.state = self._state
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> BedrockRuntimeStub:
        self._thread = threading.Thread(target=self._server.serve_forever, name="bedrock-stub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._state.stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> BedrockRuntimeStub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- the control API, in-process -----------------------------------------------------------------

    def inject_fault(
        self, mode: str, count: int | None = 1, model_id: str | None = None, latency_ms: int = 0
    ) -> None:
        fault = parse_fault({"mode": mode, "count": count, "modelId": model_id, "latencyMs": latency_ms})
        with self._state.lock:
            self._state.faults.append(fault)

    def clear_faults(self) -> None:
        with self._state.lock:
            self._state.faults.clear()

    @contextlib.contextmanager
    def pacing(self, first_token_ms: int, token_interval_ms: int) -> Iterator[None]:
        """Streams paced like a model's for a while (``first_token_ms``, ``token_interval_ms`` as at
        construction), then as before."""
        with self._state.lock:
            before = self._state.first_token_ms, self._state.token_interval_ms
            self._state.first_token_ms, self._state.token_interval_ms = first_token_ms, token_interval_ms
        try:
            yield
        finally:
            with self._state.lock:
                self._state.first_token_ms, self._state.token_interval_ms = before

    def register_model(self, model_id: str, max_output_tokens: int | None) -> None:
        with self._state.lock:
            self._state.models[model_id] = max_output_tokens

    def requests(self) -> list[dict[str, Any]]:
        """Every model call received, in arrival order; ``status`` is None while one is being answered."""
        with self._state.lock:
            return [dict(entry) for entry in self._state.requests]

    def clear_requests(self) -> None:
        with self._state.lock:
            self._state.requests.clear()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--latency-ms", type=int, default=0)
    args = parser.parse_args(argv)
    with BedrockRuntimeStub(port=args.port, latency_ms=args.latency_ms) as stub:
        print(f"Bedrock runtime stand-in on {stub.url} (Ctrl-C stops it)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping")


if __name__ == "__main__":
    main()
