"""The one credential check (docs/design.md section 9): which tenant, and which person, a request is.

Used by the API Gateway authorizer (handlers/authorizer.py) and by the local stack's front, which
plays the authorizer's part. The credential is read the same way on every surface
(cost_sentry.surfaces.http.presented_api_key: ``x-api-key`` or ``Authorization: Bearer``, which is
where botocore puts ``AWS_BEARER_TOKEN_BEDROCK`` and the OpenAI SDK its ``api_key``), and is one of:

- the tenant's API Gateway key: the tenant; the user, if any, is the ``x-cost-sentry-user`` header
  (trusted backends);
- a per-user key (``csk_...``): the tenant and the person it was issued to;
- an OIDC token (a JWT) from the identity provider a tenant names: the tenant whose (issuer,
  audience) it carries, and the person its user claim names.

Anything else, or an unknown, expired or revoked key, or a token that fails any check, is None: the
authorizer answers 401 in the surface's shape. Refusals are logged with a reason and, for a known key,
its shown prefix; never the key or the token.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from cost_sentry.adapters.api_keys import ApiKeyDirectory
from cost_sentry.adapters.config_store import ConfigStore
from cost_sentry.core.identity import Identity, UserKey, key_hash, looks_like_user_key
from cost_sentry.core.log import default_logger
from cost_sentry.core.tenants import TenantConfig
from cost_sentry.core.validation import USER_PATTERN
from cost_sentry.surfaces.http import presented_api_key


class CredentialChecker:
    def __init__(
        self,
        api_keys: ApiKeyDirectory,
        config: ConfigStore,
        oidc: Any = None,  # cost_sentry.adapters.oidc.OidcVerifier, imported only when a token arrives
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._api_keys = api_keys
        self._config = config
        self._oidc = oidc
        self._clock = clock

    def identify(self, headers: Mapping[str, str]) -> Identity | None:
        secret = presented_api_key(headers)
        if not secret:
            return None
        if looks_like_user_key(secret):
            return self._user_key(secret)
        from cost_sentry.adapters.oidc import looks_like_jwt

        if looks_like_jwt(secret):
            return self._token(secret)
        key_id = self._api_keys.key_id(secret)
        if key_id is None:
            return None
        return Identity(api_key_id=key_id, usage_key=secret)

    # -- per-user keys ---------------------------------------------------------------------------

    def _user_key(self, secret: str) -> Identity | None:
        digest = key_hash(secret)
        # A miss re-reads the config (core of ConfigStore.user_key): a key issued since the last refresh
        # works at once, and one revoked since is refused at once.
        key = self._config.user_key(digest)
        if key is None:
            return self._refuse("unknown_user_key")
        reason = key.refusal(self._clock())
        if reason is not None:
            return self._refuse(f"{reason}_user_key", key)
        tenant = self._config.directory().tenants.get(key.tenant_id)
        if tenant is None:
            return self._refuse("user_key_tenant_unknown", key)
        return self._identity(tenant, key.user, "user_key", key)

    # -- OIDC tokens -----------------------------------------------------------------------------

    def _token(self, token: str) -> Identity | None:
        from cost_sentry.adapters.oidc import OidcVerifier, TokenRefused, unverified_issuer_and_audiences

        directory = self._config.directory()
        try:
            issuer, audiences = unverified_issuer_and_audiences(token)
        except TokenRefused as exc:
            return self._refuse("invalid_token", detail=str(exc))
        tenant = next((t for a in audiences if (t := directory.by_issuer.get((issuer, a)))), None)
        if tenant is None or tenant.oidc is None:
            return self._refuse("token_issuer_unknown", detail=issuer)
        if self._oidc is None:
            self._oidc = OidcVerifier()
        try:
            user = self._oidc.user_of(token, tenant.oidc)
        except TokenRefused as exc:
            return self._refuse("invalid_token", detail=str(exc), tenant=tenant.tenant_id)
        return self._identity(tenant, user, "oidc")

    # -- shared ----------------------------------------------------------------------------------

    def _identity(
        self, tenant: TenantConfig, user: str, kind: str, key: UserKey | None = None
    ) -> Identity | None:
        if not USER_PATTERN.fullmatch(user):
            return self._refuse("user_not_an_end_user_id", key, tenant=tenant.tenant_id)
        for key_id in tenant.api_key_ids:
            value = self._api_keys.value_for(key_id)
            if value is not None:
                return Identity(
                    api_key_id=key_id,
                    usage_key=value,
                    tenant_id=tenant.tenant_id,
                    user=user,
                    kind=kind,
                    key_prefix=key.prefix if key else None,
                    key_sha256=key.sha256 if key else None,
                )
        return self._refuse("tenant_key_disabled", key, tenant=tenant.tenant_id)

    def _refuse(self, reason: str, key: UserKey | None = None, **fields: Any) -> Identity | None:
        """Log why a credential is refused; no identity (always None)."""
        if key is not None:
            fields |= {"tenant": key.tenant_id, "keyPrefix": key.prefix}
        default_logger().info("credential_refused", event="credential_refused", reason=reason, **fields)
        return None
