"""PerUserSessionClients against moto's STS over HTTP: session names, tags, caching, expiry, errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from cost_sentry.adapters.sessions import (
    InvalidUserError,
    PerUserSessionClients,
    SessionUnavailableError,
    default_bedrock_client_factory,
)
from cost_sentry.core.errors import BadRequest, ServiceUnavailable

from .support import FakeClock, Tenant, record_calls

ROLE_NAME = "cost-sentry-sales-invoker"


def sts_identity_factory(credentials: Mapping[str, str]) -> Any:
    """Instead of a bedrock-runtime client, an STS client on the same credentials, to ask who it is."""
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    ).client("sts")


@pytest.fixture
def sts(aws_endpoint_env: str) -> Any:
    return boto3.session.Session().client("sts")


def test_the_user_becomes_the_assumed_role_session_that_cur_reports(sts: Any, tenant: Tenant) -> None:
    # Given per-user sessions on the tenant's invoker role
    assume_calls = record_calls(sts, "AssumeRole")
    sessions = PerUserSessionClients(sts, client_factory=sts_identity_factory)

    # When a request for alice asks for a client
    client = sessions.client_for(tenant, "alice@example.com")

    # Then the client runs as assumed-role/<invoker role>/<user>: the line_item_iam_principal form in CUR
    identity = client.get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::123456789012:assumed-role/{ROLE_NAME}/alice@example.com"
    # And the session carries the cost allocation tags of the tenant and the user
    (call,) = assume_calls.calls
    assert call["RoleArn"] == tenant.invoker_role_arn
    assert call["RoleSessionName"] == "alice@example.com"
    assert call["Tags"] == [
        {"Key": "applicationId", "Value": "sales-assistant"},
        {"Key": "costCenter", "Value": "sales"},
        {"Key": "environment", "Value": "prod"},
        {"Key": "user", "Value": "alice@example.com"},
    ]
    assert "TransitiveTagKeys" not in call


def test_calls_without_a_user_share_one_application_session(sts: Any, tenant: Tenant) -> None:
    assume_calls = record_calls(sts, "AssumeRole")
    sessions = PerUserSessionClients(sts, client_factory=sts_identity_factory)

    first = sessions.client_for(tenant, None)
    second = sessions.client_for(tenant, None)

    assert first is second
    assert first.get_caller_identity()["Arn"].endswith(f"assumed-role/{ROLE_NAME}/sales-app")
    (call,) = assume_calls.calls
    assert {tag["Key"] for tag in call["Tags"]} == {"applicationId", "costCenter", "environment"}


def test_without_an_sts_client_the_sessions_make_their_own_on_first_use(
    aws_endpoint_env: str, tenant: Tenant
) -> None:
    # Given per-user sessions given no STS client (the gateway's composition injects one)
    sessions = PerUserSessionClients(client_factory=sts_identity_factory)

    # When a request for alice asks for a client
    client = sessions.client_for(tenant, "alice@example.com")

    # Then a default STS client (the SDK's standard endpoint setting: moto here) opened her session
    assert client.get_caller_identity()["Arn"].endswith(f"assumed-role/{ROLE_NAME}/alice@example.com")
    assert sessions.sts_client.meta.service_model.service_name == "sts"


def test_default_factory_builds_bedrock_runtime_on_the_session_credentials_and_standard_endpoint(
    sts: Any, tenant: Tenant, aws_endpoint_env: str
) -> None:
    sessions = PerUserSessionClients(sts, client_factory=default_bedrock_client_factory())

    client = sessions.client_for(tenant, "bob")

    assert client.meta.service_model.service_name == "bedrock-runtime"
    assert client.meta.endpoint_url == aws_endpoint_env
    signing = client._request_signer._credentials.get_frozen_credentials()
    identity = sts_identity_factory(
        {
            "AccessKeyId": signing.access_key,
            "SecretAccessKey": signing.secret_key,
            "SessionToken": signing.token,
        }
    ).get_caller_identity()
    assert identity["Arn"].endswith(f"assumed-role/{ROLE_NAME}/bob")
    # Clients share the factory's botocore session, never their credentials
    other = sessions.client_for(tenant, "carol")
    other_key = other._request_signer._credentials.get_frozen_credentials().access_key
    assert other_key != signing.access_key


def test_many_requests_make_one_sts_call_per_user(sts: Any, tenant: Tenant) -> None:
    assume_calls = record_calls(sts, "AssumeRole")
    sessions = PerUserSessionClients(sts, client_factory=sts_identity_factory)

    for _ in range(50):
        for user in ("alice", "bob", "carol"):
            sessions.client_for(tenant, user)

    assert sorted(call["RoleSessionName"] for call in assume_calls.calls) == ["alice", "bob", "carol"]


def test_concurrent_first_requests_for_one_user_make_one_sts_call(sts: Any, tenant: Tenant) -> None:
    # Given an STS that takes a while to answer, so every thread arrives while the first call is running
    assume_calls = record_calls(sts, "AssumeRole", delay=lambda: time.sleep(0.3))
    sessions = PerUserSessionClients(sts, client_factory=sts_identity_factory)
    threads_count = 16
    start = threading.Barrier(threads_count)
    clients: list[Any] = []

    def first_request(user: str) -> None:
        start.wait()
        clients.append(sessions.client_for(tenant, user))

    # When 12 requests for alice and 4 for bob start at once
    users = ["alice"] * 12 + ["bob"] * 4
    threads = [threading.Thread(target=first_request, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # Then STS was called once per user, and every alice request got the same client
    assert sorted(call["RoleSessionName"] for call in assume_calls.calls) == ["alice", "bob"]
    assert len(clients) == threads_count
    assert len({id(client) for client in clients}) == 2


def test_credentials_are_renewed_only_within_the_margin_before_expiry(
    sts: Any, tenant: Tenant, clock: FakeClock
) -> None:
    assume_calls = record_calls(sts, "AssumeRole")
    sessions = PerUserSessionClients(
        sts,
        client_factory=sts_identity_factory,
        clock=clock,
        session_seconds=3600,
        refresh_margin_seconds=300,
    )
    first = sessions.client_for(tenant, "alice")

    clock.advance(3600 - 300 - 1)
    assert sessions.client_for(tenant, "alice") is first
    assert len(assume_calls) == 1

    clock.advance(2)
    renewed = sessions.client_for(tenant, "alice")
    assert renewed is not first
    assert len(assume_calls) == 2
    assert sessions.client_for(tenant, "alice") is renewed
    assert len(assume_calls) == 2


@pytest.mark.parametrize(
    "user",
    ["a", "x" * 65, "alice smith", "alice/admin", "élodie", "", "sales-app", "smith,alice"],
    ids=["too-short", "too-long", "space", "slash", "non-ascii", "empty", "reserved-app-name", "comma"],
)
def test_a_user_that_is_not_a_valid_session_name_is_refused_before_any_sts_call(
    sts: Any, tenant: Tenant, user: str
) -> None:
    assume_calls = record_calls(sts, "AssumeRole")
    sessions = PerUserSessionClients(sts, client_factory=sts_identity_factory)

    with pytest.raises(InvalidUserError) as refused:
        sessions.client_for(tenant, user)

    assert isinstance(refused.value, BadRequest)
    assert refused.value.code == "invalid_user"
    assert len(assume_calls) == 0
    assert len(sessions) == 0


def test_the_cache_is_bounded_and_evicts_the_least_recently_used_user(sts: Any, tenant: Tenant) -> None:
    assume_calls = record_calls(sts, "AssumeRole")
    sessions = PerUserSessionClients(sts, client_factory=sts_identity_factory, max_sessions_per_tenant=3)

    for user in ("u1", "u2", "u3"):
        sessions.client_for(tenant, user)
    sessions.client_for(tenant, "u1")  # u1 is now the most recently used
    sessions.client_for(tenant, "u4")  # evicts u2

    assert len(sessions) == 3
    sessions.client_for(tenant, "u1")
    sessions.client_for(tenant, "u3")
    assert len(assume_calls) == 4
    sessions.client_for(tenant, "u2")
    assert len(assume_calls) == 5


def test_sessions_are_per_tenant_even_for_the_same_user(sts: Any, tenant: Tenant) -> None:
    assume_calls = record_calls(sts, "AssumeRole")
    sessions = PerUserSessionClients(sts, client_factory=sts_identity_factory)
    support = replace(
        tenant,
        tenant_id="support",
        application_id="support-bot",
        invoker_role_arn="arn:aws:iam::123456789012:role/cost-sentry-support-invoker",
    )

    sales_client = sessions.client_for(tenant, "alice")
    support_client = sessions.client_for(support, "alice")

    assert sales_client is not support_client
    assert support_client.get_caller_identity()["Arn"].endswith("cost-sentry-support-invoker/alice")
    assert len(assume_calls) == 2


class FlakySts:
    """An STS whose answers the test scripts: credentials, or a throttling error."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.fail = False
        self.calls = 0

    def assume_role(self, **params: Any) -> dict[str, Any]:
        self.calls += 1
        if self.fail:
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "AssumeRole")
        expiration = datetime.fromtimestamp(self.clock() + params["DurationSeconds"], tz=UTC)
        return {
            "Credentials": {
                "AccessKeyId": f"ASIA{self.calls}",
                "SecretAccessKey": "secret",
                "SessionToken": "token",
                "Expiration": expiration,
            },
            "AssumedRoleUser": {
                "Arn": f"arn:aws:sts::123456789012:assumed-role/r/{params['RoleSessionName']}"
            },
        }


