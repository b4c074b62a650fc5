"""The config table (docs/design.md section 3), scanned at cold start and refreshed on a timer.

The loader reads the whole table with one paginated Scan at cold start and again only after
``CONFIG_REFRESH_SECONDS``; parsing the items is the pure cost_sentry.core.tenants.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from cost_sentry.core.errors import ServiceUnavailable
from cost_sentry.core.identity import KEY_ITEM_PREFIX, KeyItemError, UserKey, key_from_item
from cost_sentry.core.log import default_logger
from cost_sentry.core.tenants import TenantConfig, TenantDirectory

# A forced re-read (the ledger shows a limit the cached config does not know) happens at most this often.
FORCED_RELOAD_SECONDS = 1.0
# Single-key reads on a miss (a per-user key issued since the last read), per container per second: a
# stream of random keys costs at most this many GetItems a second.
KEY_READS_PER_SECOND = 20


def scan_config_table(dynamodb_client: Any, table_name: str) -> TenantDirectory:
    """The whole config table from one consistent, paginated Scan, parsed (a bad tenant is skipped and
    logged by TenantDirectory.from_items); a failed Scan raises. Every reader of the table scans here."""
    items: list[dict[str, Any]] = []
    for page in dynamodb_client.get_paginator("scan").paginate(TableName=table_name, ConsistentRead=True):
        items.extend(page.get("Items", []))
    return TenantDirectory.from_items(items)


class ConfigStore:
    """The config table, scanned at cold start and refreshed after ``refresh_seconds``.

    A failed refresh keeps serving the last good config (availability over freshness); only a cold start
    without any config answers 503.
    """

    def __init__(
        self,
        dynamodb_client: Any,
        table_name: str,
        refresh_seconds: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = dynamodb_client
        self._table = table_name
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._directory: TenantDirectory | None = None
        self._loaded_at = 0.0
        self._forced_at = float("-inf")
        self._forced_ok = False
        self._key_reads: list[float] = []

    def directory(self) -> TenantDirectory:
        now = self._clock()
        current = self._directory
        if current is not None and now - self._loaded_at < self._refresh_seconds:
            return current
        with self._lock:
            if self._directory is not None and now - self._loaded_at < self._refresh_seconds:
                return self._directory
            try:
                self._directory = scan_config_table(self._client, self._table)
                self._loaded_at = now
                # As fresh as a forced read: a reload_tenant within the window reuses it (a cold start
                # that opens a new period makes one Scan, not two).
                self._forced_at, self._forced_ok = now, True
            except Exception as exc:
                if self._directory is None:
                    raise ServiceUnavailable(
                        "config_unavailable", "the tenant configuration cannot be read; retry shortly"
                    ) from exc
                default_logger().warning(
                    "config_refresh_failed", event="config_refresh_failed", error=str(exc)
                )
                # Try again after a short pause instead of on every request.
                self._loaded_at = now - self._refresh_seconds + min(self._refresh_seconds, 10)
            return self._directory

    def reload_tenant(self, tenant_id: str) -> TenantConfig | None:
        """The tenant from a read of the table that has just succeeded, or None.

        The ledger moves a tenant's limit only on this proof: a reload that failed, or was skipped
        because one ran less than ``FORCED_RELOAD_SECONDS`` ago and failed, returns None, never the
        cached config (which may be older than the ledger).
        """
        directory = self.fresh_directory()
        return None if directory is None else directory.tenants.get(tenant_id)

    def fresh_directory(self) -> TenantDirectory | None:
        """The whole table from a read that has just succeeded, or None. Re-reads at most once per
        ``FORCED_RELOAD_SECONDS``; a read that succeeded within that time is fresh enough and reused.
        (The credential check asks for one on a miss: a new per-user key works at once, a key revoked
        since the last refresh is refused at once, and random keys cost at most one Scan a second.)"""
        now = self._clock()
        with self._lock:
            if now - self._forced_at >= FORCED_RELOAD_SECONDS:
                self._forced_at = now
                self._forced_ok = False
                try:
                    self._directory = scan_config_table(self._client, self._table)
                    self._loaded_at = now
                    self._forced_ok = True
                except Exception as exc:
                    default_logger().warning(
                        "config_reload_failed", event="config_reload_failed", error=str(exc)
                    )
            if not self._forced_ok:
                return None
            return self._directory

    def user_key(self, digest: str) -> UserKey | None:
        """The per-user key with this SHA-256, revoked or not, or None.

        From the cached config; on a miss, from a forced re-read (``fresh_directory``, which also finds
        keys Terraform wrote into a tenant document) and then from a read of the key's own item, which is
        added to the cached config so the gateway enforces the key's limit at once. So a key issued since
        the last refresh works at once, and one revoked since is found revoked at once.
        """
        key = self.directory().user_keys.get(digest)
        if key is not None:
            return key
        fresh = self.fresh_directory()
        if fresh is not None and digest in fresh.user_keys:
            return fresh.user_keys[digest]
        now = self._clock()
        with self._lock:
            self._key_reads = [t for t in self._key_reads if now - t < 1.0]
            if len(self._key_reads) >= KEY_READS_PER_SECOND:
                return None
            self._key_reads.append(now)
        try:
            answer = self._client.get_item(
                TableName=self._table, Key={"pk": {"S": KEY_ITEM_PREFIX + digest}}, ConsistentRead=True
            )
            if "Item" not in answer:
                return None
            key = key_from_item(answer["Item"])
        except KeyItemError as exc:
            default_logger().error("config_item_rejected", pk=KEY_ITEM_PREFIX + digest, error=str(exc))
            return None
        with self._lock:
            if self._directory is not None:
                self._directory = self._directory.with_user_key(key)
        return key

    def tenant_for_api_key(self, api_key_id: str) -> TenantConfig | None:
        return self.directory().by_api_key.get(api_key_id)
