"""The table of surfaces, and the two ways a proxy event is answered through it.

Every surface goes through the one GatewayService (validate, resolve the tenant's profile, reserve,
call, settle, metrics, logs) and through ``serve`` (surfaces/surface.py); the table only says which
wire format a path belongs to. A new surface is one entry here plus its translation module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cost_sentry.core.errors import GatewayError
from cost_sentry.service.gateway import GatewayService
from cost_sentry.service.results import ApiCall
from cost_sentry.surfaces import anthropic, bedrock_runtime, json_api, openai
from cost_sentry.surfaces.http import HttpRequest, HttpResponse
from cost_sentry.surfaces.identity import with_identity
from cost_sentry.surfaces.surface import Surface, serve

# The first that owns a path answers it; the gateway's JSON API owns every other path (its 404).
SURFACES: tuple[Surface, ...] = (bedrock_runtime.SURFACE, openai.SURFACE, anthropic.SURFACE, json_api.SURFACE)
ErrorRenderer = Callable[[GatewayError, str], HttpResponse]


def surface_for(path: str) -> Surface:
    return next(surface for surface in SURFACES if surface.owns(path))


def error_renderer_for(path: str) -> ErrorRenderer:
    """The error shape of the surface a path belongs to."""
    return surface_for(path).render_error


def respond(service: GatewayService, event: Mapping[str, Any]) -> HttpResponse:
    """The answer to one API Gateway REST (v1) proxy event, streamed where the surface streams."""
    path = event.get("path") or event.get("resource") or ""
    try:
        event = with_identity(event, service.config_store)
        request = HttpRequest.from_event(event)
    except GatewayError as error:
        return _refused(service, event, error)
    return serve(service, surface_for(path), request)


def handle_event(service: GatewayService, event: Mapping[str, Any]) -> dict[str, Any]:
    """The Lambda proxy integration (buffered): a stream is collected into one body."""
    return respond(service, event).to_proxy()


def _refused(service: GatewayService, event: Mapping[str, Any], error: GatewayError) -> HttpResponse:
    """A request refused before any surface read it (surfaces/identity.py, an undecodable body):
    measured, and answered in the shape of the surface its path belongs to."""
    path = event.get("path") or event.get("resource") or ""
    context = event.get("requestContext") or {}
    request_id = str(context.get("requestId") or "")
    api_key_id = (context.get("identity") or {}).get("apiKeyId") or None
    service.reject(ApiCall(request_id=request_id, api_key_id=api_key_id, route="identity"), error)
    return error_renderer_for(path)(error, request_id)


__all__ = ["SURFACES", "error_renderer_for", "handle_event", "respond", "surface_for"]
