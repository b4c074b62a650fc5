"""Which surface answers a request: the seed's JSON API, native Bedrock, OpenAI or Anthropic.

Every surface goes through the one GatewayService (validate, resolve the tenant's profile, reserve,
call, settle, metrics, logs); the router only picks the wire format by path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cost_sentry.core.errors import GatewayError, NotFound
from cost_sentry.core.log import default_logger
from cost_sentry.service.gateway import GatewayService
from cost_sentry.surfaces import anthropic, bedrock_runtime, native, openai
from cost_sentry.surfaces.http import HttpRequest, HttpResponse
from cost_sentry.surfaces.identity import with_identity

Surface = Callable[[GatewayService, HttpRequest], HttpResponse]
ErrorRenderer = Callable[[GatewayError, str], HttpResponse]


def surface_for(path: str) -> tuple[Surface, ErrorRenderer] | None:
    if bedrock_runtime.matches(path):
        return bedrock_runtime.handle, bedrock_runtime.error_response
    if path in openai.ROUTES:
        return openai.handle, openai.error_response
    if path in anthropic.ROUTES:
        return anthropic.handle, anthropic.error_response
    return None


def error_renderer_for(path: str) -> ErrorRenderer:
    """The error shape of the surface a path belongs to (the seed's for every other path)."""
    found = surface_for(path)
    if found is not None:
        return found[1]

    def seed(error: GatewayError, request_id: str) -> HttpResponse:
        proxy = native.error_response(error, request_id)
        return HttpResponse(proxy["statusCode"], proxy["headers"], proxy["body"].encode("utf-8"))

    return seed


def respond(service: GatewayService, event: Mapping[str, Any]) -> HttpResponse:
    """The answer to one proxy event, streamed where the surface streams."""
    path = event.get("path") or event.get("resource") or ""
    try:
        event = with_identity(event, service.config_store)
    except GatewayError as error:
        return _refused(service, event, error)
    if path in native.ROUTES or surface_for(path) is None:
        streamed = native.stream_converse(service, event)
        if streamed is not None:
            return streamed
        proxy = native.handle_event(service, event)
        return HttpResponse(proxy["statusCode"], proxy["headers"], proxy["body"].encode("utf-8"))
    surface, render_error = surface_for(path)  # type: ignore[misc]
    request_id = str((event.get("requestContext") or {}).get("requestId") or "")
    try:
        request = HttpRequest.from_event(event)
        return surface(service, request)
    except GatewayError as error:
        return render_error(error, request_id)
    except Exception:
        default_logger().exception("unhandled_error", requestId=request_id)
        return render_error(GatewayError("internal_error", "the gateway failed unexpectedly"), request_id)


def handle_event(service: GatewayService, event: Mapping[str, Any]) -> dict[str, Any]:
    """The Lambda proxy integration (buffered): the seed's routes exactly as before, the others
    through their surface with the stream collected into one body."""
    path = event.get("path") or event.get("resource") or ""
    try:
        event = with_identity(event, service.config_store)
    except GatewayError as error:
        return _refused(service, event, error).to_proxy()
    if path in native.ROUTES or surface_for(path) is None:
        return native.handle_event(service, event)
    return respond(service, event).to_proxy()


def _refused(service: GatewayService, event: Mapping[str, Any], error: GatewayError) -> HttpResponse:
    """A request refused before any surface read it (surfaces/identity.py): measured, and answered in
    the shape of the surface its path belongs to."""
    from cost_sentry.service.gateway import ApiCall

    path = event.get("path") or event.get("resource") or ""
    context = event.get("requestContext") or {}
    request_id = str(context.get("requestId") or "")
    api_key_id = (context.get("identity") or {}).get("apiKeyId") or None
    service.reject(ApiCall(request_id=request_id, api_key_id=api_key_id, route="identity"), error)
    return error_renderer_for(path)(error, request_id)


__all__ = ["NotFound", "error_renderer_for", "handle_event", "respond"]
