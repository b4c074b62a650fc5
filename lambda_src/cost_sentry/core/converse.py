"""The content model every surface's request becomes: a Converse-shaped ConverseRequest. Pure.

Blocks are kept exactly as boto3's ``converse`` takes them (plain dicts, image and document bytes as
``bytes``), so building the Bedrock call is a copy. Each surface translates its own wire format into this
model (cost_sentry.surfaces.*) and names its own fields in its errors; ``parse_converse`` reads
Bedrock's own JSON (the Bedrock runtime surface), ``parse_json_api`` the JSON API's, and ``validate_conversation`` /
``check_against_model`` check what every surface shares. Every refusal is a BadRequest raised before
anything is reserved.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cost_sentry.core.catalog import ModelSpec
from cost_sentry.core.errors import BadRequest
from cost_sentry.core.pricing import CACHE_TTLS, SERVICE_TIERS
from cost_sentry.core.validation import (
    PROMPT_FIELDS,
    TOP_K_MAX,
    TOP_LEVEL_FIELDS,
    Parameters,
    RequestTags,
    _small_whole,
    fitting_max_tokens,
    parse_body,
    parse_messages,
    parse_parameters,
    parse_tags,
    reject_unknown,
)

CONTENT_BLOCKS = ("text", "image", "document", "toolUse", "toolResult", "cachePoint", "reasoningContent")
SYSTEM_BLOCKS = ("text", "cachePoint", "guardContent")
TOOL_RESULT_BLOCKS = ("text", "json", "image", "document")
IMAGE_FORMATS = ("png", "jpeg", "gif", "webp")
DOCUMENT_FORMATS = ("pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md")
# Documents whose bytes are their text: one token is at least one byte of it (docs/design.md 7.2).
TEXT_DOCUMENT_FORMATS = frozenset({"csv", "html", "txt", "md"})
MAX_IMAGE_BYTES = 3_750_000  # Bedrock's limit per image
MAX_DOCUMENT_BYTES = 4_500_000  # Bedrock's limit per document
MAX_STOP_SEQUENCES = 4
# Keys the gateway writes into requestMetadata (Bedrock's invocation logs then join the ledger).
# (adapters/bedrock.request_metadata writes exactly these; a caller may not set them.)
METADATA_KEYS = ("tenantId", "applicationId", "costCenter", "environment", "requestId", "model", "userId")
METADATA_MAX_ITEMS = 16
_METADATA_PATTERN = re.compile(r"[a-zA-Z0-9\s:_@$#=/+,.-]{1,256}")
_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
CONVERSE_FIELDS = frozenset(
    {
        "messages",
        "system",
        "inferenceConfig",
        "toolConfig",
        "guardrailConfig",
        "additionalModelRequestFields",
        "additionalModelResponseFieldPaths",
        "requestMetadata",
        "serviceTier",
        "modelId",
    }
)
# Converse fields the gateway refuses because it could not price them exactly.
UNPRICED_FIELDS = {
    "performanceConfig": "latency-optimized inference is priced differently and is not in the catalog",
    "promptVariables": "prompt management resources are not supported: send the messages themselves",
    "outputConfig": "outputConfig is not supported yet",
}


@dataclass(frozen=True)
class ConverseRequest:
    """One model call as Converse takes it, whatever the surface it came from."""

    model: str | None
    messages: tuple[dict[str, Any], ...]
    system: tuple[dict[str, Any], ...] = ()
    parameters: Parameters = field(default_factory=Parameters)
    stop_sequences: tuple[str, ...] = ()
    tool_config: dict[str, Any] | None = None
    additional_fields: dict[str, Any] | None = None
    response_field_paths: tuple[str, ...] = ()
    service_tier: str | None = None
    guardrail_config: dict[str, Any] | None = None
    request_metadata: Mapping[str, str] = field(default_factory=dict)
    tags: RequestTags | None = None  # the gateway's JSON API only

    # -- what the worst case needs (core/estimate.py) -------------------------------------------------

    def blocks(self) -> Iterator[dict[str, Any]]:
        """Every content block: the system's, then each message's, tool results' inner blocks too."""
        yield from self.system
        for message in self.messages:
            for block in message["content"]:
                yield block
                if "toolResult" in block:
                    yield from block["toolResult"]["content"]

    @property
    def cache_ttls(self) -> frozenset[str]:
        """TTLs of the request's cache points (a cache point without a ttl is a 5-minute one)."""
        points = [b["cachePoint"] for b in self.blocks() if "cachePoint" in b]
        for tool in (self.tool_config or {}).get("tools", ()):
            if "cachePoint" in tool:
                points.append(tool["cachePoint"])
        return frozenset(point.get("ttl", "5m") for point in points)

    @property
    def thinking_budget(self) -> int | None:
        thinking = (self.additional_fields or {}).get("thinking")
        if isinstance(thinking, Mapping) and thinking.get("type") == "enabled":
            return _small_whole(thinking.get("budget_tokens"))
        return None

    def model_input(self) -> dict[str, Any]:
        """The Converse arguments the model reads, as they are sent (adapters/bedrock.py adds the model
        id, the inference parameters and the metadata around them; core/estimate.py bounds these)."""
        sent: dict[str, Any] = {"messages": [dict(message) for message in self.messages]}
        if self.system:
            sent["system"] = [dict(block) for block in self.system]
        if self.additional_fields:
            sent["additionalModelRequestFields"] = dict(self.additional_fields)
        if self.tool_config is not None:
            sent["toolConfig"] = self.tool_config
        if self.guardrail_config is not None:
            sent["guardrailConfig"] = self.guardrail_config
        return sent

    def texts(self) -> list[str]:
        """The plain texts (the prompt log)."""
        return [b["text"] for b in self.blocks() if "text" in b]


