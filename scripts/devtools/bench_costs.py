"""``make bench`` (cost part): what the gateway itself costs to run, measured then priced.

Measured here, per warm request of the local stack (moto + the Bedrock stand-in), nothing assumed:
- DynamoDB write units: the real Ledger's reserve and settle, each write sized by DynamoDB's rules
  (scripts/devtools/bench_ledger.measure_request), so the figure follows any change to the items;
- DynamoDB reads and round trips: every botocore call the gateway makes, counted on the wire;
- log bytes: the function's JSON log lines and EMF documents, as CloudWatch Logs would ingest them;
- CPU: the service core's process time per request with every AWS call answered in-process (as
  bench_gateway (b) does), and the authorizer's per key check;
- bytes between the caller and the gateway, and between the gateway and Bedrock, per call;
- the peak RSS of a fresh interpreter that imported the handler from the Lambda zip and built its clients.
Priced by scripts/devtools/cost_model.py with scripts/devtools/aws_prices.json; a typical model call is
priced by the catalog (lambda_src/cost_sentry/data/models.json) with the gateway's own pricing code.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from scripts.devtools import build_lambda
from scripts.devtools.bench_gateway import WRITE_OPERATIONS, AwsCallMeter, converse_event, run_requests
from scripts.devtools.cost_model import (
    LOG_EVENT_OVERHEAD_BYTES,
    SECONDS_PER_MONTH,
    SHORT_CALL,
    STREAM_CALL,
    Call,
    FargateDeployment,
    LambdaDeployment,
    Measured,
    Prices,
    break_even_rate,
    choose_memory,
    per_million,
)
from scripts.testbed.local_stack import LocalStack

RATES = (10, 100, 1_000)
CHEAPEST_MODEL = "nova-micro"
MID_RANGE_MODEL = "claude-haiku-4-5"
READ_OPERATIONS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}


def measure_stack(requests: int) -> tuple[dict[str, object], Decimal, Decimal]:
    """(per-request figures, gateway CPU ms, authorizer CPU ms) from the local stack."""
    meter = AwsCallMeter()
    with meter.installed(), LocalStack(gateway_environment={"CONFIG_REFRESH_SECONDS": "3600"}) as stack:
        meter.config_table = stack.config_table
        tenant = (
            stack.tenants["services"] if "services" in stack.tenants else next(iter(stack.tenants.values()))
        )
        body = tenant.request_body(
            "Summarise the project status for the steering committee. " * 8, max_tokens=300
        )
        event = converse_event(tenant.api_key, tenant.api_key_id, body)
        with meter.measuring():
            run_requests(stack, [event] * 3)  # the config scan, the period's first writes
        meter.counts.clear()
        before = len(stack.lambda_log_lines())
        answers = []
        with meter.measuring():
            for _ in range(requests):
                fresh = {
                    **event,
                    "requestContext": {**event["requestContext"], "requestId": str(uuid.uuid4())},
                }
                answers.append(stack.invoke(fresh))
        if {answer.get("statusCode") for answer in answers} != {200}:
            raise RuntimeError("the measured requests did not all succeed")
        lines = stack.lambda_log_lines()[before:]
        dynamodb = {op: n for (service, op, _), n in meter.counts.items() if service == "dynamodb"}
        answer = json.loads(answers[-1]["body"])
        converse_request = json.dumps(meter.parameters[("bedrock-runtime", "Converse")], default=str)
        converse_answer = meter.recordings[("bedrock-runtime", "Converse")].body
        figures: dict[str, object] = {
            "reads": sum(n for op, n in dynamodb.items() if op in READ_OPERATIONS) / requests,
            "round_trips": sum(dynamodb.values()) // requests,
            "writes": sum(n for op, n in dynamodb.items() if op in WRITE_OPERATIONS) / requests,
            "log_bytes": sum(len(line.encode()) + LOG_EVENT_OVERHEAD_BYTES for line in lines) // requests,
            "log_lines": len(lines) / requests,
            "client_bytes": (len(event["body"].encode()), len(answers[-1]["body"].encode())),
            "bedrock_bytes": (len(converse_request.encode()), len(converse_answer)),
            "output_tokens": int(answer["usage"]["outputTokens"]),
        }
        authorizer_ms = _authorizer_cpu_ms(tenant.api_key, requests)
        meter.replaying = True
        with meter.measuring():
            run_requests(stack, [event] * 20)  # settle caches on the replay path
            started = time.process_time()
            run_requests(stack, [event] * requests)
            cpu_ms = Decimal(str(round((time.process_time() - started) * 1000 / requests, 3)))
    return figures, cpu_ms, authorizer_ms


def _authorizer_cpu_ms(api_key: str, checks: int) -> Decimal:
    from cost_sentry.handlers import authorizer

    checker = authorizer.default_checker()
    event = {
        "headers": {"x-api-key": api_key},
        "methodArn": "arn:aws:execute-api:us-east-1:1:api/prod/POST/v1",
    }
    authorizer.authorize(event, checker)  # loads the keys
    started = time.process_time()
    for _ in range(checks):
        authorizer.authorize(event, checker)
    return Decimal(str(round((time.process_time() - started) * 1000 / checks, 3)))


# VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over from the (large) benchmark process
# that forked this one; the high-water mark of the new address space starts at exec.
PEAK_RSS = """
import cost_sentry.handlers.gateway as gateway
service = gateway._default_service()
service.bedrock_clients.client_for(None, None)
status = open("/proc/self/status").read()
print(int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) // 1024)
"""


def peak_rss_mb() -> int:
    """Peak RSS (MB) of a fresh interpreter after importing the handler from the zip and building its clients."""
    with tempfile.TemporaryDirectory(prefix="cost-sentry-rss-") as work:
        archive = build_lambda.build(output=Path(work) / "pkg.zip", python=build_lambda.running_python())
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(Path(work) / "task")
        env = {
            **os.environ,
            "PYTHONPATH": str(Path(work) / "task"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
            "LEDGER_TABLE": "bench-ledger",
            "CONFIG_TABLE": "bench-config",
        }
        result = subprocess.run(
            [sys.executable, "-c", PEAK_RSS], env=env, capture_output=True, text=True, check=True, cwd=work
        )
    return int(result.stdout.strip().splitlines()[-1])


def model_call_usd(model: str, call: Call) -> Decimal:
    from cost_sentry.core.catalog import default_catalog
    from cost_sentry.core.pricing import GLOBAL, Usage, usage_cost_nanos

    prices = default_catalog().get(model).prices
    nanos = usage_cost_nanos(prices, Usage(call.input_tokens, call.output_tokens), GLOBAL)
    return Decimal(nanos) / 10**9


def shown(value: Decimal | Fraction) -> Decimal:
    """A figure as a Decimal for display (28 significant digits): the model's own figures stay exact."""
    return Decimal(value.numerator) / Decimal(value.denominator) if isinstance(value, Fraction) else value


