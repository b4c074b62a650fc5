"""The worst case a request can cost, reserved before Bedrock is called. Pure functions.

Every bound is derived in docs/design.md section 7.3. In short: input tokens are bounded by UTF-8
bytes (every tokenizer of the catalog's families, byte-level BPE or SentencePiece with byte fallback,
emits at least one byte of text per token) plus generous template overheads per message, per block and
per request; tool definitions and tool blocks count as their JSON text plus the tool-use system prompt;
an image costs at most its family's per-image maximum (less when its header gives its size and the
family documents pixels per token); a document in a text format costs its bytes, one in a binary format
(PDF, Office) the whole context window; and no request's input can exceed the model's context window,
which Bedrock enforces. Every input token is priced at the dearest rate it could be billed at (a cache
write of the request's dearest TTL when it has cache points), in the dearer of the requested tier and
the default one, for the profile kind that serves the tenant. Output is max_tokens (reasoning is
generated inside it). Over-estimating costs nothing lasting: the difference is given back on settle.

A request with ``guardrailConfig`` also reserves its guardrail's worst case (docs/design.md 7.3): the
text units of every block it sends (each block rounded up on its own) and of max_tokens at
MAX_CHARACTERS_PER_OUTPUT_TOKEN (a stream's output: one more unit per chunk the guardrail may assess,
at most one chunk per token), each unit at every priced policy's rate, plus each image at the image rate.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cost_sentry.core.catalog import ModelSpec
from cost_sentry.core.pricing import TEXT_UNIT_CHARACTERS, femtos_to_nanos_ceiling

if TYPE_CHECKING:
    from cost_sentry.core.converse import ConverseRequest

PER_MESSAGE_OVERHEAD_TOKENS = 16
PER_REQUEST_OVERHEAD_TOKENS = 64
PER_BLOCK_OVERHEAD_TOKENS = PER_MESSAGE_OVERHEAD_TOKENS
# Anthropic documents 346 tokens for its tool-use system prompt (Claude 4, tool_choice auto); the bound
# is generous for every family, per request that defines tools.
TOOL_SYSTEM_PROMPT_TOKENS = 1024
PER_TOOL_OVERHEAD_TOKENS = 32
# Guardrails: the most characters one output token can stand for. Not provable (Bedrock does not publish
# its models' vocabularies); English averages about 4 and code about 3, and the longest entries of the
# published byte-level BPE vocabularies (runs of spaces, dashes, repeated punctuation) stay within a few
# tens. The real units are settled whatever they are (docs/design.md 7.3).
MAX_CHARACTERS_PER_OUTPUT_TOKEN = 32


def input_token_upper_bound(texts: Sequence[str]) -> int:
    return (
        sum(len(text.encode("utf-8")) for text in texts)
        + PER_MESSAGE_OVERHEAD_TOKENS * len(texts)
        + PER_REQUEST_OVERHEAD_TOKENS
    )


@dataclass(frozen=True)
class WorstCase:
    input_tokens: int
    output_tokens: int
    cost_nanos: int
    # The part of cost_nanos that is the guardrail's worst case (0 without guardrailConfig).
    guardrail_nanos: int = 0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def worst_case(spec: ModelSpec, texts: Sequence[str], max_tokens: int) -> WorstCase:
    """Plain texts, default tier, no cache points."""
    input_tokens = min(input_token_upper_bound(texts), spec.context_tokens)
    return WorstCase(
        input_tokens=input_tokens,
        output_tokens=max_tokens,
        cost_nanos=spec.cost_nanos(input_tokens, max_tokens),
    )


def _json_bytes(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8"))


def image_dimensions(fmt: str, data: bytes) -> tuple[int, int] | None:
    """Width and height from the image's header (PNG, GIF, JPEG, WebP), or None when unreadable."""
    try:
        if fmt == "png" and data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
            return struct.unpack(">II", data[16:24])
        if fmt == "gif" and data[:3] == b"GIF":
            return struct.unpack("<HH", data[6:10])
        if fmt == "webp" and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            chunk = data[12:16]
            if chunk == b"VP8X":
                width = int.from_bytes(data[24:27], "little") + 1
                return width, int.from_bytes(data[27:30], "little") + 1
            if chunk == b"VP8L":
                bits = int.from_bytes(data[21:25], "little")
                return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
            if chunk == b"VP8 ":
                width, height = struct.unpack("<HH", data[26:30])
                return width & 0x3FFF, height & 0x3FFF
        if fmt == "jpeg" and data[:2] == b"\xff\xd8":
            offset = 2
            while offset + 9 < len(data):
                if data[offset] != 0xFF:
                    return None
                marker = data[offset + 1]
                length = struct.unpack(">H", data[offset + 2 : offset + 4])[0]
                if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                    height, width = struct.unpack(">HH", data[offset + 5 : offset + 9])
                    return width, height
                offset += 2 + length
    except struct.error:
        return None
    return None


