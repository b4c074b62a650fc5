"""The authorizer with per-user keys: the tenant's own API Gateway key becomes the usage identifier (its
usage plan throttles the person), the context names the user, and a revoked, expired or unknown key is
refused. API Gateway and DynamoDB on the moto server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from cost_sentry.adapters.api_keys import ApiKeyDirectory
from cost_sentry.adapters.config_store import ConfigStore
from cost_sentry.adapters.credentials import CredentialChecker
from cost_sentry.adapters.user_keys import UserKeyAdmin
from cost_sentry.handlers.authorizer import authorize
from tests.service.conftest import Tables, tenant_document

REPO = Path(__file__).resolve().parents[2]
METHOD_ARN = "arn:aws:execute-api:us-east-1:111111111111:abc123/prod/POST/v1/chat/completions"


class Clock:
    """One clock for the key admin and the checker, moved by the test: an expiry is decided by the
    test's step, not by which side of a second boundary a moto round trip happens to land."""

    def __init__(self) -> None:
        self.now = time.time()

    def read(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def setup(tables: Tables, clock: Clock) -> tuple[CredentialChecker, UserKeyAdmin, dict[str, Any]]:
    apigateway = boto3.client("apigateway", region_name="us-east-1")
    tenant_key = apigateway.create_api_key(name=f"identity-{tables.config}", enabled=True)
    document = tenant_document()
    document["apiKeyIds"] = [tenant_key["id"]]
    tables.put_tenant(document)
    checker = CredentialChecker(
        ApiKeyDirectory(apigateway), ConfigStore(tables.client, tables.config, 300), clock=clock.read
    )
    return checker, UserKeyAdmin(tables.client, tables.config, clock=clock.read), tenant_key


def event(key: str, **headers: str) -> dict[str, Any]:
    return {
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "headers": {"Authorization": f"Bearer {key}", **headers},
    }


def test_a_user_key_is_its_tenants_usage_key_and_names_its_user(setup) -> None:
    checker, admin, tenant_key = setup
    secret, issued = admin.issue("sales", "alice")
    result = authorize(event(secret), checker)
    assert result["usageIdentifierKey"] == tenant_key["value"]
    assert result["principalId"] == "alice"
    assert result["context"] == {
        "apiKeyId": tenant_key["id"],
        "credential": "user_key",
        "user": "alice",
        "keyPrefix": issued.prefix,
        "keySha256": issued.sha256,
    }
    assert secret not in json.dumps(result["context"])


@pytest.mark.parametrize("state", ["revoked", "expired", "unknown"])
def test_a_revoked_expired_or_unknown_user_key_is_unauthorized(setup, clock: Clock, state: str) -> None:
    checker, admin, _ = setup
    secret, issued = admin.issue("sales", "bob", expires_at=int(clock.now) + 60)
    if state == "revoked":
        admin.revoke("sales", issued.prefix)
    elif state == "expired":
        clock.now += 60
    else:
        secret = "csk_" + "z" * 43
    with pytest.raises(Exception) as caught:
        authorize(event(secret), checker)
    assert str(caught.value) == "Unauthorized"


def test_a_user_key_works_until_the_second_it_expires(setup, clock: Clock) -> None:
    checker, admin, _ = setup
    expires_at = int(clock.now) + 60
    secret, _ = admin.issue("sales", "bob", expires_at=expires_at)
    clock.now = expires_at - 0.001
    assert authorize(event(secret), checker)["principalId"] == "bob"
    clock.now = expires_at
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(event(secret), checker)


def test_the_lambda_entry_point_builds_its_checker_once_from_its_environment(
    setup, tables: Tables, aws_endpoint_env: str
) -> None:
    # Given a user key issued for alice, and the authorizer function configured by its environment
    _, admin, tenant_key = setup
    secret, _ = admin.issue("sales", "alice")
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": aws_endpoint_env,
        "CONFIG_TABLE": tables.config,
        "PYTHONPATH": str(REPO / "lambda_src"),
    }
    script = f"""
import json
from cost_sentry.handlers import authorizer
allowed = authorizer.handler({json.dumps(event(secret))}, None)
try:
    authorizer.handler({json.dumps(event("csk_" + "z" * 43))}, None)
    refused = None
except Exception as exc:
    refused = str(exc)
print(json.dumps({{"allowed": allowed, "refused": refused,
                  "one_checker": authorizer.default_checker() is authorizer.default_checker()}}))
"""

    # When it handles alice's request and then one with an unknown key, in one container
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=True
    )

    # Then alice is her tenant's usage key, the unknown key is refused, and one checker served both
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["allowed"]["usageIdentifierKey"] == tenant_key["value"]
    assert answer["allowed"]["principalId"] == "alice"
    assert answer["refused"] == "Unauthorized"
    assert answer["one_checker"] is True
