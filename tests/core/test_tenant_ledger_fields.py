"""The runtime document's ledger, in-flight and per-user fields (CONTRACT.md) parse into TenantConfig."""

from __future__ import annotations

import pytest

from cost_sentry.core.tenants import ConfigError, tenant_from_document
from tests.service.conftest import tenant_document


def test_missing_fields_mean_one_shard_no_in_flight_limit_and_no_user_budgets():
    tenant = tenant_from_document(tenant_document())
    assert (tenant.ledger_shards, tenant.max_in_flight, tenant.user_default_limit_nanos) == (1, None, None)
    assert dict(tenant.user_limit_nanos) == {}
    assert tenant.user_limit_for("alice") is None and tenant.user_limit_for(None) is None


def test_the_fields_parse_as_numbers_or_strings():
    tenant = tenant_from_document(
        tenant_document(
            limits={"requestsPerMinute": 600, "tokensPerPeriod": None, "maxInFlight": "40"},
            ledger={"shards": 8},
            users={"defaultLimitUsd": "0.10", "limitsUsd": {"alice": "0.50"}},
        )
    )
    assert (tenant.ledger_shards, tenant.max_in_flight) == (8, 40)
    assert tenant.user_limit_for("alice") == 500_000_000
    assert tenant.user_limit_for("bob") == 100_000_000
    assert tenant.user_limit_for(None) is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ledger": {"shards": 0}}, "ledger.shards"),
        ({"ledger": {"shards": 65}}, "ledger.shards must be 1..64"),
        ({"ledger": {"shards": 2.5}}, "ledger.shards"),
        ({"limits": {"maxInFlight": -1}}, "limits.maxInFlight"),
        ({"users": {"defaultLimitUsd": "0"}}, "users.defaultLimitUsd"),
        ({"users": {"limitsUsd": {"alice": None}}}, "users.limitsUsd"),
        ({"users": ["alice"]}, "users must be an object"),
    ],
)
def test_bad_values_are_refused_with_the_field_named(changes, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        tenant_from_document(tenant_document(**changes))
