"""API Gateway REQUEST authorizer: one piece that finds and checks the tenant's key on every surface.

SDKs send the key differently: ``x-api-key`` (the gateway's JSON API, the Anthropic SDK) or ``Authorization:
Bearer`` (botocore's AWS_BEARER_TOKEN_BEDROCK, the OpenAI SDK). The authorizer reads it with the same
function the local stack uses (cost_sentry.surfaces.http.presented_api_key), refuses a missing,
unknown or disabled key (API Gateway answers UNAUTHORIZED, a 401 shaped per surface by
modules/gateway/surfaces.tf), and returns the key as the ``usageIdentifierKey``: the REST API's key
source is AUTHORIZER, so the tenant's usage plan throttles it exactly as for ``x-api-key``, and the
function sees the key's id in ``requestContext.identity.apiKeyId``, which the config maps to one
tenant. No other tenant's key can spend: the tenant is always the key's own. Its only AWS access is
reading the API keys (``apigateway:GET`` on /apikeys), cached per container.

Per-user keys and OIDC tokens (cost_sentry.adapters.credentials) are checked here too, against the
config table (read like the gateway reads it, ``CONFIG_TABLE``, refreshed every
``CONFIG_REFRESH_SECONDS``): the usage identifier is then the tenant's own key, and the context carries
the proven ``user``, which the gateway uses in place of any ``x-cost-sentry-user`` header.
"""

from __future__ import annotations

from typing import Any

from cost_sentry.adapters.api_keys import ApiKeyDirectory
from cost_sentry.adapters.credentials import CredentialChecker
from cost_sentry.core.identity import Identity
from cost_sentry.core.once import built_once


@built_once
def default_checker() -> CredentialChecker:
    """The container's checker: its clients and its cached config outlive the invocation."""
    from cost_sentry.adapters.aws import AwsSession
    from cost_sentry.adapters.config_store import ConfigStore
    from cost_sentry.core.settings import ConfigSettings

    settings = ConfigSettings.from_env()
    aws = AwsSession()
    return CredentialChecker(
        ApiKeyDirectory(aws.client("apigateway", connect_timeout=2, read_timeout=3)),
        ConfigStore(
            aws.client("dynamodb", connect_timeout=2, read_timeout=3),
            settings.config_table,
            settings.config_refresh_seconds,
        ),
    )


def policy(method_arn: str, identity: Identity) -> dict[str, Any]:
    # Allow the whole stage for this key (the result is not cached, so scope adds nothing).
    stage_arn = "/".join(method_arn.split("/")[:2]) + "/*"
    return {
        "principalId": identity.user or "api-key",
        "usageIdentifierKey": identity.usage_key,
        "context": identity.context(),
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": stage_arn}],
        },
    }


def authorize(event: dict[str, Any], checker: CredentialChecker) -> dict[str, Any]:
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items() if v is not None}
    identity = checker.identify(headers)
    if identity is None:
        # API Gateway answers 401 UNAUTHORIZED (shaped per surface by modules/gateway/surfaces.tf); the
        # message must be exactly this for API Gateway to treat it as a refusal, not an error.
        raise Exception("Unauthorized")
    return policy(str(event.get("methodArn", "")), identity)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return authorize(event, default_checker())