def test_an_sts_failure_is_a_clear_gateway_error(tenant: Tenant, clock: FakeClock) -> None:
    sts = FlakySts(clock)
    sts.fail = True
    sessions = PerUserSessionClients(sts, client_factory=dict, clock=clock)

    with pytest.raises(SessionUnavailableError) as failed:
        sessions.client_for(tenant, "alice")

    assert isinstance(failed.value, ServiceUnavailable)
    assert failed.value.code == "session_unavailable"
    assert len(sessions) == 0


def test_an_sts_failure_tells_the_caller_nothing_internal_and_logs_the_detail(
    tenant: Tenant, clock: FakeClock
) -> None:
    sts = FlakySts(clock)
    sts.fail = True
    logged: list[tuple[str, dict[str, Any]]] = []
    sessions = PerUserSessionClients(
        sts, client_factory=dict, clock=clock, warn=lambda event, **fields: logged.append((event, fields))
    )

    with pytest.raises(SessionUnavailableError) as failed:
        sessions.client_for(tenant, "alice")

    # Neither the invoker role ARN nor STS's own message reach the caller
    assert str(tenant.invoker_role_arn) not in failed.value.message
    assert "arn:" not in failed.value.message
    assert "Rate exceeded" not in failed.value.message and "Throttling" not in failed.value.message
    # They are in the operator's log
    [(event, fields)] = logged
    assert event == "session_unavailable"
    assert (fields["roleArn"], fields["code"], fields["detail"]) == (
        tenant.invoker_role_arn,
        "Throttling",
        "Rate exceeded",
    )