# --------------------------------------------------------------------------------------------------
# The JSON API maps onto the model
# --------------------------------------------------------------------------------------------------


def parse_json_api(body: bytes, max_body_bytes: int) -> ConverseRequest:
    """The JSON API's body (docs/design.md section 5) as the one request model, or a precise 400."""
    document = parse_body(body, max_body_bytes)
    reject_unknown(document, TOP_LEVEL_FIELDS, "unknown_field", "field(s)")
    model = document.get("model")
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise BadRequest("invalid_model", "model must be a non-empty string when given")
    prompt = document.get("prompt")
    if not isinstance(prompt, dict):
        raise BadRequest("missing_messages", "prompt must be an object with a messages list")
    reject_unknown(prompt, PROMPT_FIELDS, "unknown_field", "field(s) in prompt")
    system, messages = parse_messages(prompt.get("messages"))
    return ConverseRequest(
        model=model,
        system=tuple({"text": text} for text in system),
        messages=tuple({"role": m.role, "content": [{"text": m.content}]} for m in messages),
        parameters=parse_parameters(prompt.get("parameters")),
        tags=parse_tags(document.get("tags")),
    )


# --------------------------------------------------------------------------------------------------
# Bedrock's Converse JSON (the Bedrock runtime surface): bytes arrive base64-encoded
# --------------------------------------------------------------------------------------------------


