import json
from decimal import Decimal

import pytest

from cost_sentry.core.tenants import ConfigError, TenantDirectory, tenant_from_document


def document(**overrides) -> dict:
    base = {
        "tenantId": "sales",
        "applicationId": "sales-assistant",
        "costCenter": "sales",
        "environment": "prod",
        "apiKeyIds": ["key-sales"],
        "budget": {"limitUsd": "0.50", "period": "MONTHLY", "blockAtActualPercent": None},
        "limits": {"requestsPerMinute": 600, "tokensPerPeriod": None},
        "models": {
            "claude-3-haiku": "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/abc"
        },
        "defaultModel": "claude-3-haiku",
        "modelAliases": {},
        "invokerRoleArn": None,
    }
    base.update(overrides)
    return base


def item(doc: dict) -> dict:
    return {"pk": {"S": f"tenant#{doc['tenantId']}"}, "config": {"S": json.dumps(doc)}}


def test_document_parses_with_exact_numbers():
    tenant = tenant_from_document(document())
    assert tenant.budget_limit_nanos == 500_000_000
    assert tenant.requests_per_minute == 600
    assert tenant.tokens_per_period is None
    assert tenant.model_aliases == {"sales": "claude-3-haiku"}
    assert tenant.api_key_ids == ("key-sales",)


def test_numbers_as_strings_and_block_percent():
    tenant = tenant_from_document(
        document(
            budget={"limitUsd": 1, "period": "DAILY", "blockAtActualPercent": "100"},
            limits={"requestsPerMinute": "30", "tokensPerPeriod": 1000},
        )
    )
    assert tenant.budget_limit_nanos == 1_000_000_000
    assert tenant.block_at_actual_percent == Decimal(100)
    assert (tenant.requests_per_minute, tenant.tokens_per_period, tenant.budget_period) == (30, 1000, "DAILY")


@pytest.mark.parametrize(
    "overrides",
    [
        {"budget": {"limitUsd": "0"}},
        {"budget": {"limitUsd": "x"}},
        {"budget": {"limitUsd": "1", "period": "WEEKLY"}},
        {"models": {}},
        {"defaultModel": "nova-micro"},
        {"modelAliases": {"fast": "nova-micro"}},
        {"limits": {"requestsPerMinute": 1.5}},
        {"applicationId": ""},
    ],
)
def test_bad_documents_are_refused(overrides):
    with pytest.raises(ConfigError):
        tenant_from_document(document(**overrides))


def test_limit_item_overrides_the_budget_and_bad_tenants_are_skipped():
    items = [
        item(document()),
        item(document(tenantId="broken", apiKeyIds=["k2"], models={})),
        {"pk": {"S": "limit#sales"}, "limitUsd": {"S": "2.5"}, "source": {"S": "budgets"}},
    ]
    directory = TenantDirectory.from_items(items)
    assert set(directory.tenants) == {"sales"}
    assert directory.tenants["sales"].budget_limit_nanos == 2_500_000_000
    assert directory.by_api_key["key-sales"].tenant_id == "sales"


def test_a_key_claimed_by_two_tenants_maps_to_neither():
    items = [item(document()), item(document(tenantId="other", apiKeyIds=["key-sales", "key-other"]))]
    directory = TenantDirectory.from_items(items)
    assert "key-sales" not in directory.by_api_key
    assert directory.by_api_key["key-other"].tenant_id == "other"


def test_an_explicit_alias_of_the_cost_center_wins_over_the_default_model():
    # Terraform writes merge({cost_center = default}, model_aliases): the explicit alias wins, so the
    # parser must not put the default model back (model_aliases = { sales = "nova-micro" } served haiku).
    models = {
        "claude-3-haiku": "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/abc",
        "nova-micro": "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/def",
    }
    tenant = tenant_from_document(document(models=models, modelAliases={"sales": "nova-micro"}))

    assert tenant.model_aliases["sales"] == "nova-micro"
    assert tenant_from_document(document(models=models)).model_aliases["sales"] == "claude-3-haiku"