def usd(value: Decimal | Fraction) -> str:
    return f"{shown(value).quantize(Decimal('0.01')):,}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args(argv)

    from scripts.devtools.bench_ledger import measure_request

    prices = Prices.load()
    write_units = measure_request(1).total_wcu
    figures, cpu_ms, authorizer_ms = measure_stack(args.requests)
    rss = peak_rss_mb()
    measured = Measured(
        write_units=write_units,
        read_units=Decimal(str(figures["reads"])),
        dynamodb_round_trips=int(figures["round_trips"]),  # type: ignore[call-overload]
        log_bytes=int(figures["log_bytes"]),  # type: ignore[call-overload]
        cpu_ms=cpu_ms,
        authorizer_cpu_ms=authorizer_ms,
        client_bytes=figures["client_bytes"],  # type: ignore[arg-type]
        bedrock_bytes=figures["bedrock_bytes"],  # type: ignore[arg-type]
        output_tokens=int(figures["output_tokens"]),  # type: ignore[call-overload]
    )
    print(
        f"(a) measured per warm request ({args.requests} requests on the local stack; "
        f"prices: {prices.region}, aws_prices.json)"
    )
    print(
        f"    DynamoDB: {measured.write_units} WCU (ledger, DynamoDB sizing rules), {measured.read_units} RCU, "
        f"{measured.dynamodb_round_trips} round trips; logs: {figures['log_lines']:.0f} lines, "
        f"{measured.log_bytes} bytes (JSON log + EMF)"
    )
    print(
        f"    CPU: {measured.cpu_ms} ms service core, {measured.authorizer_cpu_ms} ms authorizer; "
        f"bytes (request, answer): {measured.client_bytes} caller<->gateway, "
        f"{measured.bedrock_bytes} gateway<->Bedrock "
        f"({measured.output_tokens} output tokens); peak RSS after a cold start {rss} MB"
    )

    chosen, rows = choose_memory(prices, measured, SHORT_CALL, peak_rss_mb=rss)
    print(
        f"\n(b) gateway function memory for a {SHORT_CALL.name}: USD per million requests (every per-request "
        f"part), and what the request's CPU (at the memory's vCPU share) and ledger writes add to the call"
    )
    for row in rows:
        mark = "chosen" if row.memory_mb == chosen else ("fits" if row.fits else row.why_not)
        print(
            f"    {row.memory_mb:>5} MB  {usd(row.usd_per_million):>8}  +{row.added_ms} ms per call  {mark}"
        )

    lambda_public = LambdaDeployment(memory_mb=chosen)
    fargate = FargateDeployment()
    calls = (SHORT_CALL, STREAM_CALL)
    print(
        f"\n(c) USD per million requests and per month (Lambda {chosen} MB with WAF, no VPC; Fargate "
        f"{fargate.task_vcpu} vCPU / {fargate.task_memory_gb} GB arm64 tasks, <= {fargate.in_flight_per_task} "
        f"calls in flight each, CPU target {fargate.target_cpu_utilization:.0%}, >= {fargate.min_tasks} tasks, "
        f"ALB, WAF, {fargate.nat_gateways} NAT gateways)"
    )
    header = f"{'deployment':<9} {'call':<12} {'req/s':>6} {'per million':>12} {'per month':>12}"
    print(f"    {header}  largest parts per month")
    for call in calls:
        for deployment in (lambda_public, fargate):
            for rate in RATES:
                monthly = deployment.per_month(prices, measured, call, rate)
                top = sorted(monthly.items(), key=lambda item: -item[1])[:3]
                extra = ""
                if isinstance(deployment, FargateDeployment):
                    extra = f" ({deployment.tasks(measured, call, rate)} tasks)"
                print(
                    f"    {deployment.name:<9} {call.name:<12} {rate:>6} {usd(per_million(monthly, rate)):>12} "
                    f"{usd(sum(monthly.values(), Fraction(0))):>12}  "
                    + ", ".join(f"{name} {usd(value)}" for name, value in top)
                    + extra
                )

    for call in calls:
        rate = break_even_rate(prices, measured, call, lambda_public, fargate)
        where = (
            "never up to 10,000 req/s"
            if rate is None
            else f"from {rate} req/s ({rate * SECONDS_PER_MONTH:,} requests a month)"
        )
        print(f"    break-even, {call.name}: Fargate costs no more than Lambda {where}")
    # The private-access module's interface endpoints: bedrock-runtime, sts, logs, execute-api.
    private = LambdaDeployment(memory_mb=chosen, interface_endpoints=4)
    monthly = private.fixed_per_month(prices)
    print(
        f"    Lambda with private access adds {usd(monthly['VPC endpoint hours'])} a month (4 interface endpoints "
        f"x 2 AZs) and the endpoints' bytes"
    )

    print("\n(d) the gateway next to the call it meters (tokens: input / output)")
    for call in calls:
        for deployment, rate in ((lambda_public, 100), (fargate, 100), (fargate, 1_000)):
            gateway = shown(per_million(deployment.per_month(prices, measured, call, rate), rate) / 1_000_000)
            ratios = []
            for model in (CHEAPEST_MODEL, MID_RANGE_MODEL):
                model_usd = model_call_usd(model, call)
                ratios.append(f"{model} USD {model_usd:.6f} -> {gateway / model_usd:.1%}")
            print(
                f"    {call.name} ({call.input_tokens} / {call.output_tokens}), {deployment.name} at {rate} req/s: "
                f"gateway USD {gateway:.6f} per call; " + "; ".join(ratios)
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