def plain_json(value: Any) -> Any:
    """A JSON document as the SDK serializes it: the exact Decimals of the body parser become int/float
    (tool schemas, tool inputs and model fields are the caller's data, not money)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: plain_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_json(item) for item in value]
    return value


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest("invalid_field", f"{where} must be an object")
    return value


def _string(value: Any, where: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not allow_empty and not value):
        raise BadRequest("invalid_field", f"{where} must be a non-empty string")
    return value


def _one_member(block: Any, allowed: Sequence[str], where: str) -> str:
    if not isinstance(block, dict) or len(block) != 1:
        raise BadRequest(
            "invalid_content", f"{where} must be an object with exactly one of: {', '.join(allowed)}"
        )
    (name,) = block
    if name not in allowed:
        raise BadRequest(
            "unsupported_content", f"{where}.{name} is not supported here; use one of: {', '.join(allowed)}"
        )
    return str(name)


def decode_base64(value: Any, where: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise BadRequest("invalid_content", f"{where} must be base64-encoded bytes")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("invalid_content", f"{where} is not valid base64") from None


def _source_bytes(source: Any, where: str, limit: int) -> bytes:
    source = _object(source, f"{where}.source")
    if "s3Location" in source:
        raise BadRequest(
            "unsupported_content",
            f"{where}.source.s3Location is not supported: the gateway cannot bound the cost of an object "
            "it does not see; send the bytes inline (source.bytes)",
        )
    if set(source) != {"bytes"}:
        raise BadRequest("invalid_content", f'{where}.source must be {{"bytes": <base64>}}')
    data = decode_base64(source["bytes"], f"{where}.source.bytes")
    if not data:
        raise BadRequest("invalid_content", f"{where}.source.bytes is empty")
    if len(data) > limit:
        raise BadRequest("content_too_large", f"{where} has {len(data)} bytes; Bedrock's limit is {limit}")
    return data


def image_block(fmt: Any, data: bytes, where: str) -> dict[str, Any]:
    if fmt not in IMAGE_FORMATS:
        raise BadRequest(
            "invalid_content", f"{where}.format must be one of {', '.join(IMAGE_FORMATS)}, got {fmt!r}"
        )
    if not data or len(data) > MAX_IMAGE_BYTES:
        raise BadRequest(
            "content_too_large", f"{where} must hold 1 to {MAX_IMAGE_BYTES} bytes, got {len(data)}"
        )
    return {"image": {"format": fmt, "source": {"bytes": data}}}


def _parse_image(raw: Any, where: str) -> dict[str, Any]:
    raw = _object(raw, where)
    return image_block(raw.get("format"), _source_bytes(raw.get("source"), where, MAX_IMAGE_BYTES), where)


def _parse_document(raw: Any, where: str) -> dict[str, Any]:
    raw = _object(raw, where)
    fmt = raw.get("format")
    if fmt not in DOCUMENT_FORMATS:
        raise BadRequest(
            "invalid_content", f"{where}.format must be one of {', '.join(DOCUMENT_FORMATS)}, got {fmt!r}"
        )
    name = _string(raw.get("name"), f"{where}.name")
    block = {
        "format": fmt,
        "name": name,
        "source": {"bytes": _source_bytes(raw.get("source"), where, MAX_DOCUMENT_BYTES)},
    }
    if "context" in raw:
        block["context"] = _string(raw["context"], f"{where}.context")
    if "citations" in raw:
        block["citations"] = _object(raw["citations"], f"{where}.citations")
    return {"document": block}


def cache_point(raw: Any, where: str) -> dict[str, Any]:
    raw = _object(raw, where)
    if raw.get("type") != "default":
        raise BadRequest("invalid_content", f'{where}.type must be "default"')
    point: dict[str, Any] = {"type": "default"}
    if "ttl" in raw:
        if raw["ttl"] not in CACHE_TTLS:
            raise BadRequest(
                "invalid_content", f"{where}.ttl must be one of {', '.join(CACHE_TTLS)}, got {raw['ttl']!r}"
            )
        point["ttl"] = raw["ttl"]
    return {"cachePoint": point}


def _parse_tool_result(raw: Any, where: str) -> dict[str, Any]:
    raw = _object(raw, where)
    result: dict[str, Any] = {"toolUseId": _string(raw.get("toolUseId"), f"{where}.toolUseId")}
    content = raw.get("content")
    if not isinstance(content, list) or not content:
        raise BadRequest("invalid_content", f"{where}.content must be a non-empty list")
    blocks = []
    for index, block in enumerate(content):
        inner = f"{where}.content[{index}]"
        name = _one_member(block, TOOL_RESULT_BLOCKS, inner)
        if name == "text":
            blocks.append({"text": _string(block["text"], f"{inner}.text", allow_empty=True)})
        elif name == "json":
            blocks.append({"json": plain_json(block["json"])})
        elif name == "image":
            blocks.append(_parse_image(block["image"], f"{inner}.image"))
        else:
            blocks.append(_parse_document(block["document"], f"{inner}.document"))
    result["content"] = blocks
    if "status" in raw:
        if raw["status"] not in ("success", "error"):
            raise BadRequest("invalid_content", f"{where}.status must be success or error")
        result["status"] = raw["status"]
    return {"toolResult": result}


def _parse_block(block: Any, where: str) -> dict[str, Any]:
    name = _one_member(block, CONTENT_BLOCKS, where)
    value = block[name]
    if name == "text":
        return {"text": _string(value, f"{where}.text")}
    if name == "image":
        return _parse_image(value, f"{where}.image")
    if name == "document":
        return _parse_document(value, f"{where}.document")
    if name == "cachePoint":
        return cache_point(value, f"{where}.cachePoint")
    if name == "toolUse":
        value = _object(value, f"{where}.toolUse")
        return {
            "toolUse": {
                "toolUseId": _string(value.get("toolUseId"), f"{where}.toolUse.toolUseId"),
                "name": _string(value.get("name"), f"{where}.toolUse.name"),
                "input": plain_json(value.get("input", {})),
            }
        }
    if name == "toolResult":
        return _parse_tool_result(value, f"{where}.toolResult")
    # reasoningContent: the model's own earlier thinking, passed back unchanged (its signature is checked
    # by the model); redacted reasoning arrives base64-encoded.
    value = _object(value, f"{where}.reasoningContent")
    if "redactedContent" in value:
        return {"reasoningContent": {"redactedContent": decode_base64(value["redactedContent"], where)}}
    return {"reasoningContent": plain_json(value)}


def parse_tool_config(raw: Any, where: str = "toolConfig") -> dict[str, Any]:
    raw = _object(raw, where)
    tools = raw.get("tools")
    if not isinstance(tools, list) or not tools:
        raise BadRequest("invalid_tools", f"{where}.tools must be a non-empty list")
    parsed: list[dict[str, Any]] = []
    names: set[str] = set()
    for index, tool in enumerate(tools):
        inner = f"{where}.tools[{index}]"
        kind = _one_member(tool, ("toolSpec", "cachePoint"), inner)
        if kind == "cachePoint":
            parsed.append(cache_point(tool["cachePoint"], f"{inner}.cachePoint"))
            continue
        spec = _object(tool["toolSpec"], f"{inner}.toolSpec")
        name = spec.get("name")
        if not isinstance(name, str) or not _TOOL_NAME.fullmatch(name):
            raise BadRequest(
                "invalid_tools", f"{inner}.toolSpec.name must be 1 to 64 letters, digits, _ or -"
            )
        if name in names:
            raise BadRequest("invalid_tools", f"{inner}.toolSpec.name {name!r} is defined twice")
        names.add(name)
        schema = _object(spec.get("inputSchema"), f"{inner}.toolSpec.inputSchema")
        if set(schema) != {"json"} or not isinstance(schema["json"], dict):
            raise BadRequest(
                "invalid_tools", f'{inner}.toolSpec.inputSchema must be {{"json": <JSON schema object>}}'
            )
        out: dict[str, Any] = {"name": name, "inputSchema": {"json": plain_json(schema["json"])}}
        if "description" in spec:
            out["description"] = _string(spec["description"], f"{inner}.toolSpec.description")
        if "strict" in spec:
            out["strict"] = bool(spec["strict"])
        parsed.append({"toolSpec": out})
    config: dict[str, Any] = {"tools": parsed}
    if "toolChoice" in raw and raw["toolChoice"] is not None:
        choice = raw["toolChoice"]
        kind = _one_member(choice, ("auto", "any", "tool"), f"{where}.toolChoice")
        if kind == "tool":
            chosen = _object(choice["tool"], f"{where}.toolChoice.tool").get("name")
            if chosen not in names:
                raise BadRequest(
                    "invalid_tools", f"{where}.toolChoice.tool.name {chosen!r} is not one of the tools"
                )
            config["toolChoice"] = {"tool": {"name": chosen}}
        else:
            config["toolChoice"] = {kind: {}}
    return config


def parse_service_tier(raw: Any, where: str = "serviceTier") -> str | None:
    if raw is None:
        return None
    tier = raw.get("type") if isinstance(raw, dict) else raw
    if tier not in SERVICE_TIERS:
        raise BadRequest("invalid_field", f"{where} must be one of {', '.join(SERVICE_TIERS)}, got {tier!r}")
    return str(tier)


def parse_request_metadata(raw: Any, where: str = "requestMetadata") -> dict[str, str]:
    if raw is None:
        return {}
    raw = _object(raw, where)
    for key, value in raw.items():
        if key in METADATA_KEYS:
            raise BadRequest("reserved_metadata", f"{where}.{key} is set by the gateway; use another key")
        if (
            not _METADATA_PATTERN.fullmatch(key)
            or not isinstance(value, str)
            or not _METADATA_PATTERN.fullmatch(value)
        ):
            raise BadRequest(
                "invalid_field",
                f"{where}.{key}: keys and values must be 1 to 256 of a-z A-Z 0-9 and :_@$#=/+,.-",
            )
    if len(raw) + len(METADATA_KEYS) > METADATA_MAX_ITEMS:
        raise BadRequest(
            "invalid_field", f"{where} may hold at most {METADATA_MAX_ITEMS - len(METADATA_KEYS)} keys"
        )
    return dict(raw)


def parse_guardrail_config(raw: Any, where: str = "guardrailConfig") -> dict[str, Any] | None:
    if raw is None:
        return None
    raw = _object(raw, where)
    config = {
        "guardrailIdentifier": _string(raw.get("guardrailIdentifier"), f"{where}.guardrailIdentifier"),
        "guardrailVersion": _string(raw.get("guardrailVersion"), f"{where}.guardrailVersion"),
    }
    for optional in ("trace", "streamProcessingMode"):
        if optional in raw:
            config[optional] = _string(raw[optional], f"{where}.{optional}")
    return config


def parse_inference_config(raw: Any, where: str = "inferenceConfig") -> tuple[Parameters, tuple[str, ...]]:
    if raw is None:
        return Parameters(), ()
    raw = _object(raw, where)
    unknown = sorted(set(raw) - {"maxTokens", "temperature", "topP", "stopSequences"})
    if unknown:
        raise BadRequest("unknown_field", f"unknown {where} field(s): {', '.join(unknown)}")
    return (
        Parameters(
            max_tokens=whole(raw.get("maxTokens"), f"{where}.maxTokens", 1, None),
            temperature=unit(raw.get("temperature"), f"{where}.temperature", 1),
            top_p=unit(raw.get("topP"), f"{where}.topP", 1),
        ),
        stop_sequences(raw.get("stopSequences"), f"{where}.stopSequences"),
    )


def whole(value: Any, where: str, low: int, high: int | None) -> int | None:
    if value is None:
        return None
    number = _small_whole(value)
    if number is None or number < low or (high is not None and number > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise BadRequest("invalid_parameter", f"{where} must be a whole number {bound}, got {value!r}")
    return number


def unit(value: Any, where: str, high: int) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise BadRequest("invalid_parameter", f"{where} must be a number, got {value!r}")
    number = Decimal(str(value))
    if not number.is_finite() or not 0 <= number <= high:
        raise BadRequest("invalid_parameter", f"{where} must be between 0 and {high}, got {value}")
    return number


def sampling(document: Mapping[str, Any], max_tokens: int | None, top_k: int | None = None) -> Parameters:
    """The inference parameters of an OpenAI or Anthropic body, which spell the sampling ones alike
    (``temperature`` and ``top_p``, each between 0 and 1 as Bedrock takes them)."""
    return Parameters(
        max_tokens=max_tokens,
        temperature=unit(document.get("temperature"), "temperature", 1),
        top_p=unit(document.get("top_p"), "top_p", 1),
        top_k=top_k,
    )


def stop_sequences(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(s, str) and s for s in value):
        raise BadRequest("invalid_parameter", f"{where} must be a list of non-empty strings")
    if len(value) > MAX_STOP_SEQUENCES:
        raise BadRequest("invalid_parameter", f"{where} may hold at most {MAX_STOP_SEQUENCES} sequences")
    return tuple(value)


def parse_converse(document: Mapping[str, Any], model: str | None) -> ConverseRequest:
    """Bedrock's Converse/ConverseStream JSON body (the model comes from the path)."""
    _reject_converse_fields(document)
    messages = _converse_messages(document.get("messages"))
    system = _converse_system(document.get("system") or [])
    parameters, stops = parse_inference_config(document.get("inferenceConfig"))
    extra = document.get("additionalModelRequestFields")
    paths = document.get("additionalModelResponseFieldPaths") or []
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise BadRequest("invalid_field", "additionalModelResponseFieldPaths must be a list of strings")
    request = ConverseRequest(
        model=model,
        messages=messages,
        system=system,
        parameters=parameters,
        stop_sequences=stops,
        tool_config=None if document.get("toolConfig") is None else parse_tool_config(document["toolConfig"]),
        additional_fields=None
        if extra is None
        else plain_json(_object(extra, "additionalModelRequestFields")),
        response_field_paths=tuple(paths),
        service_tier=parse_service_tier(document.get("serviceTier")),
        guardrail_config=parse_guardrail_config(document.get("guardrailConfig")),
        request_metadata=parse_request_metadata(document.get("requestMetadata")),
    )
    validate_conversation(request)
    return request


