"""Who is calling: per-user API keys and OIDC settings, pure (docs/design.md section 9).

A per-user key is ``csk_`` + 43 URL-safe characters (32 random bytes). The config table keeps only its
SHA-256 (hex) and its first 12 characters (``csk_`` + 8) so an admin can recognise it in a list. A fast
hash is enough: the key is 256 bits of randomness, so no dictionary or brute force can find a preimage,
and a slow KDF (bcrypt, scrypt, argon2) would only add tens of milliseconds to every request's key check
(and a native dependency) while protecting nothing a random 256-bit secret does not already protect.

Items ``userkey#<sha256>`` (written by ``scripts.cli.keys`` through cost_sentry.adapters.user_keys) and
a tenant document's ``users.keys`` (written by Terraform from the tenant contract) are read here into one
``UserKey`` shape; the key item's writer and reader are the two functions at the end, inverses.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cost_sentry.core.money import nanos_to_usd, parse_decimal, usd_to_nanos_floor

KEY_PREFIX = "csk_"
# csk_ + 8 characters: enough to tell a person's keys apart in a list, far too little to guess the rest.
SHOWN_PREFIX_LENGTH = len(KEY_PREFIX) + 8
KEY_RANDOM_BYTES = 32
KEY_ITEM_PREFIX = "userkey#"
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
# The claims a tenant may name as its users' id (the value must also pass the end-user pattern).
USER_CLAIMS = ("email", "sub", "preferred_username", "upn")


class KeyItemError(ValueError):
    """A user key item or a tenant's users.keys entry that does not follow the contract."""


def key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret(random_bytes: Callable[[int], bytes]) -> str:
    """A new key from ``random_bytes`` (``secrets.token_bytes`` in production; injected in tests)."""
    import base64

    raw = random_bytes(KEY_RANDOM_BYTES)
    if len(raw) != KEY_RANDOM_BYTES:
        raise ValueError(f"a key needs {KEY_RANDOM_BYTES} random bytes")
    return KEY_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def looks_like_user_key(secret: str) -> bool:
    return secret.startswith(KEY_PREFIX) and len(secret) == len(KEY_PREFIX) + 43


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("ascii"), b.encode("ascii"))


@dataclass(frozen=True)
class UserKey:
    """One person's key of one tenant, as stored: never the key itself."""

    sha256: str
    prefix: str
    tenant_id: str
    user: str
    # Unix seconds; None = never expires.
    expires_at: int | None = None
    # A per-key budget per period: the owner's per-user limit is at most this (core/tenants.py).
    limit_nanos: int | None = None
    revoked_at: int | None = None
    created_at: int | None = None
    name: str = ""
    # "cli" (a userkey# item) or "terraform" (the tenant document's users.keys)
    source: str = "cli"

    def refusal(self, now: float) -> str | None:
        """Why the key cannot be used at ``now`` (a log reason, never shown to the caller), or None."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return None


@dataclass(frozen=True)
class OidcSettings:
    """A tenant's identity provider: tokens from ``issuer`` for ``audience`` name a user of the tenant."""

    issuer: str
    audience: str
    user_claim: str = "email"
    # Where the signing keys are; None = the issuer's discovery document says (jwks_uri).
    jwks_uri: str | None = None


def parse_oidc(value: object) -> OidcSettings | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise KeyItemError("identity.oidc must be an object")
    issuer, audience = value.get("issuer"), value.get("audience")
    claim = value.get("userClaim") or "email"
    jwks = value.get("jwksUri")
    if not isinstance(issuer, str) or not issuer or not isinstance(audience, str) or not audience:
        raise KeyItemError("identity.oidc needs issuer and audience")
    if claim not in USER_CLAIMS:
        raise KeyItemError(f"identity.oidc.userClaim must be one of {USER_CLAIMS}, got {claim!r}")
    if jwks is not None and not isinstance(jwks, str):
        raise KeyItemError("identity.oidc.jwksUri must be a string")
    return OidcSettings(issuer=issuer, audience=audience, user_claim=claim, jwks_uri=jwks or None)


