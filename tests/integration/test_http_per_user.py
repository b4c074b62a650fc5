"""Per-user sessions over HTTP: with PER_USER_SESSIONS=true each end user's Bedrock calls are signed with
their own STS session of the tenant's invoker role (moto STS), and the call record names the user."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from scripts.testbed.local_stack import LocalStack
from tests.integration.http_helpers import HttpResult, call, call_records, own_stack

pytestmark = pytest.mark.xdist_group("http_per_user")

TFVARS = """
environment = "test"
tenants = {
  team = {
    application_id = "team-app"
    cost_center    = "team"
    models         = ["nova-micro"]
    budget         = { limit_usd = 1 }
  }
}
"""


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with own_stack(TFVARS, per_user_sessions=True) as running:
        yield running


def ask_as(stack: LocalStack, user: str | None) -> HttpResult:
    team = stack.tenants["team"]
    headers = {"x-cost-sentry-user": user} if user else {}
    return call(stack, "/v1/converse", api_key=team.api_key, body=team.request_body("hello"), headers=headers)


def test_each_user_calls_bedrock_with_their_own_session_credentials(stack: LocalStack) -> None:
    assert stack.bedrock is not None
    stack.bedrock.clear_requests()

    results = [ask_as(stack, user) for user in ("alice", "bob", "alice", None)]

    assert [r.status for r in results] == [200, 200, 200, 200], [r.text for r in results]
    alice, bob, alice_again, app = (entry["accessKeyId"] for entry in stack.bedrock.requests())
    assert alice == alice_again  # the session is cached, not assumed per request
    assert len({alice, bob, app}) == 3
    assert os.environ["AWS_ACCESS_KEY_ID"] not in {alice, bob, app}  # never the gateway's own credentials
    users = {r["sk"].rsplit("#", 1)[1]: r.get("user") for r in call_records(stack, "team")}
    assert [users[r.json()["requestId"]] for r in results[:2]] == ["alice", "bob"]


def test_call_records_name_the_session_of_the_tenants_own_invoker_role(stack: LocalStack) -> None:
    results = [ask_as(stack, user) for user in ("carol", None)]

    assert [r.status for r in results] == [200, 200], [r.text for r in results]
    principals = {r["sk"].rsplit("#", 1)[1]: r["principal"] for r in call_records(stack, "team")}
    # The role name is Terraform's (modules/gateway/iam.tf): <name_prefix>-<tenant>-invoker.
    role = "arn:aws:sts::123456789012:assumed-role/cost-sentry-team-invoker"
    assert [principals[r.json()["requestId"]] for r in results] == [f"{role}/carol", f"{role}/team-app"]