def _reject_converse_fields(document: Mapping[str, Any]) -> None:
    """Fields the gateway cannot price are refused with their reason; any other unknown field by name."""
    for name, reason in UNPRICED_FIELDS.items():
        if name in document:
            raise BadRequest("unsupported_field", f"{name}: {reason}")
    unknown = sorted(set(document) - CONVERSE_FIELDS)
    if unknown:
        raise BadRequest("unknown_field", f"unknown field(s): {', '.join(unknown)}")


def _converse_messages(raw_messages: Any) -> tuple[dict[str, Any], ...]:
    if not isinstance(raw_messages, list) or not raw_messages:
        raise BadRequest("missing_messages", "messages must be a non-empty list")
    messages = []
    for index, message in enumerate(raw_messages):
        where = f"messages[{index}]"
        message = _object(message, where)
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise BadRequest("invalid_role", f"{where}.role must be user or assistant, got {role!r}")
        content = message.get("content")
        if not isinstance(content, list) or not content:
            raise BadRequest("empty_content", f"{where}.content must be a non-empty list of content blocks")
        messages.append(
            {
                "role": role,
                "content": [_parse_block(b, f"{where}.content[{i}]") for i, b in enumerate(content)],
            }
        )
    return tuple(messages)


def _converse_system(raw_system: Any) -> tuple[dict[str, Any], ...]:
    if not isinstance(raw_system, list):
        raise BadRequest("invalid_field", "system must be a list of system content blocks")
    system: list[dict[str, Any]] = []
    for index, block in enumerate(raw_system):
        where = f"system[{index}]"
        name = _one_member(block, SYSTEM_BLOCKS, where)
        if name == "text":
            system.append({"text": _string(block["text"], f"{where}.text")})
        elif name == "cachePoint":
            system.append(cache_point(block["cachePoint"], f"{where}.cachePoint"))
        else:
            system.append({"guardContent": _object(block["guardContent"], f"{where}.guardContent")})
    return tuple(system)