def test_a_failed_renewal_keeps_serving_valid_credentials_then_fails_once_they_expire(
    tenant: Tenant, clock: FakeClock
) -> None:
    sts = FlakySts(clock)
    sessions = PerUserSessionClients(
        sts, client_factory=dict, clock=clock, refresh_margin_seconds=300, retry_after_failure_seconds=15
    )
    first = sessions.client_for(tenant, "alice")

    # Inside the renewal margin STS throttles: the still-valid credentials keep working
    sts.fail = True
    clock.advance(3600 - 200)
    assert sessions.client_for(tenant, "alice") == first
    assert sts.calls == 2
    # and STS is not asked again on every request, only after the back-off
    assert sessions.client_for(tenant, "alice") == first
    assert sts.calls == 2
    clock.advance(16)
    assert sessions.client_for(tenant, "alice") == first
    assert sts.calls == 3

    # Once the credentials have expired, the error reaches the caller
    clock.advance(200)
    with pytest.raises(SessionUnavailableError):
        sessions.client_for(tenant, "alice")

    # and a recovered STS serves fresh credentials once the failure's back-off is over
    sts.fail = False
    clock.advance(16)
    assert sessions.client_for(tenant, "alice")["AccessKeyId"] == f"ASIA{sts.calls}"


def test_a_tenant_without_invoker_role_uses_the_fallback_or_is_refused(tenant: Tenant) -> None:
    roleless = replace(tenant, invoker_role_arn=None)

    class SharedClients:
        def client_for(self, tenant: Any, user: str | None) -> str:
            return "shared-client"

    assert PerUserSessionClients(object(), fallback=SharedClients()).client_for(roleless, "alice") == (
        "shared-client"
    )
    with pytest.raises(SessionUnavailableError, match="no invoker role"):
        PerUserSessionClients(object()).client_for(roleless, "alice")
    # the user is validated even when no session is opened
    with pytest.raises(InvalidUserError):
        PerUserSessionClients(object(), fallback=SharedClients()).client_for(roleless, "bad user")


def test_flaky_sts_expiration_is_bounded_by_the_local_clock(tenant: Tenant, clock: FakeClock) -> None:
    class SkewedSts(FlakySts):
        def assume_role(self, **params: Any) -> dict[str, Any]:
            answer = super().assume_role(**params)
            answer["Credentials"]["Expiration"] += timedelta(hours=5)
            return answer

    sts = SkewedSts(clock)
    sessions = PerUserSessionClients(sts, client_factory=dict, clock=clock)
    sessions.client_for(tenant, "alice")
    clock.advance(3600)
    sessions.client_for(tenant, "alice")
    assert sts.calls == 2


