import pytest

from cost_sentry.core.catalog import default_catalog
from cost_sentry.core.errors import BadRequest
from cost_sentry.core.resolvers import StaticResolver, resolve_model_name
from cost_sentry.core.tenants import tenant_from_document

TENANT = tenant_from_document(
    {
        "tenantId": "sales",
        "applicationId": "sales-assistant",
        "costCenter": "sales",
        "environment": "prod",
        "apiKeyIds": ["k"],
        "budget": {"limitUsd": "1"},
        "models": {"claude-3-haiku": "arn:a/haiku", "nova-micro": "arn:a/micro"},
        "defaultModel": "claude-3-haiku",
        "modelAliases": {"cheap": "nova-micro"},
    }
)


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        (None, "claude-3-haiku"),
        ("nova-micro", "nova-micro"),
        ("anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku"),
        ("cheap", "nova-micro"),
        ("sales", "claude-3-haiku"),
    ],
)
def test_names_resolve(requested, expected):
    assert resolve_model_name(TENANT, requested, default_catalog()) == expected


@pytest.mark.parametrize(
    ("requested", "code"), [("gpt-4", "unknown_model"), ("nova-pro", "model_not_allowed")]
)
def test_refusals_name_the_allowed_models(requested, code):
    with pytest.raises(BadRequest) as caught:
        resolve_model_name(TENANT, requested, default_catalog())
    assert caught.value.code == code
    assert "claude-3-haiku, nova-micro" in caught.value.message


def test_static_resolver_returns_the_configured_arn():
    assert StaticResolver().profile_arn(TENANT, "nova-micro") == "arn:a/micro"