# --------------------------------------------------------------------------------------------------
# What every surface shares
# --------------------------------------------------------------------------------------------------


def validate_conversation(request: ConverseRequest) -> None:
    """Roles alternate starting with user; tool use only from the assistant, results only from the
    user and only for a tool use of the turn before; tools defined when tool blocks appear."""
    expected = "user"
    pending: set[str] = set()
    has_tool_blocks = False
    for index, message in enumerate(request.messages):
        role = message["role"]
        if role != expected:
            raise BadRequest(
                "role_order",
                f"messages[{index}] is {role!r} but {expected!r} was expected: the conversation starts with "
                "a user message and then alternates user and assistant",
            )
        expected = "assistant" if role == "user" else "user"
        uses: set[str] = set()
        for position, block in enumerate(message["content"]):
            where = f"messages[{index}].content[{position}]"
            if "toolUse" in block:
                has_tool_blocks = True
                if role != "assistant":
                    raise BadRequest(
                        "invalid_content", f"{where}: a toolUse block belongs to an assistant message"
                    )
                uses.add(block["toolUse"]["toolUseId"])
            elif "toolResult" in block:
                has_tool_blocks = True
                if role != "user":
                    raise BadRequest(
                        "invalid_content", f"{where}: a toolResult block belongs to a user message"
                    )
                tool_use_id = block["toolResult"]["toolUseId"]
                if tool_use_id not in pending:
                    raise BadRequest(
                        "invalid_content",
                        f"{where}: toolResult for {tool_use_id!r} answers no toolUse of the previous assistant message",
                    )
            elif "reasoningContent" in block and role != "assistant":
                raise BadRequest(
                    "invalid_content", f"{where}: reasoningContent belongs to an assistant message"
                )
            elif "cachePoint" in block and position == 0:
                raise BadRequest(
                    "invalid_content", f"{where}: a cachePoint must follow the content it caches"
                )
        pending = uses
    if has_tool_blocks and request.tool_config is None:
        raise BadRequest(
            "invalid_tools", "the conversation holds toolUse/toolResult blocks: define the tools too"
        )
    if request.system and all("cachePoint" in block for block in request.system[:1]):
        raise BadRequest("invalid_content", "system[0]: a cachePoint must follow the content it caches")


