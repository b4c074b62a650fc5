"""Past the parser: a request each surface's parser accepts after one member was replaced or removed
(tests/surfaces/test_malformed_input.py's cases) goes through the whole service (model resolution, the
worst-case estimate, the ledger, the fake Bedrock) and is answered 2xx or 4xx, never 500."""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.service.conftest import PROFILE_ARN, load_event, tenant_document
from tests.surfaces.test_malformed_input import DOCUMENTS, REMOVED, _paths, _with

# Where each wire format is served, and the catalog model its document names (one that takes images,
# documents, tools and prompt caching, so the valid document is answered 200).
ROUTES = {
    "openai": ("/v1/chat/completions", "/v1/chat/completions"),
    "anthropic": ("/v1/messages", "/v1/messages"),
    "json_api": ("/v1/converse", "/v1/converse"),
    "converse": ("/model/claude-haiku-4-5/converse", "/model/{modelId}/converse"),
    "nova_invoke": ("/model/nova-lite/invoke", "/model/{modelId}/invoke"),
}

# One value of each JSON type, and removal: the parser-level test tries more shapes of each.
KINDS = [None, 0, 1.5, "abc", True, [], {}, REMOVED]


def _parses(surface: str, document: dict[str, Any]) -> bool:
    try:
        DOCUMENTS[surface][0](json.dumps(document).encode())
    except Exception:
        return False  # refused by the parser: that half is test_malformed_input's
    return True


def _served_document(surface: str) -> dict[str, Any]:
    document = copy.deepcopy(DOCUMENTS[surface][1])
    if surface in ("openai", "anthropic", "json_api"):
        document["model"] = "claude-haiku-4-5"
    if surface == "anthropic":  # the service's rule: thinking needs 1,024 tokens and fits in max_tokens
        document["max_tokens"], document["thinking"]["budget_tokens"] = 2_000, 1_024
    if surface == "json_api":
        document["tags"] = {"applicationId": "sales-app"}
    return document


def _event(surface: str, document: dict[str, Any]) -> dict[str, Any]:
    path, resource = ROUTES[surface]
    event = load_event("converse", body=json.dumps(document))
    event.update(path=path, resource=resource)
    event["requestContext"]["resourcePath"] = resource
    if "{modelId}" in resource:
        event["pathParameters"] = {"modelId": path.split("/")[2]}
    return event


def test_every_accepted_variant_is_answered_without_a_500(gateway_factory) -> None:
    tenant = tenant_document(budget={"limitUsd": "100", "period": "MONTHLY", "blockAtActualPercent": None})
    tenant["models"]["claude-haiku-4-5"] = PROFILE_ARN.format("saleshaiku45")
    tenant["models"]["nova-lite"] = PROFILE_ARN.format("saleslite")
    gateway = gateway_factory(tenant)
    statuses: dict[str, dict[int, int]] = {}
    crashes = []
    for surface in ROUTES:
        document = _served_document(surface)
        assert gateway.handle(_event(surface, document))["statusCode"] == 200, surface
        for path in _paths(document):
            for value in KINDS:
                variant = _with(document, path, value)
                if not _parses(surface, variant):
                    continue
                answer = gateway.handle(_event(surface, variant))
                count = statuses.setdefault(surface, {})
                count[answer["statusCode"]] = count.get(answer["statusCode"], 0) + 1
                if answer["statusCode"] >= 500:
                    crashes.append((surface, path, repr(value), answer["body"][:200]))
    assert crashes == []
    # Both kinds reach the service: variants it serves, and variants only it refuses (model rules).
    assert all(200 in count for count in statuses.values()), statuses
    assert sum(count.get(400, 0) for count in statuses.values()) > 0, statuses
