"""``make bench`` (gateway part): what one request costs the gateway, in AWS round trips, CPU and cold start.

(a) AWS round trips on the hot path: every botocore client the gateway creates gets a ``before-send``
    hook that counts (service, operation); N warm requests run against the local stack's emulators.
    Targets: 4 DynamoDB writes (reserve: shard + hold; settle: shard + the hold turned into its call record),
    0 CloudWatch calls, 0 config lookups once warm. Their cost in WCU is in bench_ledger.
(b) The gateway's own CPU per request: the same requests with every AWS call answered in-process
    (``before-send`` returns the responses recorded in (a), so botocore still serializes and parses
    but no socket or emulator runs), measured with ``time.process_time`` over many requests, and
    compared with one bare boto3 Converse call answered the same way.
(c) Cold start: importing the handler module and building its clients, against importing boto3 and
    creating the same clients bare, each in fresh subprocesses, repeated; medians and their ratio. The
    handler runs from the Lambda zip (scripts/devtools/build_lambda) unpacked, with bytecode writing off
    as on Lambda's read-only /var/task: once as source only, once with the zip's bytecode compiled for
    this interpreter (the shipped zip carries the runtime's, 3.13; bytecode is per minor version).

Figures are printed, never asserted: timing depends on the machine.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from scripts.testbed.local_stack import LocalStack, proxy_event

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WRITE_OPERATIONS = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


@dataclass
class _Recorded:
    status: int
    headers: dict[str, str]
    body: bytes


class _RawBody:
    """The ``raw`` of a botocore AWSResponse: something with ``stream()``."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


@dataclass
class AwsCallMeter:
    """Hooks every botocore client created while installed: counts calls, records and replays responses.

    Only calls made on a thread inside :meth:`measuring` count, so the stack's own bootstrap and the
    test harness never pollute the figures.
    """

    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    recordings: dict[tuple[str, str], _Recorded] = field(default_factory=dict)
    # The API parameters of the last call of each operation, to replay the same calls without the gateway.
    parameters: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    replaying: bool = False
    config_table: str = ""
    _local: threading.local = field(default_factory=threading.local)

    @contextmanager
    def installed(self) -> Iterator[None]:
        import botocore.session

        original = botocore.session.Session.create_client
        meter = self

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            client.meta.events.register("before-send", meter._before_send)
            client.meta.events.register("response-received", meter._response_received)
            client.meta.events.register("provide-client-params", meter._provide_client_params)
            return client

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
        try:
            yield
        finally:
            botocore.session.Session.create_client = original  # type: ignore[method-assign]

    @contextmanager
    def measuring(self) -> Iterator[None]:
        self._local.active = True
        try:
            yield
        finally:
            self._local.active = False

    def _key(self, event_name: str) -> tuple[str, str]:
        _, service, operation = event_name.split(".", 2)
        return service, operation

    def _before_send(self, request: Any, event_name: str, **_: Any) -> Any:
        if not getattr(self._local, "active", False):
            return None
        service, operation = self._key(event_name)
        target = ""
        if service == "dynamodb" and request.body:
            table = json.loads(request.body).get("TableName", "")
            target = "config" if table == self.config_table else "ledger"
        self.counts[(service, operation, target)] += 1
        if not self.replaying:
            return None
        from botocore.awsrequest import AWSResponse

        recorded = self.recordings.get((service, operation))
        if recorded is None:
            raise RuntimeError(f"no recorded response for {service}.{operation}: the replay cannot answer it")
        return AWSResponse(request.url, recorded.status, recorded.headers, _RawBody(recorded.body))

    def _provide_client_params(self, params: dict[str, Any], event_name: str, **_: Any) -> None:
        if not self.replaying and getattr(self._local, "active", False):
            self.parameters[self._key(event_name)] = copy.deepcopy(params)

    def _response_received(self, event_name: str, response_dict: Any, **_: Any) -> None:
        if self.replaying or not getattr(self._local, "active", False) or response_dict is None:
            return
        body = response_dict.get("body")
        if isinstance(body, bytes) and response_dict["status_code"] < 300:
            headers = {str(k): str(v) for k, v in response_dict["headers"].items()}
            self.recordings[self._key(event_name)] = _Recorded(response_dict["status_code"], headers, body)


def converse_event(api_key: str, api_key_id: str, body: dict[str, Any]) -> dict[str, Any]:
    headers = {"x-api-key": api_key, "content-type": "application/json"}
    return proxy_event("POST", "/v1/converse", headers, json.dumps(body).encode(), api_key_id, "127.0.0.1")


def run_requests(stack: LocalStack, events: list[dict[str, Any]]) -> list[int]:
    statuses = []
    for event in events:
        # A fresh request id per call, as API Gateway gives: the ledger keys its holds by it.
        event = {**event, "requestContext": {**event["requestContext"], "requestId": str(uuid.uuid4())}}
        statuses.append(stack.invoke(event).get("statusCode", 0))
    return statuses