def _content_kind(block: Mapping[str, Any]) -> str | None:
    for kind in ("image", "document"):
        if kind in block:
            return kind
    return None


# Names that set how much a model may generate (Anthropic, Nova, Llama, Mistral, Cohere, Titan, and
# the nested configs that carry them). The reservation's output bound is inferenceConfig.maxTokens,
# which the gateway always sends; one of these in additionalModelRequestFields could raise the output
# past it, so it is refused wherever it sits (compared lower-case, without "_" and "-").
_OUTPUT_LIMIT_NAMES = frozenset(
    {
        "maxtokens",
        "maxnewtokens",
        "maxtokenstosample",
        "maxgenlen",
        "maxcompletiontokens",
        "maxoutputtokens",
        "maxtokencount",
        "numpredict",
        "inferenceconfig",
        "textgenerationconfig",
        "generationconfig",
    }
)


def _output_limit_paths(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, Mapping):
        for name, member in value.items():
            where = f"{path}.{name}"
            if str(name).lower().replace("_", "").replace("-", "") in _OUTPUT_LIMIT_NAMES:
                yield where
            yield from _output_limit_paths(member, where)
    elif isinstance(value, list):
        for index, member in enumerate(value):
            yield from _output_limit_paths(member, f"{path}[{index}]")


