"""The rules every request body meets (docs/design.md section 5), each broken one a precise 400.

The pieces the surfaces share: the body parser (size, JSON, unicode), the JSON API's messages,
parameters and tags, tag values, the user header, and how many output tokens fit a route's time.
``core/converse.py`` builds the one request model from them (``parse_json_api`` for the JSON API) and
checks what depends on the chosen model (``check_against_model``).

Error codes (all 400 unless noted):
  body_too_large (413), invalid_json, body_not_object, unknown_field, missing_messages, invalid_message,
  invalid_role, empty_content, role_order, invalid_parameter, unknown_parameter,
  max_tokens_above_model_limit, top_k_not_supported, invalid_model, missing_tag, invalid_tag, unknown_tag,
  invalid_user, invalid_unicode, generation_too_long.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cost_sentry.core.catalog import ModelSpec
from cost_sentry.core.errors import BadRequest, PayloadTooLarge

ROLES = ("system", "user", "assistant")
TOP_LEVEL_FIELDS = frozenset({"model", "prompt", "tags"})
PROMPT_FIELDS = frozenset({"messages", "parameters"})
MESSAGE_FIELDS = frozenset({"role", "content"})
PARAMETER_ORDER = ("max_tokens", "temperature", "top_p", "top_k")
PARAMETERS = frozenset(PARAMETER_ORDER)
TAGS = frozenset({"applicationId", "costCenter", "environment"})
TOP_K_MAX = 500
MAX_WHOLE_PARAMETER = 10**9
TAG_VALUE_MAX = 256
# The characters AWS allows in tag values besides letters, digits and spaces.
TAG_PUNCTUATION = frozenset("_.:/=+-@")
# Used when the caller sends no max_tokens: it is also sent to Bedrock, so the reservation stays a true
# worst case (Converse would otherwise default to the model's maximum, which can be 64k tokens).
DEFAULT_MAX_TOKENS = 1024
# Allowed before the first output token (queueing, reading the prompt) in the generation-time rule.
FIRST_TOKEN_SECONDS = 3
# The end user becomes the STS RoleSessionName ([\w+=,.@-]{2,64}) and the value of the `user` session
# tag ([\p{L}\p{Z}\p{N}_.:/=+\-@]*) of per-user sessions: only what both accept. The comma passes the
# first and STS refuses it in the second, so it is out.
USER_PATTERN = re.compile(r"[A-Za-z0-9_+=.@-]{2,64}")
USER_RULE = "2 to 64 letters, digits or _+=.@- (it becomes an STS role session name and session tag)"


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class Parameters:
    max_tokens: int | None = None
    temperature: Decimal | None = None
    top_p: Decimal | None = None
    top_k: int | None = None


@dataclass(frozen=True)
class RequestTags:
    application_id: str
    cost_center: str | None = None
    environment: str | None = None


def reject_unknown(given: Mapping[str, Any], allowed: frozenset[str], code: str, where: str) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        allowed_text = ", ".join(sorted(allowed))
        raise BadRequest(code, f"unknown {where}: {', '.join(unknown)}; allowed: {allowed_text}")


def _small_whole(value: object) -> int | None:
    """The value as an int if it is a whole JSON number of at most 9 digits, else None.

    The magnitude is checked on the exponent, without arithmetic: int() or abs() of a number like
    1e999999999 would exhaust memory or overflow the decimal context.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -MAX_WHOLE_PARAMETER <= value <= MAX_WHOLE_PARAMETER else None
    if isinstance(value, Decimal) and value.is_finite() and value.adjusted() < 9:
        return int(value) if value == value.to_integral_value() else None
    return None