def count_round_trips(
    stack: LocalStack, meter: AwsCallMeter, event: dict[str, Any], warm_requests: int
) -> tuple[Counter[tuple[str, str, str]], Counter[tuple[str, str, str]]]:
    """AWS calls of the first request and of ``warm_requests`` more, per (service, operation, table)."""
    meter.counts.clear()
    with meter.measuring():
        cold_statuses = run_requests(stack, [event])
    cold_counts = Counter(meter.counts)
    meter.counts.clear()
    with meter.measuring():
        statuses = run_requests(stack, [event] * warm_requests)
    if set(cold_statuses + statuses) != {200}:
        raise RuntimeError(f"requests did not all succeed: {Counter(cold_statuses + statuses)}")
    return cold_counts, Counter(meter.counts)


def hot_path_figures(counts: Counter[tuple[str, str, str]]) -> tuple[int, int, int]:
    """(DynamoDB writes, CloudWatch calls, config table reads) in ``counts``."""
    writes = sum(n for (s, op, _), n in counts.items() if s == "dynamodb" and op in WRITE_OPERATIONS)
    cloudwatch = sum(n for (s, _, _), n in counts.items() if s in {"cloudwatch", "logs"})
    config = sum(n for (s, _, t), n in counts.items() if s == "dynamodb" and t == "config")
    return writes, cloudwatch, config


