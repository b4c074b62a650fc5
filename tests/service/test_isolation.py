"""Tenant isolation: the API key decides the tenant; the body can only confirm it."""

from __future__ import annotations

import json

from cost_sentry.core.tenants import tenant_from_document
from tests.service.conftest import converse_body, load_event, tenant_document


def test_a_key_can_never_spend_another_tenants_budget(gateway_factory):
    gateway = gateway_factory(tenant_document("sales"), tenant_document("support"))
    # Tenant A's key with tenant B's application id (and B's cost center): refused.
    for tags in ({"applicationId": "support-app"}, {"applicationId": "support-app", "costCenter": "support"}):
        response = gateway.handle(
            load_event("converse", body=converse_body(tags=tags), api_key_id="key-sales")
        )
        assert response["statusCode"] == 403
        assert json.loads(response["body"])["error"]["code"] == "tag_mismatch"
    # B's cost center used as a model alias by A: not A's alias, so not a way into B's models.
    response = gateway.handle(
        load_event("converse", body=converse_body(model="support"), api_key_id="key-sales")
    )
    assert response["statusCode"] == 400
    assert gateway.tables.period_item("support") == {}
    assert gateway.tables.period_item("sales") == {}

    # The same body with each tenant's own key charges only that tenant, with that tenant's profile.
    ok = gateway.handle(load_event("converse", body=converse_body("support"), api_key_id="key-support"))
    assert ok["statusCode"] == 200
    assert json.loads(ok["body"])["modelId"].endswith("/supporthaiku")
    assert gateway.tables.period_item("sales") == {}
    assert int(gateway.tables.period_item("support")["spent_nanos"]["N"]) > 0


def test_budget_route_shows_only_the_callers_tenant(gateway_factory):
    gateway = gateway_factory(tenant_document("sales"), tenant_document("support"))
    gateway.handle(load_event("converse", body=converse_body("support"), api_key_id="key-support"))
    body = json.loads(gateway.handle(load_event("budget", api_key_id="key-sales"))["body"])
    assert body["tenantId"] == "sales"
    assert body["spentUsd"] == "0.00"


def test_config_changes_are_seen_after_the_refresh_interval(gateway_factory):
    gateway = gateway_factory(tenant_document("sales"), config_refresh_seconds=300)
    store = gateway.service.config_store
    now = [1_000.0]
    store._clock = lambda: now[0]
    store._directory = None
    assert store.tenant_for_api_key("key-new") is None
    gateway.tables.put_tenant(tenant_document("new"))
    now[0] += 299
    assert store.tenant_for_api_key("key-new") is None  # cached
    now[0] += 2
    assert store.tenant_for_api_key("key-new").tenant_id == "new"


def test_a_budget_raised_by_the_budget_sync_is_not_undone_by_a_stale_container(gateway_factory):
    document = tenant_document("sales", budget={"limitUsd": "0.50"})
    gateway = gateway_factory(document)
    assert gateway.handle(load_event("converse", body=converse_body()))["statusCode"] == 200  # config cached
    # What the budget sync does: the limit# override first, then the ledger by the exact delta.
    gateway.tables.client.put_item(
        TableName=gateway.tables.config,
        Item={"pk": {"S": "limit#sales"}, "limitUsd": {"S": "2.00"}, "source": {"S": "budgets"}},
    )
    assert (
        gateway.service.ledger.move_limit(tenant_from_document(document), "PERIOD#2026-11", 2_000_000_000)
        == 1_500_000_000
    )
    response = gateway.handle(load_event("converse", body=converse_body()))
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["budget"]["limitUsd"] == "2.00"
    item = gateway.tables.period_item("sales")
    assert int(item["limit_nanos"]["N"]) == 2_000_000_000
    assert int(item["available_nanos"]["N"]) == 2_000_000_000 - int(item["spent_nanos"]["N"])
