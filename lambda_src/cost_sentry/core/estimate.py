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


# Converse arguments Bedrock does not feed to the model: the model id, the inference parameters (the
# output bound reads maxTokens from them; stop sequences end generation, they are not prompt), the
# invocation-log metadata, the tier and the response field selectors. Every other byte is model input.
NOT_MODEL_INPUT = frozenset(
    {
        "modelId",
        "inferenceConfig",
        "requestMetadata",
        "serviceTier",
        "additionalModelResponseFieldPaths",
        "performanceConfig",
    }
)
TEXT_DOCUMENT_FORMATS = frozenset({"csv", "html", "txt", "md"})


def _source_bytes(source: Any) -> bytes | None:
    data = source.get("bytes") if isinstance(source, Mapping) else None
    if isinstance(data, bytearray):  # never from the parsers (they give bytes), but a caller may
        return bytes(data)
    return data if isinstance(data, bytes) else None


def _rest(value: Mapping[str, Any], known: frozenset[str]) -> int:
    """Bytes of every member of ``value`` the rule for its kind does not price: counted as text."""
    rest = {name: member for name, member in value.items() if name not in known}
    return _json_bytes(rest) if rest else 0


def _image_tokens(spec: ModelSpec, image: Mapping[str, Any]) -> int:
    data = _source_bytes(image.get("source"))
    source_rest = _rest(image.get("source") or {}, frozenset({"bytes"}))
    bound = image_token_bound(spec, str(image.get("format")), data) if data else spec.context_tokens
    return bound + source_rest + _rest(image, frozenset({"format", "source"}))


def _document_tokens(spec: ModelSpec, document: Mapping[str, Any]) -> int:
    """A text format: its bytes, as text; a compressed format (or bytes the gateway cannot see): the
    whole context window, since its extracted text is not bounded by its size. Name, context,
    citations settings and anything else: their bytes, as text."""
    data = _source_bytes(document.get("source"))
    is_text = data is not None and document.get("format") in TEXT_DOCUMENT_FORMATS
    body = len(data) if is_text and data is not None else spec.context_tokens
    source_rest = _rest(document.get("source") or {}, frozenset({"bytes"}))
    return body + source_rest + _rest(document, frozenset({"source", "format"}))


def _block_tokens(spec: ModelSpec, block: Mapping[str, Any]) -> int:
    """One content block, overhead included. Each member is priced by its own rule; a member no rule
    knows counts as its JSON text at full length."""
    tokens = PER_BLOCK_OVERHEAD_TOKENS
    for name, value in block.items():
        if name == "text" and isinstance(value, str):
            tokens += len(value.encode("utf-8"))
        elif name == "image" and isinstance(value, Mapping):
            tokens += _image_tokens(spec, value)
        elif name == "document" and isinstance(value, Mapping):
            tokens += _document_tokens(spec, value)
        elif name == "toolResult" and isinstance(value, Mapping):
            tokens += len(str(value.get("toolUseId", "")).encode("utf-8")) + PER_BLOCK_OVERHEAD_TOKENS
            tokens += sum(_block_tokens(spec, inner) for inner in value.get("content") or ())
            tokens += _rest(value, frozenset({"toolUseId", "content"}))
        elif name == "reasoningContent" and isinstance(value, Mapping) and "redactedContent" in value:
            tokens += len(value["redactedContent"]) + _rest(value, frozenset({"redactedContent"}))
        elif name == "cachePoint":
            continue  # a marker: no tokens
        else:
            # toolUse, json, reasoning text, guardContent, and whatever a later API version adds.
            tokens += _json_bytes(value)
    return tokens


def _tool_config_tokens(tool_config: Any) -> int:
    tools = tool_config.get("tools") if isinstance(tool_config, Mapping) else None
    count = len(tools) if isinstance(tools, list) else 0
    return TOOL_SYSTEM_PROMPT_TOKENS + _json_bytes(tool_config) + PER_TOOL_OVERHEAD_TOKENS * count


def sent_input_bound(spec: ModelSpec, arguments: Mapping[str, Any]) -> int:
    """The most input tokens a Converse call with these arguments (exactly as sent to Bedrock) can
    bill: every byte the model can read counts, at one token per byte at most, except the binary
    payloads that have a proven bound of their own (images, document bytes). A member no rule knows
    is text at full length, so a field the gateway does not understand can never carry text past the
    reservation (docs/design.md 7.3)."""
    tokens = PER_REQUEST_OVERHEAD_TOKENS
    for name, value in arguments.items():
        if name in NOT_MODEL_INPUT:
            continue
        if name == "messages":
            for message in value:
                tokens += sum(_block_tokens(spec, block) for block in message.get("content") or ())
                tokens += _rest(message, frozenset({"role", "content"}))
        elif name == "system":
            tokens += sum(_block_tokens(spec, block) for block in value)
        elif name == "toolConfig":
            tokens += _tool_config_tokens(value)
        else:
            # additionalModelRequestFields (whole), guardrailConfig, anything else sent.
            tokens += _json_bytes(value)
    # Bedrock refuses a prompt longer than the model's context window: no input can cost more.
    return min(tokens, spec.context_tokens)


def request_input_bound(spec: ModelSpec, request: ConverseRequest) -> int:
    """The input bound of a request, over the model-input part of what would be sent for it."""
    return sent_input_bound(spec, request.model_input())


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
        # Its context and name are text the guardrail may assess with it.
        frame = _json_characters({name: value for name, value in document.items() if name != "source"})
        if document["format"] in TEXT_DOCUMENT_FORMATS:
            return text_units(len(document["source"]["bytes"]) + frame), 0  # a byte is at least a character
        # Text extracted from a compressed format is bounded only by what the model can read.
        return text_units(spec.context_tokens * MAX_CHARACTERS_PER_OUTPUT_TOKEN + frame), 0
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
    spec: ModelSpec,
    request: ConverseRequest,
    max_tokens: int,
    *,
    stream: bool = False,
    sent: Mapping[str, Any] | None = None,
) -> WorstCase:
    """The request's true upper bound: every content kind, cache writes, tier and profile kind, and
    its guardrail when it has one (``stream``: ConverseStream, whose output is assessed in chunks).
    ``sent`` is the Converse arguments exactly as they go to Bedrock (the gateway passes them); the
    input bound is taken over those, so whatever the gateway added is counted too."""
    input_tokens = sent_input_bound(spec, sent if sent is not None else request.model_input())
    rates = spec.prices.worst_rates(request.service_tier, spec.profile_kind)
    ttls = request.cache_ttls
    if _mentions_key(request.additional_fields, "cache_control"):
        # Cache breakpoints written in the model's own fields: any TTL the model offers may be written.
        ttls = ttls | spec.cache_ttls
    femtos = input_tokens * rates.dearest_input(ttls) + max_tokens * rates.output
    guardrail = 0
    if request.guardrail_config is not None:
        guardrail = guardrail_worst_nanos(spec, request, max_tokens, stream)
    return WorstCase(
        input_tokens=input_tokens,
        output_tokens=max_tokens,
        cost_nanos=femtos_to_nanos_ceiling(femtos) + guardrail,
        guardrail_nanos=guardrail,
    )


def _mentions_key(value: Any, key: str) -> bool:
    if isinstance(value, Mapping):
        return key in value or any(_mentions_key(member, key) for member in value.values())
    if isinstance(value, list | tuple):
        return any(_mentions_key(member, key) for member in value)
    return False