def test_concurrent_first_requests_share_one_failed_sts_call(tenant: Tenant, clock: FakeClock) -> None:
    class SlowFailingSts(FlakySts):
        def assume_role(self, **params: Any) -> dict[str, Any]:
            time.sleep(0.2)
            return super().assume_role(**params)

    sts = SlowFailingSts(clock)
    sts.fail = True
    sessions = PerUserSessionClients(sts, client_factory=dict, clock=clock)
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def first_request() -> None:
        start.wait()
        try:
            sessions.client_for(tenant, "alice")
        except SessionUnavailableError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first_request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(errors) == 8
    assert sts.calls == 1


def test_a_tenant_whose_tags_change_gets_a_session_with_the_new_tags(sts: Any, tenant: Tenant) -> None:
    assume_calls = record_calls(sts, "AssumeRole")
    sessions = PerUserSessionClients(sts, client_factory=sts_identity_factory)
    sessions.client_for(tenant, "alice")

    sessions.client_for(replace(tenant, cost_center="sales-emea"), "alice")

    assert len(assume_calls) == 2
    assert {"Key": "costCenter", "Value": "sales-emea"} in assume_calls.calls[1]["Tags"]


def test_the_principal_is_the_role_session_not_the_role_path() -> None:
    from cost_sentry.adapters.sessions import assumed_role_principal

    assert (
        assumed_role_principal("arn:aws:iam::111111111111:role/tenants/cost-sentry-sales-invoker", "alice")
        == "arn:aws:sts::111111111111:assumed-role/cost-sentry-sales-invoker/alice"
    )
    assert assumed_role_principal("arn:aws-cn:iam::222222222222:role/r", "sales-app") == (
        "arn:aws-cn:sts::222222222222:assumed-role/r/sales-app"
    )


def test_a_refused_user_costs_one_sts_call_per_back_off_not_one_per_request(
    tenant: Tenant, clock: FakeClock
) -> None:
    sts = FlakySts(clock)
    sts.fail = True
    sessions = PerUserSessionClients(sts, client_factory=dict, clock=clock, retry_after_failure_seconds=15)

    for _ in range(20):
        with pytest.raises(SessionUnavailableError):
            sessions.client_for(tenant, "alice")
        clock.advance(0.5)  # 20 requests over 10 seconds: inside one back-off window

    assert sts.calls == 1
    clock.advance(6)
    with pytest.raises(SessionUnavailableError):
        sessions.client_for(tenant, "alice")
    assert sts.calls == 2


def test_one_tenants_flood_of_users_never_evicts_another_tenants_sessions(
    tenant: Tenant, clock: FakeClock
) -> None:
    sts = FlakySts(clock)
    sessions = PerUserSessionClients(
        sts, client_factory=dict, clock=clock, max_sessions_per_tenant=16, new_sessions_per_minute=1000
    )
    support = replace(
        tenant,
        tenant_id="support",
        application_id="support-bot",
        invoker_role_arn="arn:aws:iam::123456789012:role/cost-sentry-support-invoker",
    )
    kept = {user: sessions.client_for(support, user) for user in ("ana", "ben", "cy")}
    calls_before_flood = sts.calls

    for number in range(300):  # the flood: 300 distinct users from one tenant
        sessions.client_for(tenant, f"user{number}")

    assert sessions.sessions_of("sales") == 16  # the flood only ever evicts its own tenant's sessions
    assert sessions.sessions_of("support") == 3
    assert {user: sessions.client_for(support, user) for user in kept} == kept
    assert sts.calls == calls_before_flood + 300  # no new STS call for support's users


def test_new_sessions_per_tenant_and_minute_are_capped_with_a_429(tenant: Tenant, clock: FakeClock) -> None:
    from cost_sentry.core.errors import LimitExceeded

    clock.advance(60 - clock() % 60)  # the start of a UTC minute
    sts = FlakySts(clock)
    sessions = PerUserSessionClients(sts, client_factory=dict, clock=clock, new_sessions_per_minute=5)
    support = replace(
        tenant,
        tenant_id="support",
        application_id="support-bot",
        invoker_role_arn="arn:aws:iam::123456789012:role/cost-sentry-support-invoker",
    )
    for number in range(5):
        sessions.client_for(tenant, f"user{number}")

    with pytest.raises(LimitExceeded) as capped:
        sessions.client_for(tenant, "user5")

    assert (capped.value.status, capped.value.code) == (429, "too_many_new_sessions")
    assert capped.value.headers["Retry-After"] == "60"
    assert sts.calls == 5
    sessions.client_for(tenant, "user0")  # users already seen still pass
    sessions.client_for(support, "user0")  # and another tenant has its own allowance
    clock.advance(60)
    sessions.client_for(tenant, "user5")  # the next minute opens again
    assert sts.calls == 7
