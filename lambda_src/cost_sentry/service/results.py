"""What the gateway service is asked, and what it answers: typed, so no surface reads another's body.

A surface (cost_sentry.surfaces) turns its wire format into an ``ApiCall`` and renders what comes back:

- ``GatewayService.converse`` answers a ``Completion``: the model's whole reply, the priced ``Usage``, the
  ``CostReport`` (the figures of the cost headers) and the call's attribution;
- ``GatewayService.stream`` yields ``Delta`` (text) and ``Event`` (every other ConverseStream event, as
  Bedrock sent it) as they arrive, then one ``Done`` with the same settled figures as a ``Completion``.

Both raise ``GatewayError`` for every refusal or failure: before anything is sent (the surface answers
with the error's status) or, for a stream, after events went out (the surface ends its stream with its
own error event). Nothing here knows a wire format.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cost_sentry.adapters.bedrock import RawEvent, TextDelta
from cost_sentry.core.catalog import ModelSpec
from cost_sentry.core.converse import ConverseRequest, parse_json_api
from cost_sentry.core.cost_report import CostReport
from cost_sentry.core.pricing import Usage

RequestParser = Callable[[bytes, int], ConverseRequest]

# A stream's events before its end are the Bedrock adapter's, unchanged: a text delta of one content
# block, and any other ConverseStream event (messageStart, contentBlockStart/Stop, tool-use and
# reasoning deltas, messageStop).
Delta = TextDelta
Event = RawEvent


@dataclass(frozen=True)
class ApiCall:
    """One request as the service needs it (no transport details)."""

    request_id: str
    api_key_id: str | None
    body: bytes = b""
    user_header: str | None = None
    # The request's name in metrics and logs (``converse``, ``openai-chat-stream``, ``bedrock-invoke``...).
    route: str = "converse"
    # How the body becomes the content model: each surface brings its own (the JSON API's by default).
    parser: RequestParser = parse_json_api
    # A surface's own check of the resolved model, before anything is reserved (InvokeModel's body
    # format is the model family's own); it raises BadRequest to refuse.
    model_check: Callable[[ModelSpec], None] | None = None


@dataclass(frozen=True)
class Attribution:
    """Who the call is billed to: the tenant's cost allocation tags, the user, and when."""

    application_id: str
    cost_center: str
    environment: str
    user: str | None
    timestamp: str  # ISO 8601 UTC, when the call was settled


@dataclass(frozen=True)
class Settled:
    """What every admitted model call that finished reports, buffered or streamed."""

    request_id: str
    model: str  # the catalog's short name
    model_id: str  # what was called: the tenant's inference profile ARN, or the model id
    usage: Usage  # every priced field, as Bedrock reported it
    cost: CostReport  # what the ledger holds for the call, and what is left
    stop_reason: str | None
    # Bedrock's trace, as far as the caller asked for it (the guardrail's part only on request).
    trace: dict[str, Any] | None
    limit_nanos: int  # the tenant's limit for the period
    period_label: str  # the period the call counts in ("2026-12", "2026-12-05")
    period_type: str  # monthly | daily
    attribution: Attribution


@dataclass(frozen=True)
class Completion(Settled):
    """A buffered answer: the reply's content blocks (text, tool use, reasoning) and its text."""

    text: str
    content: tuple[dict[str, Any], ...]
    additional_fields: dict[str, Any] | None


@dataclass(frozen=True)
class Done(Settled):
    """A stream's last event: its usage settled."""


StreamEvent = Delta | Event | Done


def converse_event(event: Delta | Event) -> dict[str, Any]:
    """A stream event as ConverseStream spells it (``{"contentBlockDelta": ...}``, ``{"messageStop": ...}``)."""
    if isinstance(event, Delta):
        return {"contentBlockDelta": {"contentBlockIndex": event.index, "delta": {"text": event.text}}}
    return event.event


@dataclass(frozen=True)
class ModelList:
    """The caller's models (short name, family; the default first) and its aliases (``GET /v1/models``)."""

    models: tuple[tuple[str, str], ...]
    aliases: dict[str, str]
