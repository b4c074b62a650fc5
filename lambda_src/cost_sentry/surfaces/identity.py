"""The proven user reaches every surface the same way (docs/design.md section 9).

The authorizer (handlers/authorizer.py; the local stack's front plays it) puts the user a per-user key
or an OIDC token proves into ``requestContext.authorizer.user``, which only API Gateway writes. Before
any surface reads the event, ``with_proven_user`` makes that user the request's end user: every surface
reads the user from ``x-cost-sentry-user``, so the header is set to the proven user. A caller's own
``x-cost-sentry-user`` naming somebody else is refused with 403 ``user_mismatch`` (not ignored: a
backend that forwards its users' names while holding one person's key would otherwise bill that person
for everyone, silently); the same name is accepted, so a client that always sends the header keeps
working.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cost_sentry.core.errors import Forbidden, Unauthorized

USER_HEADER = "x-cost-sentry-user"


def proven_user(event: Mapping[str, Any]) -> str | None:
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    user = authorizer.get("user") if isinstance(authorizer, Mapping) else None
    return str(user) if user else None


def with_identity(event: Mapping[str, Any], config_store: Any) -> Mapping[str, Any]:
    """``with_proven_user``, after making sure the gateway's own config knows a per-user key the
    authorizer accepted (``ConfigStore.user_key``: its per-key limit then applies from this request on,
    not from the next refresh). A key this function's config cannot find is refused like an unknown one."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    digest = authorizer.get("keySha256") if isinstance(authorizer, Mapping) else None
    if digest:
        key = config_store.user_key(str(digest))
        if key is None or key.revoked_at is not None:
            raise Unauthorized("unknown_api_key", "the API key is not assigned to any tenant")
    return with_proven_user(event)


def with_proven_user(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event with the proven user as its end user; Forbidden when a header names another person."""
    user = proven_user(event)
    if user is None:
        return event
    given = {
        str(value)
        for source in (event.get("headers") or {}, event.get("multiValueHeaders") or {})
        for name, values in source.items()
        if name.lower() == USER_HEADER
        for value in (values if isinstance(values, list) else [values])
        if value is not None
    }
    if given - {user}:
        raise Forbidden(
            "user_mismatch",
            "this credential belongs to one user; x-cost-sentry-user may only repeat that user's id",
        )
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() != USER_HEADER}
    multi = {k: v for k, v in (event.get("multiValueHeaders") or {}).items() if k.lower() != USER_HEADER}
    return {
        **event,
        "headers": {**headers, USER_HEADER: user},
        "multiValueHeaders": {**multi, USER_HEADER: [user]},
    }
