"""API Gateway REQUEST authorizer: one piece that finds the tenant's key on every surface.

SDKs send the key differently: ``x-api-key`` (the seed API, the Anthropic SDK) or ``Authorization:
Bearer`` (botocore's AWS_BEARER_TOKEN_BEDROCK, the OpenAI SDK). The authorizer reads it with the same
function the local stack uses (cost_sentry.surfaces.http.presented_api_key) and returns it as the
``usageIdentifierKey``; the REST API's key source is AUTHORIZER, so API Gateway then checks it against
its API keys and usage plans exactly as for ``x-api-key`` (an unknown or disabled key is refused with
INVALID_API_KEY, each tenant's usage plan throttles it) and the function sees the key's id in
``requestContext.identity.apiKeyId``, which the config maps to one tenant. No other tenant's key can
spend: the tenant is always the key's own. It needs no AWS access of its own.
"""

from __future__ import annotations

import logging
from typing import Any

from cost_sentry.surfaces.http import presented_api_key

logger = logging.getLogger(__name__)


def policy(method_arn: str, key: str) -> dict[str, Any]:
    # Allow the whole stage for this key (the result is not cached, so scope adds nothing).
    stage_arn = "/".join(method_arn.split("/")[:2]) + "/*"
    return {
        "principalId": "api-key",
        "usageIdentifierKey": key,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": stage_arn}],
        },
    }


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items() if v is not None}
    key = presented_api_key(headers)
    if not key:
        # API Gateway answers 401 UNAUTHORIZED (shaped per surface by modules/gateway/surfaces.tf).
        raise Exception("Unauthorized")
    return policy(str(event.get("methodArn", "")), key)