def image_token_bound(spec: ModelSpec, fmt: str, data: bytes) -> int:
    cap = spec.image_tokens_max or spec.context_tokens
    size = image_dimensions(fmt, data) if spec.pixels_per_token else None
    if size is None or not size[0] or not size[1]:
        return cap
    # Ceiling of pixels / pixels-per-token, plus a margin for the image's framing tokens.
    by_size = -(-(size[0] * size[1]) // spec.pixels_per_token) + PER_BLOCK_OVERHEAD_TOKENS  # type: ignore[operator]
    return min(cap, by_size)


def _block_tokens(spec: ModelSpec, block: Mapping[str, Any]) -> int:
    if "text" in block:
        return len(block["text"].encode("utf-8"))
    if "image" in block:
        image = block["image"]
        return image_token_bound(spec, image["format"], image["source"]["bytes"])
    if "document" in block:
        document = block["document"]
        size = len(document["source"]["bytes"]) + len(document["name"].encode("utf-8"))
        if document["format"] in ("csv", "html", "txt", "md"):
            return size
        return spec.context_tokens  # a compressed format: its text is not bounded by its bytes
    if "toolUse" in block:
        return _json_bytes(block["toolUse"])
    if "toolResult" in block:
        # Its inner blocks are counted on their own (ConverseRequest.blocks yields them).
        return len(block["toolResult"]["toolUseId"]) + PER_BLOCK_OVERHEAD_TOKENS
    if "json" in block:
        return _json_bytes(block["json"])
    if "reasoningContent" in block:
        reasoning = block["reasoningContent"]
        if "redactedContent" in reasoning:
            return len(reasoning["redactedContent"])
        return _json_bytes(reasoning)
    if "guardContent" in block:
        return _json_bytes(block["guardContent"])
    return 0  # cachePoint: a marker, no tokens


def request_input_bound(spec: ModelSpec, request: ConverseRequest) -> int:
    # Every message has at least one block, so the per-block overhead also covers its role markers.
    tokens = PER_REQUEST_OVERHEAD_TOKENS
    for block in request.blocks():
        tokens += _block_tokens(spec, block) + PER_BLOCK_OVERHEAD_TOKENS
    if request.tool_config is not None:
        tools = request.tool_config["tools"]
        tokens += TOOL_SYSTEM_PROMPT_TOKENS + _json_bytes(request.tool_config)
        tokens += PER_TOOL_OVERHEAD_TOKENS * len(tools)
    if request.guardrail_config is not None:
        tokens += _json_bytes(request.guardrail_config)
    # Bedrock refuses a prompt longer than the model's context window: no input can cost more.
    return min(tokens, spec.context_tokens)


def text_units(characters: int) -> int:
    """Guardrail text units of one assessed text: up to TEXT_UNIT_CHARACTERS characters each."""
    return -(-characters // TEXT_UNIT_CHARACTERS)


def characters(text: str) -> int:
    """Characters as a UTF-16 string counts them (a character outside the BMP counts 2): never fewer
    than code points, whichever of the two Bedrock counts."""
    return len(text.encode("utf-16-le")) // 2


def _json_characters(value: Any) -> int:
    return characters(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str))


def _block_guardrail_units(spec: ModelSpec, block: Mapping[str, Any]) -> tuple[int, int]:
    """(text units, images) a guardrail can assess in one content block, the block on its own."""
    if "text" in block:
        return text_units(characters(block["text"])), 0
    if "image" in block:
        return 0, 1
    if "guardContent" in block:
        guarded = block["guardContent"]
        if "image" in guarded:
            return 0, 1
        return text_units(_json_characters(guarded)), 0
    if "document" in block:
        document = block["document"]
        if document["format"] in ("csv", "html", "txt", "md"):
            return text_units(len(document["source"]["bytes"])), 0  # a byte is at least a character
        # Text extracted from a compressed format is bounded only by what the model can read.
        return text_units(spec.context_tokens * MAX_CHARACTERS_PER_OUTPUT_TOKEN), 0
    if "toolUse" in block or "json" in block or "reasoningContent" in block:
        return text_units(_json_characters(block)), 0
    return 0, 0  # cachePoint, and toolResult itself (its inner blocks are counted on their own)


def guardrail_input_units(spec: ModelSpec, request: ConverseRequest) -> tuple[int, int]:
    """(text units, images) of the input assessment: every block the request sends, each rounded up
    on its own (at least as many units as any grouping of them into assessed texts), tool definitions
    too; every image once."""
    units = images = 0
    for block in request.blocks():
        block_units, block_images = _block_guardrail_units(spec, block)
        units += block_units
        images += block_images
    if request.tool_config is not None:
        units += text_units(_json_characters(request.tool_config))
    return units, images


def guardrail_output_units(max_tokens: int, stream: bool) -> int:
    """Text units of the output assessments. Converse assesses the response once: at most max_tokens x
    MAX_CHARACTERS_PER_OUTPUT_TOKEN characters. ConverseStream assesses it chunk by chunk, each chunk
    rounded up to whole units: sum(ceil(c_i / 1000)) <= floor(C / 1000) + n, and a chunk holds at least
    one generated token, so n <= max_tokens."""
    most_characters = max_tokens * MAX_CHARACTERS_PER_OUTPUT_TOKEN
    if stream:
        return most_characters // TEXT_UNIT_CHARACTERS + max_tokens
    return text_units(most_characters)


def guardrail_worst_nanos(spec: ModelSpec, request: ConverseRequest, max_tokens: int, stream: bool) -> int:
    """The most the request's guardrail can bill: every text unit at the rate of every priced policy
    (the gateway does not know which policies the guardrail has), every image at the image rate."""
    rates = spec.guardrail_rates
    if rates is None:
        raise ValueError(f"{spec.short_name}: the catalog has no guardrail rates")
    input_units, images = guardrail_input_units(spec, request)
    units = input_units + guardrail_output_units(max_tokens, stream)
    return units * rates.every_policy_text_unit_nanos + images * rates.image_nanos


def worst_case_for(
    spec: ModelSpec, request: ConverseRequest, max_tokens: int, *, stream: bool = False
) -> WorstCase:
    """The request's true upper bound: every content kind, cache writes, tier and profile kind, and
    its guardrail when it has one (``stream``: ConverseStream, whose output is assessed in chunks)."""
    input_tokens = request_input_bound(spec, request)
    rates = spec.prices.worst_rates(request.service_tier, spec.profile_kind)
    femtos = input_tokens * rates.dearest_input(request.cache_ttls) + max_tokens * rates.output
    guardrail = 0
    if request.guardrail_config is not None:
        guardrail = guardrail_worst_nanos(spec, request, max_tokens, stream)
    return WorstCase(
        input_tokens=input_tokens,
        output_tokens=max_tokens,
        cost_nanos=femtos_to_nanos_ceiling(femtos) + guardrail,
        guardrail_nanos=guardrail,
    )
