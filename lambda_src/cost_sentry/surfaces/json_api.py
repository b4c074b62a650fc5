"""The gateway's own JSON API (docs/design.md section 5): ``POST /v1/converse``, ``POST
/v1/converse-stream`` (server-sent events: text deltas, then ``done`` with the settled figures) and ``GET
/v1/budget``. It owns every path no other surface owns (an unknown one is its 404).

Errors answer ``{"error": {"code", "message", ..., "requestId"}}``. The request body is read by
core/converse.parse_json_api; the enforcement is the GatewayService's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cost_sentry.core.errors import GatewayError, MethodNotAllowed, NotFound
from cost_sentry.core.money import nanos_to_usd
from cost_sentry.service.gateway import GatewayService
from cost_sentry.service.results import ApiCall, Completion, Delta, Done, Settled, StreamEvent
from cost_sentry.service.telemetry import model_metric
from cost_sentry.surfaces.http import HttpResponse, cost_headers, error_headers, json_response, sse_data
from cost_sentry.surfaces.surface import Exchange, Incoming, Surface, event_stream_headers

ROUTES = {
    "/v1/converse": ("POST", "converse"),
    "/v1/converse-stream": ("POST", "converse-stream"),
    "/v1/budget": ("GET", "budget"),
}


def error_body(error: GatewayError, request_id: str) -> dict[str, Any]:
    return {"error": {"code": error.code, "message": error.message, **error.details, "requestId": request_id}}


def error_response(error: GatewayError, request_id: str) -> HttpResponse:
    return json_response(error.status, error_body(error, request_id), request_id, error_headers(error))


def settled_document(settled: Settled) -> dict[str, Any]:
    """What the JSON API reports of a settled call (the buffered answer; a stream's ``done`` event)."""
    usage = settled.usage
    tokens: dict[str, Any] = {
        "inputTokens": usage.total_input_tokens,
        "outputTokens": usage.output_tokens,
        "totalTokens": usage.total_input_tokens + usage.output_tokens,
    }
    # Cache fields appear only when the call read or wrote the cache.
    if usage.cache_read_tokens or usage.cache_write_tokens:
        tokens["cacheReadInputTokens"] = usage.cache_read_tokens
        tokens["cacheWriteInputTokens"] = usage.cache_write_tokens
    report = settled.cost
    budget = {
        "period": settled.period_label,
        "periodType": settled.period_type,
        "limitUsd": nanos_to_usd(settled.limit_nanos),
        "remainingUsd": nanos_to_usd(report.remaining_nanos),
    }
    if report.user_remaining_nanos is not None:
        budget["userRemainingUsd"] = nanos_to_usd(report.user_remaining_nanos)
    if report.would_deny is not None:
        budget["wouldDeny"] = report.would_deny
    who = settled.attribution
    return {
        "requestId": settled.request_id,
        "model": settled.model,
        "modelId": settled.model_id,
        "usage": tokens,
        # The cost as the ledger holds it (core/cost_report.py), the same figure as the cost headers.
        "cost": {"usd": nanos_to_usd(report.cost_nanos), "basis": report.basis.value},
        "budget": budget,
        "tags": {
            "applicationId": who.application_id,
            "costCenter": who.cost_center,
            "environment": who.environment,
            "requestId": settled.request_id,
            "timestamp": who.timestamp,
            "modelMetric": model_metric(settled.model_id),
            "user": who.user,
        },
    }


def _answer(completion: Completion) -> HttpResponse:
    document = {
        **settled_document(completion),
        "output": {"text": completion.text},
        "stopReason": completion.stop_reason,
    }
    return json_response(200, document, completion.request_id, cost_headers(completion.cost))


def _events(events: Iterator[StreamEvent]) -> Iterator[bytes]:
    """Text deltas, then ``done``; the stream's other events are not this API's."""
    for event in events:
        if isinstance(event, Delta):
            yield sse_data({"type": "delta", "text": event.text})
        elif isinstance(event, Done):
            yield sse_data({"type": "done", **settled_document(event), "stopReason": event.stop_reason})


def _shows(event: StreamEvent) -> bool:
    return isinstance(event, Delta | Done)


def _budget(service: GatewayService, call: ApiCall) -> HttpResponse:
    return json_response(200, service.budget(call), call.request_id)


def parse(incoming: Incoming, service: GatewayService) -> Exchange:
    request = incoming.http
    resource = request.path
    method, route = ROUTES.get(resource, ("", "unknown"))
    if not method:
        raise NotFound("not_found", f"no route {resource!r}; routes: {', '.join(ROUTES)}")
    if request.method != method:
        raise MethodNotAllowed("method_not_allowed", f"{resource} accepts {method} only")
    if route == "budget":
        return Exchange(incoming.call(route, body=b""), direct=_budget)
    call = incoming.call(route)
    if route == "converse":
        return Exchange(call, answer=_answer)
    request_id = incoming.request_id
    return Exchange(
        call,
        events=_events,
        failure=lambda error: sse_data({"type": "error", **error_body(error, request_id)}),
        stream_headers=event_stream_headers("X-Request-Id", request_id),
        shows=_shows,
    )


def _owns(path: str) -> bool:
    return True  # the fallback: every path no other surface owns (an unknown one is its 404)


SURFACE = Surface("json-api", _owns, parse, error_response)