def check_extra_fields(extra: Mapping[str, Any]) -> None:
    """additionalModelRequestFields may not move the output bound, and its beta flags must be a list of
    strings (a string would be read flag by flag and slip past the checks below)."""
    for where in _output_limit_paths(extra, "additionalModelRequestFields"):
        raise BadRequest(
            "output_limit_in_extra_fields",
            f"{where} would set the model's output limit outside inferenceConfig.maxTokens, which the "
            "gateway reserves for: remove it and set maxTokens (max_tokens) instead",
        )
    if "anthropic_beta" in extra:
        beta = extra["anthropic_beta"]
        if not isinstance(beta, list) or not all(isinstance(flag, str) for flag in beta):
            raise BadRequest(
                "invalid_field", "additionalModelRequestFields.anthropic_beta must be a list of strings"
            )
        if any("context-1m" in flag for flag in beta):
            raise BadRequest(
                "unsupported_field",
                "the 1M-token context beta is priced differently above 200k tokens and is not supported",
            )


def check_against_model(
    request: ConverseRequest,
    spec: ModelSpec,
    generation_limit_seconds: int | None = None,
) -> int:
    """Validate what depends on the model; returns the max_tokens to send (and to reserve for).

    With ``generation_limit_seconds`` (the route's time for the model, Settings.generation_limit_seconds),
    a max_tokens the model may not finish in time is refused rather than accepted and cut off; without
    a max_tokens, the default is lowered to what fits.
    """
    _check_parameters(request.parameters, spec)
    _check_capabilities(request, spec)
    check_extra_fields(request.additional_fields or {})
    max_tokens = fitting_max_tokens(request.parameters.max_tokens, spec, generation_limit_seconds)
    _check_thinking(request, max_tokens)
    return max_tokens


