"""surfaces/identity.py: the proven user becomes the request's end user; a header naming another is 403."""

from __future__ import annotations

from typing import Any

import pytest

from cost_sentry.core.errors import Forbidden, Unauthorized
from cost_sentry.core.identity import UserKey
from cost_sentry.surfaces.identity import with_identity, with_proven_user


def event(user: str | None, headers: dict[str, str], **authorizer: str) -> dict[str, Any]:
    context = {"user": user, **authorizer} if user else authorizer
    return {
        "headers": dict(headers),
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "requestContext": {"authorizer": context},
    }


def test_the_proven_user_replaces_a_missing_header_in_both_header_maps() -> None:
    result = with_proven_user(event("alice", {"Content-Type": "application/json"}))
    assert result["headers"]["x-cost-sentry-user"] == "alice"
    assert result["multiValueHeaders"]["x-cost-sentry-user"] == ["alice"]


@pytest.mark.parametrize("name", ["x-cost-sentry-user", "X-Cost-Sentry-User"])
def test_the_same_name_passes_and_another_is_user_mismatch(name: str) -> None:
    assert with_proven_user(event("alice", {name: "alice"}))["headers"] == {"x-cost-sentry-user": "alice"}
    with pytest.raises(Forbidden) as refused:
        with_proven_user(event("alice", {name: "bob"}))
    assert refused.value.code == "user_mismatch"


def test_a_second_header_value_naming_another_user_is_refused_too() -> None:
    sneaky = event("alice", {"x-cost-sentry-user": "alice"})
    sneaky["multiValueHeaders"]["X-Cost-Sentry-User"] = ["alice", "bob"]
    with pytest.raises(Forbidden):
        with_proven_user(sneaky)


def test_header_mode_is_left_alone() -> None:
    original = event(None, {"x-cost-sentry-user": "bob"})
    assert with_proven_user(original) is original


class Store:
    def __init__(self, key: UserKey | None) -> None:
        self.key = key

    def user_key(self, digest: str) -> UserKey | None:
        return self.key


def test_a_key_the_gateways_config_cannot_find_or_finds_revoked_is_unauthorized() -> None:
    key = UserKey("a" * 64, "csk_a", "sales", "alice")
    proven = event("alice", {}, keySha256="a" * 64)
    assert with_identity(proven, Store(key))["headers"]["x-cost-sentry-user"] == "alice"
    for store in (Store(None), Store(UserKey("a" * 64, "csk_a", "sales", "alice", revoked_at=1))):
        with pytest.raises(Unauthorized):
            with_identity(proven, store)