def _whole_parameter(name: str, value: object, low: int, high: int | None) -> int:
    number = _small_whole(value)
    if number is None:
        raise BadRequest("invalid_parameter", f"parameters.{name} must be a whole number, got {value!r}")
    if number < low or (high is not None and number > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise BadRequest("invalid_parameter", f"parameters.{name} must be {bound}, got {number}")
    return number


def _unit_parameter(name: str, value: object) -> Decimal:
    if not isinstance(value, int | Decimal) or isinstance(value, bool):
        raise BadRequest("invalid_parameter", f"parameters.{name} must be a number, got {value!r}")
    number = Decimal(value)
    if not number.is_finite() or number < 0 or number > 1:
        raise BadRequest("invalid_parameter", f"parameters.{name} must be between 0 and 1, got {value}")
    return number


def parse_parameters(raw: object) -> Parameters:
    if raw is None:
        return Parameters()
    if not isinstance(raw, dict):
        raise BadRequest("invalid_parameter", "prompt.parameters must be an object")
    reject_unknown(raw, PARAMETERS, "unknown_parameter", "parameter(s)")
    max_tokens, temperature, top_p, top_k = (raw.get(name) for name in PARAMETER_ORDER)
    return Parameters(
        # The model's own ceiling is checked once the model is known (core/converse.py check_against_model).
        max_tokens=None if max_tokens is None else _whole_parameter("max_tokens", max_tokens, 1, None),
        temperature=None if temperature is None else _unit_parameter("temperature", temperature),
        top_p=None if top_p is None else _unit_parameter("top_p", top_p),
        top_k=None if top_k is None else _whole_parameter("top_k", top_k, 1, TOP_K_MAX),
    )


def parse_messages(raw: object) -> tuple[tuple[str, ...], tuple[Message, ...]]:
    if raw is None or (isinstance(raw, list) and not raw):
        raise BadRequest("missing_messages", "prompt.messages must be a non-empty list")
    if not isinstance(raw, list):
        raise BadRequest("missing_messages", "prompt.messages must be a list of {role, content} objects")
    system: list[str] = []
    conversation: list[Message] = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise BadRequest("invalid_message", f"prompt.messages[{index}] must be an object")
        reject_unknown(entry, MESSAGE_FIELDS, "unknown_field", f"field(s) in prompt.messages[{index}]")
        role = entry.get("role")
        if role not in ROLES:
            roles = ", ".join(ROLES)
            message = f"prompt.messages[{index}].role must be one of {roles}, got {role!r}"
            raise BadRequest("invalid_role", message)
        content = entry.get("content")
        if not isinstance(content, str) or not content.strip():
            raise BadRequest("empty_content", f"prompt.messages[{index}].content must be a non-empty string")
        if role == "system":
            if conversation:
                raise BadRequest(
                    "role_order", f"prompt.messages[{index}]: system messages must precede the conversation"
                )
            system.append(content)
            continue
        expected = "user" if not conversation or conversation[-1].role == "assistant" else "assistant"
        if role != expected:
            raise BadRequest(
                "role_order",
                f"prompt.messages[{index}] is {role!r} but {expected!r} was expected: after the system "
                "messages, user and assistant must alternate, starting with user (a final assistant "
                "message is a prefill the model continues)",
            )
        conversation.append(Message(role=role, content=content))
    # A final assistant message is a prefill (Converse takes it for the models that support it; Bedrock
    # refuses it for the others, and that 400 releases the reservation).
    if not conversation:
        raise BadRequest("role_order", "the conversation needs a user message after the system messages")
    return tuple(system), tuple(conversation)


def is_valid_tag_value(value: str) -> bool:
    """AWS tag values: up to 256 letters, digits, spaces and ``_ . : / = + - @`` (Unicode letters too)."""
    if len(value) > TAG_VALUE_MAX:
        return False
    for char in value:
        category = unicodedata.category(char)
        if category[0] in {"L", "N", "Z"} or char in TAG_PUNCTUATION:
            continue
        return False
    return True


def parse_tags(raw: object) -> RequestTags:
    if not isinstance(raw, dict):
        raise BadRequest("missing_tag", "tags must be an object with at least applicationId")
    reject_unknown(raw, TAGS, "unknown_tag", "tag(s)")
    for key, value in raw.items():
        if value is None and key != "applicationId":
            continue
        if not isinstance(value, str) or not is_valid_tag_value(value):
            raise BadRequest(
                "invalid_tag",
                f"tags.{key} must be a string of at most {TAG_VALUE_MAX} letters, digits, spaces or _.:/=+-@",
            )
    application_id = raw.get("applicationId")
    if not application_id:
        raise BadRequest("missing_tag", "tags.applicationId is required")
    return RequestTags(
        application_id=application_id, cost_center=raw.get("costCenter"), environment=raw.get("environment")
    )


def parse_body(body: bytes, max_body_bytes: int) -> dict[str, Any]:
    """Size check before parsing, then JSON with exact decimals."""
    if len(body) > max_body_bytes:
        message = f"the body has {len(body)} bytes; the limit is {max_body_bytes}"
        raise PayloadTooLarge("body_too_large", message)
    try:
        document = json.loads(body.decode("utf-8"), parse_float=Decimal, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("invalid_json", f"the body is not valid UTF-8 JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("invalid_json", "the body nests too deeply") from None
    if not isinstance(document, dict):
        raise BadRequest("body_not_object", "the body must be a JSON object")
    if _SURROGATE_ESCAPE.search(body):
        where = _lone_surrogate_path(document)
        if where is not None:
            raise BadRequest(
                "invalid_unicode",
                f"{where} holds a lone UTF-16 surrogate escape (such as \\ud800), which is not a "
                "character: send valid Unicode (a surrogate pair, or the character itself in UTF-8)",
            )
    return document


# A lone surrogate can only arrive as a JSON escape in D800-DFFF (UTF-8 cannot encode one), so only
# bodies with such an escape are walked; json.loads joins valid pairs, so any surrogate left is lone.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _lone_surrogate_path(document: Any) -> str | None:
    """Where the first string (or key) with a lone surrogate is, as a path like prompt.messages[0].content."""
    pending: list[tuple[str, Any]] = [("the body", document)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                return path
        elif isinstance(value, dict):
            for key, item in value.items():
                if _SURROGATE.search(key):
                    return f"a key of {path}"
                pending.append((key if path == "the body" else f"{path}.{key}", item))
        elif isinstance(value, list):
            pending.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
    return None


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def max_tokens_within(spec: ModelSpec, seconds: int) -> int:
    """The most output tokens the model surely generates in ``seconds`` (README, "Accepted requests
    can finish"): time to the first token, then the model's conservative output speed."""
    return max(0, (seconds - FIRST_TOKEN_SECONDS) * spec.min_output_tokens_per_second)


def fitting_max_tokens(requested: int | None, spec: ModelSpec, generation_limit_seconds: int | None) -> int:
    """The max_tokens to send: the caller's, or the default lowered to what the route's time allows;
    a request the model may not finish in time is refused (400 generation_too_long), never cut off."""
    fits = spec.max_output_tokens
    if generation_limit_seconds is not None:
        fits = min(fits, max_tokens_within(spec, generation_limit_seconds))
    wanted = requested if requested is not None else min(DEFAULT_MAX_TOKENS, fits)
    if wanted > fits or wanted < 1:
        advice = "lower max_tokens"
        raise BadRequest(
            "generation_too_long",
            f"{spec.short_name} may need {FIRST_TOKEN_SECONDS} s plus {wanted} tokens at "
            f"{spec.min_output_tokens_per_second} tokens/s to answer, more than the "
            f"{generation_limit_seconds} s this route allows: {advice} (at most {fits} here)",
        )
    return wanted


def parse_user(raw: str | None) -> str | None:
    """The optional x-cost-sentry-user header, checked as an STS RoleSessionName."""
    if raw is None:
        return None
    if not USER_PATTERN.fullmatch(raw):
        raise BadRequest("invalid_user", f"x-cost-sentry-user must be {USER_RULE}")
    return raw