def _check_parameters(parameters: Parameters, spec: ModelSpec) -> None:
    if parameters.max_tokens is not None and parameters.max_tokens > spec.max_output_tokens:
        raise BadRequest(
            "max_tokens_above_model_limit",
            f"max_tokens is {parameters.max_tokens}; {spec.short_name} allows at most {spec.max_output_tokens}",
        )
    if parameters.top_k is not None:
        if spec.top_k_path is None:
            raise BadRequest(
                "top_k_not_supported", f"{spec.short_name} ({spec.family}) does not accept top_k"
            )
        if not 1 <= parameters.top_k <= TOP_K_MAX:
            raise BadRequest("invalid_parameter", f"top_k must be between 1 and {TOP_K_MAX}")


def _check_capabilities(request: ConverseRequest, spec: ModelSpec) -> None:
    """The model takes the request's content kinds and tools, and prices its cache TTLs and tier."""
    for block in request.blocks():
        kind = _content_kind(block)
        if kind is not None and kind not in spec.inputs:
            raise BadRequest(
                "unsupported_content",
                f"{spec.short_name} does not take {kind}s; it takes: {', '.join(sorted(spec.inputs))}",
            )
    if request.tool_config is not None and not spec.tools:
        raise BadRequest(
            "tools_not_supported", f"{spec.short_name} does not support tool use through Converse"
        )
    unsupported_ttls = request.cache_ttls - spec.cache_ttls
    if unsupported_ttls:
        offered = ", ".join(sorted(spec.cache_ttls)) or "none"
        raise BadRequest(
            "cache_not_supported",
            f"{spec.short_name} offers no prompt cache with ttl {', '.join(sorted(unsupported_ttls))} "
            f"(offered: {offered})",
        )
    if request.service_tier is not None and request.service_tier not in spec.prices.tiers:
        raise BadRequest(
            "service_tier_not_supported",
            f"{spec.short_name} has no {request.service_tier} tier priced; tiers: {', '.join(spec.prices.tiers)}",
        )


def _check_thinking(request: ConverseRequest, max_tokens: int) -> None:
    """Extended thinking is generated inside max_tokens, so its budget must leave room below it."""
    thinking = (request.additional_fields or {}).get("thinking")
    if thinking is None:
        return
    budget = request.thinking_budget
    if not isinstance(thinking, Mapping) or thinking.get("type") not in (
        "enabled",
        "disabled",
        "adaptive",
    ):
        raise BadRequest("invalid_parameter", 'thinking must be {"type": "enabled", "budget_tokens": N}')
    if thinking.get("type") == "enabled" and (budget is None or not 1024 <= budget < max_tokens):
        raise BadRequest(
            "invalid_parameter",
            f"thinking.budget_tokens must be at least 1024 and below max_tokens ({max_tokens}): thinking is "
            "generated inside max_tokens",
        )
