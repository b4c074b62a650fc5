"""API key value -> API Gateway key id: how the authorizer (and the local stack's front) knows a key.

API Gateway keeps the keys; ``get_api_keys(includeValues=True)`` lists them. The directory caches the
list and re-reads it on a miss at most once a second, so a new key works at once and a stream of
random keys cannot turn every request into a control-plane call.
"""

from __future__ import annotations

import threading
import time
from typing import Any


class ApiKeyDirectory:
    """API key value -> key id, from get_api_keys(includeValues=True), cached; only enabled keys.

    A miss re-reads the keys at most once a second, so a new key works at once and random keys
    cannot turn every request into a control-plane call.
    """

    def __init__(self, apigateway_client: Any, refresh_interval_seconds: float = 1.0) -> None:
        self._client = apigateway_client
        self._interval = refresh_interval_seconds
        self._ids: dict[str, str] = {}
        self._values: dict[str, str] = {}
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    def key_id(self, api_key: str) -> str | None:
        with self._lock:
            if api_key not in self._ids and time.monotonic() - self._loaded_at >= self._interval:
                self._load()
            return self._ids.get(api_key)

    def value_for(self, key_id: str) -> str | None:
        """The value of an enabled key (a per-user credential's tenant key: API Gateway's usage
        identifier, so the tenant's usage plan still throttles its people)."""
        with self._lock:
            if key_id not in self._values and time.monotonic() - self._loaded_at >= self._interval:
                self._load()
            return self._values.get(key_id)

    def reload(self) -> None:
        """Read the keys now (a test that just created a key need not wait for the next refresh)."""
        with self._lock:
            self._load()

    def _load(self) -> None:
        ids: dict[str, str] = {}
        for page in self._client.get_paginator("get_api_keys").paginate(includeValues=True):
            for key in page.get("items", []):
                if key.get("enabled", True):
                    ids[key["value"]] = key["id"]
        self._ids = ids
        self._values = {key_id: value for value, key_id in ids.items()}
        self._loaded_at = time.monotonic()
