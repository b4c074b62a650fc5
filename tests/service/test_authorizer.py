"""The API Gateway authorizer: the key from whichever header the caller's SDK uses, checked against
API Gateway's keys (on the moto server) and handed back as the usage identifier key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from cost_sentry.adapters.api_keys import ApiKeyDirectory
from cost_sentry.adapters.credentials import CredentialChecker
from cost_sentry.core.tenants import TenantDirectory
from cost_sentry.handlers.authorizer import authorize


class NoConfig:
    """A tenant key never needs the config table (per-user keys and tokens: test_identity_authorizer)."""

    def directory(self) -> TenantDirectory:
        return TenantDirectory.from_items([])

    def fresh_directory(self) -> TenantDirectory:
        return self.directory()


METHOD_ARN = "arn:aws:execute-api:us-east-1:111111111111:abc123/prod/POST/model/nova-lite/converse"


@pytest.fixture(scope="module")
def keys(moto_endpoint: str) -> Iterator[tuple[CredentialChecker, dict[str, Any], dict[str, Any]]]:
    client = boto3.session.Session().client("apigateway", region_name="us-east-1", endpoint_url=moto_endpoint)
    enabled = client.create_api_key(name="authorizer-test-on", enabled=True)
    disabled = client.create_api_key(name="authorizer-test-off", enabled=False)
    yield CredentialChecker(ApiKeyDirectory(client), NoConfig()), enabled, disabled  # type: ignore[arg-type]
    for key in (enabled, disabled):
        client.delete_api_key(apiKey=key["id"])


def event(headers: dict[str, str]) -> dict[str, Any]:
    return {"type": "REQUEST", "methodArn": METHOD_ARN, "headers": headers}


@pytest.mark.parametrize("header", ["x-api-key", "Authorization: Bearer", "authorization: bearer"])
def test_a_known_key_becomes_the_usage_identifier_key(keys, header):
    directory, enabled, _ = keys
    name, _, scheme = header.partition(": ")
    headers = {name: f"{scheme} {enabled['value']} ".strip() if scheme else enabled["value"]}
    result = authorize(event(headers), directory)
    assert result["usageIdentifierKey"] == enabled["value"]
    assert result["context"] == {"apiKeyId": enabled["id"], "credential": "tenant_key"}
    [statement] = result["policyDocument"]["Statement"]
    assert (statement["Effect"], statement["Resource"]) == (
        "Allow",
        "arn:aws:execute-api:us-east-1:111111111111:abc123/prod/*",
    )


@pytest.mark.parametrize("which", ["none", "basic", "empty bearer", "unknown", "disabled"])
def test_a_missing_unknown_or_disabled_key_is_unauthorized(keys, which):
    directory, _, disabled = keys
    headers = {
        "none": {},
        "basic": {"Authorization": "Basic dXNlcjpwdw=="},
        "empty bearer": {"Authorization": "Bearer "},
        "unknown": {"x-api-key": "no-such-key"},
        "disabled": {"x-api-key": disabled["value"]},
    }[which]
    with pytest.raises(Exception) as caught:
        authorize(event(headers), directory)
    assert str(caught.value) == "Unauthorized"
