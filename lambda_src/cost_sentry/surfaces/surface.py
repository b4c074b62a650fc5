"""A surface is one table entry; ``serve`` does for every surface what they all need.

Each wire format (the gateway's JSON API, Bedrock's runtime, OpenAI Chat Completions, Anthropic
Messages) is a ``Surface``: which paths are its (``owns``), how a request becomes a service call and how
the answers will look (``parse``, which returns an ``Exchange``), and its error shape (``render_error``).
The table is surfaces/router.py's ``SURFACES``.

``serve`` owns the rest, once: reading the body's flags before the full parse (``Incoming.peek``),
measuring a request refused before it reached the service, the stream's first event (a refusal before
it is still answered with the error's own status), the hold's headers, a failure after the stream began
(the surface's own error event), and closing the service's stream whatever happens to the connection.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cost_sentry.core.cost_report import CostReport
from cost_sentry.core.errors import GatewayError
from cost_sentry.core.log import default_logger
from cost_sentry.service.gateway import GatewayService
from cost_sentry.service.results import ApiCall, Completion, StreamEvent
from cost_sentry.service.telemetry import internal_error
from cost_sentry.surfaces.http import HttpRequest, HttpResponse, hold_headers


@dataclass(frozen=True)
class Incoming:
    """A request as a surface reads it: the HTTP request, the body's top-level JSON object read leniently
    (for flags such as ``stream``; the full parse, which refuses a bad body, is the service's) and when
    it arrived (the latency some wire formats report)."""

    http: HttpRequest
    peek: Mapping[str, Any]
    started: float

    @property
    def request_id(self) -> str:
        return self.http.request_id

    def call(self, route: str, **fields: Any) -> ApiCall:
        """The service call for this request: its id, credential, user and body, and the surface's parts."""
        call = ApiCall(
            request_id=self.http.request_id,
            api_key_id=self.http.api_key_id,
            body=self.http.body,
            user_header=self.http.user_header,
            route=route,
        )
        return replace(call, **fields)


def _every_event(event: StreamEvent) -> bool:
    return True


@dataclass(frozen=True)
class Exchange:
    """What a surface makes of one request: the service call, and how each kind of answer is rendered.

    A model call sets ``answer`` (buffered) or ``events`` (streamed: the events rendered as the wire's
    chunks, ``failure`` the stream's own error event after it began, ``stream_headers`` its headers
    before the hold's, ``shows`` the events the wire carries: until one of them is rendered, a failure
    is still answered with its status). Any other route sets ``direct``.
    """

    call: ApiCall
    answer: Callable[[Completion], HttpResponse] | None = None
    events: Callable[[Iterator[StreamEvent]], Iterator[bytes]] | None = None
    failure: Callable[[GatewayError], bytes] | None = None
    stream_headers: Mapping[str, str] = field(default_factory=dict)
    shows: Callable[[StreamEvent], bool] = _every_event
    direct: Callable[[GatewayService, ApiCall], HttpResponse] | None = None


@dataclass(frozen=True)
class Surface:
    name: str
    owns: Callable[[str], bool]
    parse: Callable[[Incoming, GatewayService], Exchange]
    render_error: Callable[[GatewayError, str], HttpResponse]


def serve(service: GatewayService, surface: Surface, request: HttpRequest) -> HttpResponse:
    """One request through its surface: the answer, streamed where the surface streams."""
    incoming = Incoming(request, peek_object(request.body), time.monotonic())
    try:
        exchange = surface.parse(incoming, service)
    except GatewayError as error:
        # Refused before the service saw it (wrong method, unknown path): still measured.
        service.reject(ApiCall(request.request_id, request.api_key_id, route="unknown"), error)
        return surface.render_error(error, request.request_id)
    try:
        if exchange.direct is not None:
            return exchange.direct(service, exchange.call)
        if exchange.events is None:
            assert exchange.answer is not None, f"{surface.name}: an exchange answers or streams"
            return exchange.answer(service.converse(exchange.call))
        return _stream(service, exchange)
    except GatewayError as error:
        return surface.render_error(error, request.request_id)
    except Exception:
        # The service answers its own errors; this is a bug in a surface, and the hold (if any) expires.
        default_logger().exception("unhandled_error", requestId=request.request_id)
        return surface.render_error(internal_error(), request.request_id)


def _stream(service: GatewayService, exchange: Exchange) -> HttpResponse:
    holds: list[CostReport] = []
    events = service.stream(exchange.call, on_hold=holds.append)
    # Up to the first event the wire shows: a refusal or failure before it raises here, while the
    # answer's status is still free.
    before: list[StreamEvent] = []
    for event in events:
        before.append(event)
        if exchange.shows(event):
            break
    headers = {**exchange.stream_headers, **hold_headers(holds[-1] if holds else None)}
    return HttpResponse(200, headers, chunks=_chunks(exchange, before, events))


def _chunks(
    exchange: Exchange, before: list[StreamEvent], events: Generator[StreamEvent, None, None]
) -> Iterator[bytes]:
    assert exchange.events is not None and exchange.failure is not None
    try:
        yield from exchange.events(_chain(before, events))
    except GatewayError as error:
        yield exchange.failure(error)
    finally:
        # A caller that went away closes the chunks: the service then settles the call's worst case.
        events.close()


def _chain(before: list[StreamEvent], rest: Iterator[StreamEvent]) -> Iterator[StreamEvent]:
    yield from before
    yield from rest


def peek_object(body: bytes) -> dict[str, Any]:
    """The body's top-level JSON object, or {} when it is not one (the service's parse says why)."""
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def event_stream_headers(request_id_header: str, request_id: str) -> dict[str, str]:
    """Server-sent events' headers (the JSON API, OpenAI, Anthropic), with the wire's request-id header."""
    return {"Content-Type": "text/event-stream", "Cache-Control": "no-store", request_id_header: request_id}