def _epoch(value: object, what: str) -> int | None:
    """Unix seconds, or an ISO-8601 UTC instant (Terraform writes timestamps, the CLI numbers)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        if value.isdigit():
            return int(value)
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise KeyItemError(f"{what} must be Unix seconds or an ISO-8601 instant, got {value!r}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp())
    raise KeyItemError(f"{what} must be Unix seconds or an ISO-8601 instant")


def _limit(value: object, what: str) -> int | None:
    if value is None or value == "":
        return None
    amount = parse_decimal(value, what)
    if amount <= 0:
        raise KeyItemError(f"{what} must be positive")
    return usd_to_nanos_floor(amount)


def key_from_document(name: str, entry: Mapping[str, Any], tenant_id: str) -> UserKey:
    """One entry of a tenant document's ``users.keys`` (Terraform: a hash someone made with the CLI)."""
    digest = entry.get("sha256")
    user = entry.get("user")
    if not isinstance(digest, str) or not SHA256_HEX.match(digest):
        raise KeyItemError(f"users.keys.{name}.sha256 must be 64 lowercase hex digits")
    if not isinstance(user, str) or not user:
        raise KeyItemError(f"users.keys.{name}.user is required")
    prefix = entry.get("prefix") or ""
    return UserKey(
        sha256=digest,
        prefix=str(prefix),
        tenant_id=tenant_id,
        user=user,
        expires_at=_epoch(entry.get("expires"), f"users.keys.{name}.expires"),
        limit_nanos=_limit(entry.get("limitUsd"), f"users.keys.{name}.limitUsd"),
        name=name,
        source="terraform",
    )


def key_item(key: UserKey) -> dict[str, Any]:
    """The config table item of a CLI-issued key (DynamoDB attribute values)."""
    item: dict[str, Any] = {
        "pk": {"S": KEY_ITEM_PREFIX + key.sha256},
        "tenant": {"S": key.tenant_id},
        "user": {"S": key.user},
        "prefix": {"S": key.prefix},
        "name": {"S": key.name},
    }
    if key.created_at is not None:
        item["createdAt"] = {"N": str(key.created_at)}
    if key.expires_at is not None:
        item["expiresAt"] = {"N": str(key.expires_at)}
    if key.limit_nanos is not None:
        item["limitUsd"] = {"S": nanos_to_usd(key.limit_nanos)}
    if key.revoked_at is not None:
        item["revokedAt"] = {"N": str(key.revoked_at)}
    return item


def key_from_item(item: Mapping[str, Any]) -> UserKey:
    """The inverse of ``key_item``."""

    def text(name: str) -> str | None:
        value = item.get(name, {}).get("S")
        return str(value) if value is not None else None

    def number(name: str) -> int | None:
        value = item.get(name, {}).get("N")
        return int(value) if value is not None else None

    pk = text("pk") or ""
    digest = pk.removeprefix(KEY_ITEM_PREFIX)
    tenant, user = text("tenant"), text("user")
    if not pk.startswith(KEY_ITEM_PREFIX) or not SHA256_HEX.match(digest):
        raise KeyItemError(f"{pk!r} is not userkey#<sha256 hex>")
    if not tenant or not user:
        raise KeyItemError(f"{pk}: tenant and user are required")
    return UserKey(
        sha256=digest,
        prefix=text("prefix") or "",
        tenant_id=tenant,
        user=user,
        expires_at=number("expiresAt"),
        limit_nanos=_limit(text("limitUsd"), f"{pk} limitUsd"),
        revoked_at=number("revokedAt"),
        created_at=number("createdAt"),
        name=text("name") or "",
        source="cli",
    )


@dataclass(frozen=True)
class Identity:
    """What the credential check proved: the tenant (through its API Gateway key id) and, for a
    per-user key or an OIDC token, the person. The authorizer hands it to the gateway in its context."""

    api_key_id: str
    # The tenant's API Gateway key value: API Gateway's usage identifier (the tenant's usage plan).
    usage_key: str
    tenant_id: str | None = None
    user: str | None = None
    # tenant_key | user_key | oidc
    kind: str = "tenant_key"
    # The per-user key's shown prefix, for logs (never the key), and its hash.
    key_prefix: str | None = None
    key_sha256: str | None = None

    def context(self) -> dict[str, str]:
        """The authorizer context (string values only: API Gateway's rule)."""
        context = {"apiKeyId": self.api_key_id, "credential": self.kind}
        if self.user is not None:
            context["user"] = self.user
        if self.key_prefix is not None:
            context["keyPrefix"] = self.key_prefix
        if self.key_sha256 is not None:
            # The gateway makes sure its own config knows the key (its per-key limit) before spending.
            context["keySha256"] = self.key_sha256
        return context