def bench_round_trips_and_cpu(warm_requests: int, cpu_requests: int) -> None:
    meter = AwsCallMeter()
    with meter.installed(), LocalStack(gateway_environment={"CONFIG_REFRESH_SECONDS": "3600"}) as stack:
        meter.config_table = stack.config_table
        tenant = (
            stack.tenants["services"] if "services" in stack.tenants else next(iter(stack.tenants.values()))
        )
        body = tenant.request_body(
            "Summarise the project status for the steering committee. " * 8, max_tokens=200
        )
        event = converse_event(tenant.api_key, tenant.api_key_id, body)
        cold_counts, warm_counts = count_round_trips(stack, meter, event, warm_requests)
        print(f"(a) AWS round trips per request, {warm_requests} warm requests (first request shown apart)")
        print(f"    {'service':<16} {'operation':<20} {'table':<7} {'cold':>5} {'per warm request':>17}")
        for key in sorted(set(cold_counts) | set(warm_counts)):
            service, operation, table = key
            per_request = warm_counts[key] / warm_requests
            print(f"    {service:<16} {operation:<20} {table:<7} {cold_counts[key]:>5} {per_request:>17.2f}")
        writes, cloudwatch, config = hot_path_figures(warm_counts)
        print(
            f"    warm: {writes / warm_requests:.2f} DynamoDB writes (target 4), "
            f"{cloudwatch / warm_requests:.2f} CloudWatch calls (target 0), "
            f"{config / warm_requests:.2f} config lookups (target 0) per request"
        )

        meter.replaying = True
        hot_path = [key for key in HOT_PATH if key in meter.parameters]
        gateway_rounds, same_calls_rounds, converse_rounds = [], [], []
        with meter.measuring():
            run_requests(stack, [event] * 20)  # settle caches on the replay path
            # Interleaved rounds, medians: a busy moment on the machine hits all three alike.
            per_round = max(1, cpu_requests // CPU_ROUNDS)
            for _ in range(CPU_ROUNDS):
                started = time.process_time()
                run_requests(stack, [event] * per_round)
                gateway_rounds.append((time.process_time() - started) / per_round)
                same_calls_rounds.append(_bare_calls_cpu(meter, hot_path, per_round))
                converse_rounds.append(_bare_calls_cpu(meter, [("bedrock-runtime", "Converse")], per_round))
        gateway_cpu = statistics.median(gateway_rounds)
        same_calls_cpu = statistics.median(same_calls_rounds)
        converse_cpu = statistics.median(converse_rounds)
        names = " + ".join(operation for _, operation in hot_path)
        print(
            f"\n(b) CPU per request, every AWS call answered in-process, "
            f"median of {CPU_ROUNDS} rounds of {per_round} requests"
        )
        print(f"    gateway handler, whole request:        {gateway_cpu * 1000:7.3f} ms")
        print(f"    the same AWS calls, bare boto3:        {same_calls_cpu * 1000:7.3f} ms  ({names})")
        print(f"    one bare Converse call:                {converse_cpu * 1000:7.3f} ms")
        print(
            f"    gateway's own logic: {(gateway_cpu - same_calls_cpu) * 1000:.3f} ms; ratios: whole "
            f"request / its AWS calls {gateway_cpu / same_calls_cpu:.2f}x, whole request / bare "
            f"Converse {gateway_cpu / converse_cpu:.2f}x"
        )


CPU_ROUNDS = 5
# The calls a warm request makes, in order (the recorded parameters replayed bare): reserve (shard
# update, hold put), Converse, settle (shard update, the hold turned into its call record). Table (a)
# shows them. The meter keeps the last parameters of each operation: every UpdateItem replays the claim's
# (the largest of the three).
HOT_PATH = [
    ("dynamodb", "UpdateItem"),
    ("dynamodb", "PutItem"),
    ("bedrock-runtime", "Converse"),
    ("dynamodb", "UpdateItem"),
    ("dynamodb", "UpdateItem"),
]
_METHODS = {
    "UpdateItem": "update_item",
    "PutItem": "put_item",
    "Converse": "converse",
    "TransactWriteItems": "transact_write_items",
}


def _bare_calls_cpu(meter: AwsCallMeter, calls: list[tuple[str, str]], repeats: int) -> float:
    """CPU per round of ``calls`` made with plain boto3 clients (answered by the same replay)."""
    import boto3
    from botocore.config import Config

    # Configured as the gateway's own clients are: its ledger client skips botocore's parameter validation.
    configs = {"dynamodb": Config(parameter_validation=False)}
    clients = {
        service: boto3.session.Session().client(service, region_name="us-east-1", config=configs.get(service))
        for service, _ in calls
    }
    round_of_calls = [
        (getattr(clients[service], _METHODS[operation]), meter.parameters[(service, operation)])
        for service, operation in calls
    ]
    for method, params in round_of_calls:  # warm each client's caches
        method(**params)
    started = time.process_time()
    for _ in range(repeats):
        for method, params in round_of_calls:
            method(**params)
    return (time.process_time() - started) / repeats


# (c) ----------------------------------------------------------------------------------------------

# What a cold start does before the first request can be served: import the handler module, build the
# service from the environment (DynamoDB client, ledger, config store) and its Bedrock client (lazy in the
# service, so created here explicitly; the shared client ignores tenant and user).
COLD_GATEWAY = """
import time
import uuid
started = time.perf_counter()
import cost_sentry.handlers.gateway as gateway
service = gateway._default_service()
service.bedrock_clients.client_for(None, None)
print(time.perf_counter() - started)
"""
COLD_BARE = """
import time
import uuid
started = time.perf_counter()
import boto3
session = boto3.session.Session()
for service in {services!r}:
    session.client(service)
print(time.perf_counter() - started)
"""


def _timed_subprocess(code: str, env: dict[str, str]) -> float:
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    return float(result.stdout.strip().splitlines()[-1])


def bench_cold_start(repeats: int, services: list[str]) -> None:
    import tempfile
    import zipfile
    from pathlib import Path

    from scripts.devtools import build_lambda

    this_python = build_lambda.running_python()
    with tempfile.TemporaryDirectory(prefix="cost-sentry-cold-") as work:
        tasks = {}
        for name, python in (("source only", None), ("with bytecode", this_python)):
            archive = build_lambda.build(output=Path(work) / f"{len(tasks)}.zip", python=python)
            task = Path(work) / f"task{len(tasks)}"
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(task)
            tasks[name] = task
        _bench_cold_start(repeats, services, tasks)


def _bench_cold_start(repeats: int, services: list[str], tasks: dict[str, Any]) -> None:
    env = {
        **os.environ,
        "PYTHONDONTWRITEBYTECODE": "1",  # /var/task is read-only: Lambda cannot cache what it compiles
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # never contacted: building clients is offline
        "LEDGER_TABLE": "bench-ledger",
        "CONFIG_TABLE": "bench-config",
    }
    bare_code = COLD_BARE.format(services=services)
    gateway_times: dict[str, list[float]] = {name: [] for name in tasks}
    bare_times = []
    for _ in range(repeats):  # interleaved, so a noisy moment hits every side
        for name, task in tasks.items():
            gateway_times[name].append(_timed_subprocess(COLD_GATEWAY, {**env, "PYTHONPATH": str(task)}))
        bare_times.append(_timed_subprocess(bare_code, env))
    bare_median = statistics.median(bare_times)
    print(
        f"\n(c) cold start from the Lambda zip, no bytecode writes, median of {repeats} fresh interpreters each"
    )
    print(f"    import boto3 + create {', '.join(services)} bare: {bare_median * 1000:.0f} ms")
    for name, times in gateway_times.items():
        median = statistics.median(times)
        print(
            f"    import handler + build its clients, {name + ':':<14} {median * 1000:.0f} ms, "
            f"ratio {median / bare_median:.2f}x (target 1.25x)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--warm-requests", type=int, default=200)
    parser.add_argument("--cpu-requests", type=int, default=1000)
    parser.add_argument("--cold-repeats", type=int, default=7)
    args = parser.parse_args(argv)
    bench_round_trips_and_cpu(args.warm_requests, args.cpu_requests)
    bench_cold_start(args.cold_repeats, ["dynamodb", "bedrock-runtime"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
