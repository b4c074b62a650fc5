"""Per-user keys and OIDC settings in the config (core/identity.py, core/tenants.py), pure."""

from __future__ import annotations

import json

import pytest

from cost_sentry.core.identity import (
    Identity,
    UserKey,
    key_from_item,
    key_hash,
    key_item,
    looks_like_user_key,
    new_secret,
)
from cost_sentry.core.tenants import TenantDirectory

PROFILE = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/p1"


def tenant_item(tenant_id: str = "sales", **extra: object) -> dict:
    document = {
        "tenantId": tenant_id,
        "applicationId": f"{tenant_id}-app",
        "costCenter": tenant_id,
        "environment": "test",
        "apiKeyIds": [f"key-{tenant_id}"],
        "budget": {"limitUsd": "1"},
        "models": {"nova-micro": PROFILE},
        **extra,
    }
    return {"pk": {"S": f"tenant#{tenant_id}"}, "config": {"S": json.dumps(document)}}


def test_a_new_key_is_256_random_bits_behind_a_recognisable_prefix() -> None:
    secret = new_secret(lambda n: bytes(range(n)))
    assert looks_like_user_key(secret) and len(secret) == 47
    assert key_hash(secret) == key_hash(secret) != key_hash(secret + "x")
    with pytest.raises(ValueError):
        new_secret(lambda n: b"short")


def test_the_key_item_writer_and_reader_are_inverses() -> None:
    key = UserKey(
        sha256="a" * 64,
        prefix="csk_abcdefgh",
        tenant_id="sales",
        user="alice",
        expires_at=1_900_000_000,
        limit_nanos=2_500_000_000,
        revoked_at=1_800_000_000,
        created_at=1_700_000_000,
        name="laptop",
    )
    assert key_from_item(key_item(key)) == key
    assert "secret" not in json.dumps(key_item(key))


def test_expired_and_revoked_keys_say_why() -> None:
    key = UserKey("a" * 64, "csk_x", "sales", "alice", expires_at=100)
    assert key.refusal(99) is None
    assert key.refusal(100) == "expired"
    assert UserKey("a" * 64, "csk_x", "sales", "alice", revoked_at=5).refusal(0) == "revoked"


def test_a_per_key_limit_is_its_owners_limit_never_above_the_tenants() -> None:
    items = [
        tenant_item(users={"defaultLimitUsd": "0.50", "limitsUsd": {"bob": "0.10"}}),
        key_item(UserKey("a" * 64, "csk_a", "sales", "alice", limit_nanos=200_000_000)),
        key_item(UserKey("b" * 64, "csk_b", "sales", "bob", limit_nanos=300_000_000)),
        key_item(UserKey("c" * 64, "csk_c", "sales", "carl", limit_nanos=100_000_000, revoked_at=1)),
    ]
    sales = TenantDirectory.from_items(items).tenants["sales"]
    assert sales.user_limit_for("alice") == 200_000_000  # the key's, below the tenant's default
    assert sales.user_limit_for("bob") == 100_000_000  # the tenant's, below the key's
    assert sales.user_limit_for("carl") == 500_000_000  # a revoked key's limit no longer applies
    assert sales.has_user_budgets


def test_keys_from_terraform_and_from_the_cli_are_one_index_and_a_shared_hash_is_refused() -> None:
    terraform_keys = {
        "ci": {"user": "carol", "sha256": "d" * 64, "prefix": "csk_dddd", "expires": "2030-01-01T00:00:00Z"}
    }
    items = [
        tenant_item(users={"keys": terraform_keys}),
        tenant_item("legal"),
        key_item(UserKey("e" * 64, "csk_e", "legal", "erin")),
        key_item(UserKey("d" * 64, "csk_d", "legal", "mallory")),  # the same hash for another tenant
        key_item(UserKey("f" * 64, "csk_f", "gone", "frank")),  # a tenant that does not exist
    ]
    directory = TenantDirectory.from_items(items)
    assert set(directory.user_keys) == {"e" * 64}
    alone = TenantDirectory.from_items(items[:2])
    [carol] = alone.user_keys.values()
    assert (carol.user, carol.source, carol.expires_at) == ("carol", "terraform", 1_893_456_000)


def test_a_key_read_on_its_own_joins_the_directory_with_its_limit() -> None:
    directory = TenantDirectory.from_items([tenant_item()])
    joined = directory.with_user_key(UserKey("a" * 64, "csk_a", "sales", "alice", limit_nanos=7))
    assert joined.user_keys["a" * 64].user == "alice"
    assert joined.tenants["sales"].user_limit_for("alice") == 7
    assert joined.by_api_key["key-sales"].user_limit_for("alice") == 7


def test_an_issuer_and_audience_name_one_tenant_only() -> None:
    oidc = {"oidc": {"issuer": "https://idp.example", "audience": "app", "userClaim": "sub"}}
    directory = TenantDirectory.from_items(
        [tenant_item(identity=oidc), tenant_item("legal", identity=oidc), tenant_item("hr")]
    )
    assert directory.by_issuer == {}
    single = TenantDirectory.from_items([tenant_item(identity=oidc)])
    assert single.by_issuer[("https://idp.example", "app")].oidc.user_claim == "sub"


def test_a_bad_oidc_claim_or_anonymous_flag_rejects_the_tenant() -> None:
    bad_claim = {"oidc": {"issuer": "https://idp.example", "audience": "app", "userClaim": "name"}}
    assert TenantDirectory.from_items([tenant_item(identity=bad_claim)]).tenants == {}
    assert TenantDirectory.from_items([tenant_item(users={"allowAnonymous": "yes"})]).tenants == {}


def test_the_authorizer_context_carries_the_user_but_never_the_key() -> None:
    identity = Identity("key-1", "tenant-key-value", "sales", "alice", "user_key", "csk_abcdefgh", "a" * 64)
    context = identity.context()
    assert context == {
        "apiKeyId": "key-1",
        "credential": "user_key",
        "user": "alice",
        "keyPrefix": "csk_abcdefgh",
        "keySha256": "a" * 64,
    }
    assert all(isinstance(value, str) for value in context.values())
