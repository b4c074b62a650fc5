"""TaggingApiResolver with GetResources answered by botocore's Stubber or a scripted fake client.

moto does not index Bedrock application inference profiles in its tagging API, so the answers are scripted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from cost_sentry.adapters.tagging_resolver import (
    NoProfileForModelError,
    ProfilesUnavailableError,
    TaggingApiResolver,
)
from cost_sentry.core.errors import ServiceUnavailable

from .support import FakeClock, Tenant

PROFILE = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/"
EXPECTED_FILTERS = {
    "ResourceTypeFilters": ["bedrock:application-inference-profile"],
    "TagFilters": [
        {"Key": "applicationId", "Values": ["sales-assistant"]},
        {"Key": "costCenter", "Values": ["sales"]},
        {"Key": "environment", "Values": ["prod"]},
    ],
}


def mapping(profile_id: str, model: str | None) -> dict[str, Any]:
    tags = [
        {"Key": "applicationId", "Value": "sales-assistant"},
        {"Key": "costCenter", "Value": "sales"},
        {"Key": "environment", "Value": "prod"},
    ]
    if model is not None:
        tags.append({"Key": "model", "Value": model})
    return {"ResourceARN": PROFILE + profile_id, "Tags": tags}


class Metrics:
    def __init__(self) -> None:
        self.counts: list[tuple[str, str]] = []

    def __call__(self, name: str, tenant_id: str) -> None:
        self.counts.append((name, tenant_id))


class FakeTaggingClient:
    """GetResources through a paginator, with scripted answers, failures and an optional gate."""

    def __init__(self, pages: list[list[dict[str, Any]]]) -> None:
        self.pages = pages
        self.calls = 0
        self.fail_with: str | None = None
        self.gate: threading.Event | None = None
        self.started = threading.Event()
        self.lock = threading.Lock()
        self.params: list[dict[str, Any]] = []

    def get_paginator(self, operation: str) -> FakeTaggingClient:
        assert operation == "get_resources"
        return self

    def paginate(self, **params: Any) -> Iterator[dict[str, Any]]:
        with self.lock:
            self.calls += 1
            self.params.append(params)
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(timeout=10)
        if self.fail_with is not None:
            raise ClientError({"Error": {"Code": self.fail_with, "Message": "Rate exceeded"}}, "GetResources")
        for page in self.pages:
            yield {"ResourceTagMappingList": page}


def test_the_tenant_map_is_read_from_every_page_and_then_served_without_calls(tenant: Tenant) -> None:
    # Given the real client model (Stubber validates the request shape) and two pages of profiles
    client = boto3.session.Session(region_name="us-east-1").client("resourcegroupstaggingapi")
    stubber = Stubber(client)
    stubber.add_response(
        "get_resources",
        {"ResourceTagMappingList": [mapping("haiku1", "claude-3-haiku")], "PaginationToken": "next"},
        EXPECTED_FILTERS,
    )
    stubber.add_response(
        "get_resources",
        {"ResourceTagMappingList": [mapping("micro1", "nova-micro")], "PaginationToken": ""},
        {**EXPECTED_FILTERS, "PaginationToken": "next"},
    )
    resolver = TaggingApiResolver(client, metric_sink=Metrics())

    with stubber:
        # When the gateway resolves models many times
        first = resolver.profile_arn(tenant, "claude-3-haiku")
        answers = [resolver.profile_arn(tenant, "nova-micro") for _ in range(100)]
        # Then both pages were read once, and nothing more was asked (the Stubber has no answer left)
        stubber.assert_no_pending_responses()

    assert first == PROFILE + "haiku1"
    assert set(answers) == {PROFILE + "micro1"}
    assert dict(resolver.profiles_for(tenant)) == {
        "claude-3-haiku": PROFILE + "haiku1",
        "nova-micro": PROFILE + "micro1",
    }


def test_a_stale_map_is_refreshed_after_the_ttl(tenant: Tenant, clock: FakeClock) -> None:
    client = FakeTaggingClient([[mapping("old", "claude-3-haiku")]])
    resolver = TaggingApiResolver(
        client, ttl_seconds=300, clock=clock, refresh_in_background=False, metric_sink=Metrics()
    )
    assert resolver.profile_arn(tenant, "claude-3-haiku") == PROFILE + "old"

    client.pages = [[mapping("new", "claude-3-haiku")]]
    clock.advance(299)
    assert resolver.profile_arn(tenant, "claude-3-haiku") == PROFILE + "old"
    assert client.calls == 1

    clock.advance(1)
    assert resolver.profile_arn(tenant, "claude-3-haiku") == PROFILE + "new"
    assert client.calls == 2
    assert client.params[0] == EXPECTED_FILTERS


def test_a_background_refresh_never_makes_a_request_wait_and_runs_once(
    tenant: Tenant, clock: FakeClock
) -> None:
    # Given a warm resolver whose map has gone stale, and a tagging API that answers only when released
    client = FakeTaggingClient([[mapping("old", "claude-3-haiku")]])
    resolver = TaggingApiResolver(client, ttl_seconds=300, clock=clock, metric_sink=Metrics())
    resolver.profile_arn(tenant, "claude-3-haiku")
    clock.advance(301)
    client.pages = [[mapping("new", "claude-3-haiku")]]
    client.gate = threading.Event()
    client.started.clear()

    # When 20 requests arrive while the refresh is in flight
    answers = [resolver.profile_arn(tenant, "claude-3-haiku") for _ in range(20)]

    # Then every one got the current answer at once, and a single refresh is running
    assert set(answers) == {PROFILE + "old"}
    assert client.started.wait(timeout=10)
    assert client.calls == 2

    # And once the refresh lands, requests see the new map
    client.gate.set()
    deadline = time.monotonic() + 10
    while resolver.profile_arn(tenant, "claude-3-haiku") != PROFILE + "new":
        assert time.monotonic() < deadline, "the background refresh never published"
        time.sleep(0.01)
    assert client.calls == 2


def test_throttling_keeps_serving_the_last_good_map_with_a_metric_and_backs_off(
    tenant: Tenant, clock: FakeClock
) -> None:
    client = FakeTaggingClient([[mapping("good", "claude-3-haiku")]])
    metrics = Metrics()
    resolver = TaggingApiResolver(
        client,
        ttl_seconds=300,
        retry_after_failure_seconds=30,
        clock=clock,
        refresh_in_background=False,
        metric_sink=metrics,
    )
    resolver.profile_arn(tenant, "claude-3-haiku")

    # When the map is stale and the API throttles
    client.fail_with = "ThrottlingException"
    clock.advance(300)
    assert resolver.profile_arn(tenant, "claude-3-haiku") == PROFILE + "good"
    assert client.calls == 2
    assert metrics.counts == [("ProfileResolverRefreshFailed", "sales")]

    # Then the API is left alone until the back-off has passed
    clock.advance(29)
    assert resolver.profile_arn(tenant, "claude-3-haiku") == PROFILE + "good"
    assert client.calls == 2
    clock.advance(1)
    assert resolver.profile_arn(tenant, "claude-3-haiku") == PROFILE + "good"
    assert client.calls == 3

    # And a recovered API is used again
    client.fail_with = None
    client.pages = [[mapping("fresh", "claude-3-haiku")]]
    clock.advance(30)
    assert resolver.profile_arn(tenant, "claude-3-haiku") == PROFILE + "fresh"


def test_concurrent_cold_requests_make_one_call(tenant: Tenant) -> None:
    client = FakeTaggingClient([[mapping("haiku", "claude-3-haiku")]])
    client.gate = threading.Event()
    resolver = TaggingApiResolver(client, metric_sink=Metrics())
    answers: list[str] = []

    def request() -> None:
        answers.append(resolver.profile_arn(tenant, "claude-3-haiku"))

    threads = [threading.Thread(target=request) for _ in range(12)]
    for thread in threads:
        thread.start()
    assert client.started.wait(timeout=10)
    time.sleep(0.1)  # let the other threads reach the wait
    client.gate.set()
    for thread in threads:
        thread.join(timeout=10)

    assert answers == [PROFILE + "haiku"] * 12
    assert client.calls == 1


def test_a_cold_failure_is_a_clear_error_and_is_not_retried_on_every_request(
    tenant: Tenant, clock: FakeClock
) -> None:
    client = FakeTaggingClient([[mapping("haiku", "claude-3-haiku")]])
    client.fail_with = "ThrottlingException"
    resolver = TaggingApiResolver(client, retry_after_failure_seconds=30, clock=clock, metric_sink=Metrics())

    with pytest.raises(ProfilesUnavailableError) as failed:
        resolver.profile_arn(tenant, "claude-3-haiku")
    assert isinstance(failed.value, ServiceUnavailable)
    assert "ThrottlingException" in failed.value.message

    with pytest.raises(ProfilesUnavailableError):
        resolver.profile_arn(tenant, "claude-3-haiku")
    assert client.calls == 1

    client.fail_with = None
    clock.advance(30)
    assert resolver.profile_arn(tenant, "claude-3-haiku") == PROFILE + "haiku"
    assert client.calls == 2


def test_an_unknown_model_is_refused_and_looked_up_again_at_most_every_miss_interval(
    tenant: Tenant, clock: FakeClock
) -> None:
    client = FakeTaggingClient([[mapping("haiku", "claude-3-haiku")]])
    resolver = TaggingApiResolver(
        client, miss_refresh_seconds=30, clock=clock, refresh_in_background=False, metric_sink=Metrics()
    )
    resolver.profile_arn(tenant, "claude-3-haiku")

    with pytest.raises(NoProfileForModelError) as refused:
        resolver.profile_arn(tenant, "nova-lite")
    assert isinstance(refused.value, ServiceUnavailable)
    assert refused.value.code == "profile_not_found"
    assert "model='nova-lite'" in refused.value.message
    assert client.calls == 1

    # A profile created later is found by the next miss once the interval has passed
    client.pages = [[mapping("haiku", "claude-3-haiku"), mapping("lite", "nova-lite")]]
    clock.advance(30)
    assert resolver.profile_arn(tenant, "nova-lite") == PROFILE + "lite"
    assert client.calls == 2


def test_profiles_without_a_model_tag_are_skipped_and_duplicates_resolve_deterministically(
    tenant: Tenant,
) -> None:
    client = FakeTaggingClient(
        [[mapping("untagged", None), mapping("zzz", "claude-3-haiku")], [mapping("aaa", "claude-3-haiku")]]
    )
    resolver = TaggingApiResolver(client, metric_sink=Metrics())

    assert dict(resolver.profiles_for(tenant)) == {"claude-3-haiku": PROFILE + "aaa"}


def test_tenants_are_cached_separately_and_a_tag_change_starts_cold(tenant: Tenant) -> None:
    client = FakeTaggingClient([[mapping("haiku", "claude-3-haiku")]])
    resolver = TaggingApiResolver(client, metric_sink=Metrics())
    resolver.profile_arn(tenant, "claude-3-haiku")
    resolver.profile_arn(replace(tenant, tenant_id="support", application_id="support-bot"), "claude-3-haiku")
    resolver.profile_arn(replace(tenant, environment="staging"), "claude-3-haiku")

    assert client.calls == 3
    assert [params["TagFilters"][0]["Values"] for params in client.params] == [
        ["sales-assistant"],
        ["support-bot"],
        ["sales-assistant"],
    ]
    assert client.params[2]["TagFilters"][2] == {"Key": "environment", "Values": ["staging"]}
