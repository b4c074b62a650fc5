"""Per-user API keys in the config table: issue, list, rotate, revoke (``scripts.cli.keys``).

The owner of the ``userkey#<sha256>`` items (their encoding is cost_sentry.core.identity's
``key_item`` / ``key_from_item``). The gateway and the authorizer only read them, with the rest of the
config table (cost_sentry.core.tenants.TenantDirectory). A revoked key's item stays, marked
``revokedAt``, so a list shows what was revoked and when; a key is shown once, when it is issued.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from cost_sentry.core.identity import (
    KEY_ITEM_PREFIX,
    SHOWN_PREFIX_LENGTH,
    UserKey,
    key_from_item,
    key_hash,
    key_item,
    new_secret,
)
from cost_sentry.core.tenants import tenant_item_key
from cost_sentry.core.validation import USER_PATTERN, USER_RULE


class KeyAdminError(ValueError):
    """A request an admin made that cannot be done (unknown tenant, no such key, bad user id)."""


class UserKeyAdmin:
    def __init__(
        self,
        dynamodb_client: Any,
        table: str,
        clock: Callable[[], float] = time.time,
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        self._client = dynamodb_client
        self._table = table
        self._clock = clock
        self._random = random_bytes

    def issue(
        self,
        tenant_id: str,
        user: str,
        *,
        name: str = "",
        expires_at: int | None = None,
        limit_nanos: int | None = None,
    ) -> tuple[str, UserKey]:
        """A new key for ``user`` of ``tenant_id``: the key (shown once) and what is stored."""
        if not USER_PATTERN.fullmatch(user):
            raise KeyAdminError(f"user must be {USER_RULE}")
        tenant = self._client.get_item(
            TableName=self._table, Key=tenant_item_key(tenant_id), ConsistentRead=True
        )
        if "Item" not in tenant:
            raise KeyAdminError(f"no tenant {tenant_id!r} in {self._table}")
        now = int(self._clock())
        if expires_at is not None and expires_at <= now:
            raise KeyAdminError("the expiry is in the past")
        secret = new_secret(self._random)
        key = UserKey(
            sha256=key_hash(secret),
            prefix=secret[:SHOWN_PREFIX_LENGTH],
            tenant_id=tenant_id,
            user=user,
            expires_at=expires_at,
            limit_nanos=limit_nanos,
            created_at=now,
            name=name,
        )
        self._client.put_item(
            TableName=self._table, Item=key_item(key), ConditionExpression="attribute_not_exists(pk)"
        )
        return secret, key

    def list(self, tenant_id: str | None = None) -> list[UserKey]:
        pages = self._client.get_paginator("scan").paginate(
            TableName=self._table,
            FilterExpression="begins_with(pk, :prefix)",
            ExpressionAttributeValues={":prefix": {"S": KEY_ITEM_PREFIX}},
            ConsistentRead=True,
        )
        keys = [key_from_item(item) for page in pages for item in page.get("Items", [])]
        keys = [key for key in keys if tenant_id is None or key.tenant_id == tenant_id]
        return sorted(keys, key=lambda k: (k.tenant_id, k.user, k.created_at or 0, k.prefix))

    def find(self, tenant_id: str, prefix: str) -> UserKey:
        """The one key of the tenant whose shown prefix (or hash) is ``prefix``."""
        matches = [k for k in self.list(tenant_id) if prefix in (k.prefix, k.sha256)]
        if len(matches) != 1:
            raise KeyAdminError(
                f"{len(matches)} keys of tenant {tenant_id!r} match {prefix!r}"
                + ("" if matches else " (keys written by Terraform are revoked by removing them from tfvars)")
            )
        return matches[0]

    def revoke(self, tenant_id: str, prefix: str) -> UserKey:
        key = self.find(tenant_id, prefix)
        if key.revoked_at is not None:
            return key
        now = int(self._clock())
        self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": KEY_ITEM_PREFIX + key.sha256}},
            UpdateExpression="SET revokedAt = :now",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(revokedAt)",
            ExpressionAttributeValues={":now": {"N": str(now)}},
        )
        return replace(key, revoked_at=now)

    def rotate(self, tenant_id: str, prefix: str) -> tuple[str, UserKey, UserKey]:
        """A new key for the same owner, name, expiry and limit; then the old one is revoked."""
        old = self.find(tenant_id, prefix)
        if old.revoked_at is not None:
            raise KeyAdminError(f"key {old.prefix} is already revoked: issue a new one")
        secret, new = self.issue(
            tenant_id, old.user, name=old.name, expires_at=old.expires_at, limit_nanos=old.limit_nanos
        )
        return secret, new, self.revoke(tenant_id, old.prefix)
