"""A session flood over HTTP (issue 7, bug 7): per-user sessions on moto STS, a tenant that makes up new
user names gets 429 too_many_new_sessions past its per-minute allowance, with nothing reserved, while
its known users and another tenant carry on; a comma in the user is a 400 before any STS call."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from scripts.testbed.local_stack import LocalStack
from tests.integration.http_helpers import HttpResult, call, own_stack, period_item

pytestmark = pytest.mark.xdist_group("http_session_flood")

TFVARS = """
environment = "test"
tenants = {
  flood = {
    application_id = "flood-app"
    cost_center    = "flood"
    models         = ["nova-micro"]
    budget         = { limit_usd = 1 }
  }
  calm = {
    application_id = "calm-app"
    cost_center    = "calm"
    models         = ["nova-micro"]
    budget         = { limit_usd = 1 }
  }
}
"""
NEW_SESSIONS_PER_MINUTE = 3


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    environment = {"NEW_SESSIONS_PER_MINUTE": str(NEW_SESSIONS_PER_MINUTE)}
    with own_stack(TFVARS, per_user_sessions=True, gateway_environment=environment) as running:
        yield running


def ask_as(stack: LocalStack, tenant_id: str, user: str) -> HttpResult:
    tenant = stack.tenants[tenant_id]
    body = tenant.request_body("hello")
    return call(
        stack, "/v1/converse", api_key=tenant.api_key, body=body, headers={"x-cost-sentry-user": user}
    )


def test_a_flood_of_new_users_is_capped_per_tenant_and_minute(stack: LocalStack) -> None:
    if time.time() % 60 > 50:  # keep the flood inside one UTC minute
        time.sleep(60 - time.time() % 60 + 0.1)
    first = [ask_as(stack, "flood", f"user{number}") for number in range(NEW_SESSIONS_PER_MINUTE)]
    assert [r.status for r in first] == [200] * NEW_SESSIONS_PER_MINUTE, [r.text for r in first]
    before = period_item(stack, "flood")

    capped = ask_as(stack, "flood", "one-more-made-up-user")

    assert (capped.status, capped.error_code) == (429, "too_many_new_sessions"), capped.text
    assert 1 <= int(capped.headers["Retry-After"]) <= 60
    assert period_item(stack, "flood") == before  # refused before anything was reserved
    assert ask_as(stack, "flood", "user0").status == 200  # a user already seen still passes
    assert ask_as(stack, "calm", "user0").status == 200  # another tenant has its own allowance


def test_a_comma_in_the_user_is_refused_before_sts(stack: LocalStack) -> None:
    refused = ask_as(stack, "calm", "smith,alice")

    assert (refused.status, refused.error_code) == (400, "invalid_user"), refused.text
    assert "_+=.@-" in refused.json()["error"]["message"]
