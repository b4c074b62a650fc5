"""Figures for the attribution hot path; prints, asserts nothing.

Run: make bench, or .venv/bin/python -m scripts.devtools.bench_attribution

- warm `PerUserSessionClients.client_for` and `TaggingApiResolver.profile_arn`: the per-request cost;
- a new user: STS (a local fake, so this is the gateway's own share) + building its bedrock-runtime
  client with the default factory, and the memory one cached session holds (which sizes the LRU bound).
"""

from __future__ import annotations

import os
import sys
import threading
import time
import tracemalloc
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lambda_src"))

from cost_sentry.adapters.sessions import PerUserSessionClients, default_bedrock_client_factory
from cost_sentry.adapters.tagging_resolver import TaggingApiResolver

PROFILE_ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/"


@dataclass(frozen=True)
class Tenant:
    """The TenantConfig fields the attribution code reads."""

    tenant_id: str = "sales"
    application_id: str = "sales-assistant"
    cost_center: str = "sales"
    environment: str = "prod"
    invoker_role_arn: str | None = "arn:aws:iam::123456789012:role/cost-sentry-sales-invoker"


class LocalSts:
    def assume_role(self, **params: Any) -> dict[str, Any]:
        expiration = datetime.fromtimestamp(time.time() + params["DurationSeconds"], tz=UTC)
        return {
            "Credentials": {
                "AccessKeyId": "ASIAEXAMPLE",
                "SecretAccessKey": "secret",
                "SessionToken": "token",
                "Expiration": expiration,
            }
        }


class LocalTagging:
    def get_paginator(self, operation: str) -> LocalTagging:
        return self

    def paginate(self, **params: Any) -> list[dict[str, Any]]:
        resources = [
            {"ResourceARN": PROFILE_ARN + name, "Tags": [{"Key": "model", "Value": name}]}
            for name in ("claude-3-haiku", "nova-micro", "nova-lite")
        ]
        return [{"ResourceTagMappingList": resources}]


def per_call_us(function: Any, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - started) / calls * 1e6


def threaded_per_call_us(function: Any, threads: int, calls_each: int) -> float:
    barrier = threading.Barrier(threads + 1)

    def work() -> None:
        barrier.wait()
        for _ in range(calls_each):
            function()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    return (time.perf_counter() - started) / (threads * calls_each) * 1e6


def main() -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    tenant = Tenant()

    sessions = PerUserSessionClients(LocalSts(), client_factory=lambda credentials: object())
    sessions.client_for(tenant, "alice")
    warm = per_call_us(lambda: sessions.client_for(tenant, "alice"), 200_000)
    print(f"client_for, warm, 1 thread:   {warm:6.2f} us")
    warm = threaded_per_call_us(lambda: sessions.client_for(tenant, "alice"), 8, 25_000)
    print(f"client_for, warm, 8 threads:  {warm:6.2f} us per call (wall / calls)")

    resolver = TaggingApiResolver(LocalTagging(), metric_sink=lambda name, tenant_id: None)
    resolver.profile_arn(tenant, "nova-micro")
    arn = per_call_us(lambda: resolver.profile_arn(tenant, "nova-micro"), 200_000)
    print(f"profile_arn, warm, 1 thread:  {arn:6.2f} us")

    factory = default_bedrock_client_factory()
    real = PerUserSessionClients(
        LocalSts(), client_factory=factory, max_sessions_per_tenant=10_000, new_sessions_per_minute=10_000
    )
    real.client_for(tenant, "warmup")  # loads botocore's service model once, as a cold start does
    users = 200
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    for index in range(users):
        real.client_for(tenant, f"user{index:04d}")
    elapsed = time.perf_counter() - started
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    print(f"new user (STS fake + bedrock-runtime client): {elapsed / users * 1000:6.2f} ms each")
    print(f"memory per cached session:    {held / users / 1024:6.1f} KiB ({users} users)")


if __name__ == "__main__":
    main()
