"""What the gateway itself costs to run, per request and per month: a pure model in exact arithmetic.

The inputs are what ``make bench`` measures (scripts/devtools/bench_costs.py: write and read units per
request from the real ledger's writes, log and metric bytes from the function's real output, CPU per
request with AWS answered in-process) and the AWS prices of scripts/devtools/aws_prices.json (each with
its unit, source and date). Nothing here is measured or priced twice; nothing is a float: prices
are read as Decimal and every figure is an exact Fraction of dollars (a month's requests, 73 x 36,000 x
rate, and the LCU's 3,000 connections divide no power of ten), rounded only where it is printed.

Two deployments of the same service core:

- ``LambdaDeployment``: API Gateway REST API, WAF, a request authorizer function and the gateway
  function, which waits for Bedrock for the whole call, so its GB-seconds grow with the call's length.
  Lambda gives a function CPU in proportion to its memory (one vCPU at 1,769 MB), so the request's own
  CPU takes longer on a small function; the wait does not shrink with memory.
- ``FargateDeployment``: ECS Fargate arm64 tasks behind an Application Load Balancer. Tasks are sized by
  the larger of CPU (rate x CPU per request, at a target utilisation) and calls in flight (rate x call
  length, at a per-task cap), never fewer than ``min_tasks``; the ALB by LCUs; egress through NAT.

Both pay the same DynamoDB and log bytes per request.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

PRICES_PATH = Path(__file__).with_name("aws_prices.json")
HOURS_PER_MONTH = 730  # AWS prices a month as 730 hours
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
BYTES_PER_GB = 2**30
# Lambda: "at 1,769 MB, a function has the equivalent of one vCPU" (Lambda developer guide, memory).
LAMBDA_MB_PER_VCPU = 1769
# One DynamoDB write's round trip inside a Region: single-digit milliseconds (DynamoDB's documented
# latency); the function waits for each of the request's writes in turn.
DYNAMODB_ROUND_TRIP_MS = 5
# CloudWatch Logs counts each event's UTF-8 bytes plus 26 bytes (PutLogEvents' size rule).
LOG_EVENT_OVERHEAD_BYTES = 26


class PricesError(ValueError):
    """aws_prices.json lacks a price or has one the model cannot read."""


@dataclass(frozen=True)
class Price:
    usd: Decimal
    per: int
    unit: str
    source: str
    as_of: str

    @property
    def each(self) -> Fraction:
        """USD for one unit (one request, one GB-second, one hour ...)."""
        return Fraction(self.usd) / self.per


@dataclass(frozen=True)
class AlbLcu:
    new_connections_per_second: int
    active_connections_per_minute: int
    processed_gb_per_hour: int


@dataclass(frozen=True)
class Prices:
    region: str
    by_name: Mapping[str, Price]
    lcu: AlbLcu

    def __getitem__(self, name: str) -> Fraction:
        return self.by_name[name].each

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Prices:
        by_name = {}
        for name, entry in document.get("prices", {}).items():
            try:
                price = Price(
                    Decimal(str(entry["usd"])),
                    int(entry["per"]),
                    str(entry["unit"]),
                    str(entry["source"]),
                    str(entry["asOf"]),
                )
            except (KeyError, TypeError, ArithmeticError, ValueError) as error:
                raise PricesError(f"price {name}: needs usd, per, unit, source and asOf ({error})") from error
            if price.usd < 0 or price.per <= 0:
                raise PricesError(f"price {name}: usd must be >= 0 and per > 0")
            by_name[name] = price
        missing = sorted(REQUIRED_PRICES - set(by_name))
        if missing:
            raise PricesError(f"aws_prices.json lacks {', '.join(missing)}")
        lcu = document["albLcu"]
        return cls(
            str(document["region"]),
            by_name,
            AlbLcu(
                int(lcu["newConnectionsPerSecond"]),
                int(lcu["activeConnectionsPerMinute"]),
                int(lcu["processedGbPerHour"]),
            ),
        )

    @classmethod
    def load(cls, path: Path = PRICES_PATH) -> Prices:
        return cls.from_document(json.loads(path.read_text(encoding="utf-8")))


REQUIRED_PRICES = frozenset(
    {
        "apiGatewayRestRequest",
        "wafRequest",
        "wafWebAclMonth",
        "wafRuleMonth",
        "lambdaRequest",
        "lambdaArmGbSecond",
        "dynamodbWriteUnit",
        "dynamodbReadUnit",
        "logsIngestedGb",
        "fargateArmVcpuHour",
        "fargateArmGbHour",
        "albHour",
        "albLcuHour",
        "natGatewayHour",
        "natGatewayGb",
        "interfaceEndpointAzHour",
        "interfaceEndpointGb",
    }
)


@dataclass(frozen=True)
class Measured:
    """Per warm request, as make bench measures it (scripts/devtools/bench_costs.py)."""

    write_units: int  # ledger WCU: reserve + settle
    read_units: Decimal  # RCU on the hot path (0 once the config is cached)
    dynamodb_round_trips: int  # the request's DynamoDB calls, each awaited in turn
    log_bytes: int  # the function's log lines and EMF documents, with CloudWatch's per-event overhead
    cpu_ms: Decimal  # the service core's CPU for one request (AWS answered in-process)
    authorizer_cpu_ms: Decimal  # the authorizer's CPU for one key check
    client_bytes: tuple[int, int]  # (request, response) bodies between the caller and the gateway
    bedrock_bytes: tuple[int, int]  # (request, response) bodies between the gateway and Bedrock
    output_tokens: int  # the output tokens of that measured call (the answers' bytes scale with them)


@dataclass(frozen=True)
class Call:
    """A typical call: how long the gateway waits for it and the tokens it carries."""

    name: str
    seconds: int
    input_tokens: int
    output_tokens: int


SHORT_CALL = Call("5-s call", 5, input_tokens=1_000, output_tokens=300)
STREAM_CALL = Call("20-s stream", 20, input_tokens=1_000, output_tokens=2_000)


def _bytes_for(measured_bytes: tuple[int, int], measured: Measured, call: Call) -> Fraction:
    """A call's bytes: the measured request, and the measured answer scaled by the call's output tokens
    (an answer is mostly its text)."""
    request, response = measured_bytes
    return request + Fraction(response * max(call.output_tokens, 1), max(measured.output_tokens, 1))


def lambda_billed_ms(memory_mb: int, wait_ms: int, cpu_ms: Decimal) -> int:
    """Billed duration: the wait plus the CPU, slowed below one vCPU by the memory's CPU share, rounded
    up to Lambda's whole millisecond."""
    slowdown = max(Fraction(1), Fraction(LAMBDA_MB_PER_VCPU, memory_mb))
    return math.ceil(wait_ms + Fraction(cpu_ms) * slowdown)


def gb_seconds(memory_mb: int, billed_ms: int) -> Fraction:
    return Fraction(memory_mb, 1024) * Fraction(billed_ms, 1000)


@dataclass(frozen=True)
class LambdaDeployment:
    memory_mb: int = 256
    authorizer_memory_mb: int = 128  # modules/gateway/authorizer.tf
    waf: bool = True  # waf_rate_rule on by default: one web ACL, one rule
    # Private access (modules/private-access): interface endpoints in each Availability Zone.
    interface_endpoints: int = 0
    availability_zones: int = 2
    # Lambda's own START/END/REPORT lines per invocation (JSON log format), both functions; an
    # estimate (about 300 bytes each), not measured here: the local stack has no Lambda platform.
    platform_log_bytes: int = 2 * 300
    # API Gateway's access log line (modules/gateway/api.tf access_log_format, ten fields): an estimate.
    access_log_bytes: int = 300

    name: str = "Lambda"

    def gateway_billed_ms(self, measured: Measured, call: Call) -> int:
        wait = call.seconds * 1000 + measured.dynamodb_round_trips * DYNAMODB_ROUND_TRIP_MS
        return lambda_billed_ms(self.memory_mb, wait, measured.cpu_ms)

    def per_request(self, prices: Prices, measured: Measured, call: Call) -> dict[str, Fraction]:
        """USD per request, by component."""
        authorizer_ms = lambda_billed_ms(self.authorizer_memory_mb, 0, measured.authorizer_cpu_ms)
        duration = gb_seconds(self.memory_mb, self.gateway_billed_ms(measured, call))
        duration += gb_seconds(self.authorizer_memory_mb, authorizer_ms)
        log_bytes = measured.log_bytes + self.platform_log_bytes + self.access_log_bytes
        parts = {
            "API Gateway": prices["apiGatewayRestRequest"],
            "WAF": prices["wafRequest"] if self.waf else Fraction(0),
            "Lambda requests": 2 * prices["lambdaRequest"],  # the authorizer runs on every request (TTL 0)
            "Lambda duration": duration * prices["lambdaArmGbSecond"],
            **_shared_per_request(prices, measured, log_bytes),
        }
        if self.interface_endpoints:
            bedrock = _bytes_for(measured.bedrock_bytes, measured, call)
            client = _bytes_for(measured.client_bytes, measured, call)
            parts["VPC endpoints"] = (bedrock + client) / BYTES_PER_GB * prices["interfaceEndpointGb"]
        return parts

    def fixed_per_month(self, prices: Prices) -> dict[str, Fraction]:
        parts = {}
        if self.waf:
            parts["WAF web ACL + rule"] = prices["wafWebAclMonth"] + prices["wafRuleMonth"]
        if self.interface_endpoints:
            hours = self.interface_endpoints * self.availability_zones * HOURS_PER_MONTH
            parts["VPC endpoint hours"] = hours * prices["interfaceEndpointAzHour"]
        return parts

    def per_month(self, prices: Prices, measured: Measured, call: Call, rate: int) -> dict[str, Fraction]:
        """USD per month at ``rate`` requests per second, by component."""
        requests = rate * SECONDS_PER_MONTH
        parts = {name: usd * requests for name, usd in self.per_request(prices, measured, call).items()}
        return {**parts, **self.fixed_per_month(prices)}


def _shared_per_request(prices: Prices, measured: Measured, log_bytes: int) -> dict[str, Fraction]:
    return {
        "DynamoDB": measured.write_units * prices["dynamodbWriteUnit"]
        + Fraction(measured.read_units) * prices["dynamodbReadUnit"],
        "CloudWatch Logs": Fraction(log_bytes, BYTES_PER_GB) * prices["logsIngestedGb"],
    }


@dataclass(frozen=True)
class FargateDeployment:
    task_vcpu: Decimal = Decimal(1)
    task_memory_gb: Decimal = Decimal(2)
    # Calls one task holds at once. Each in-flight call is a thread blocked on Bedrock with its request,
    # answer and botocore connection (some 100-200 KB): 256 of them fit well in 2 GB beside the
    # interpreter (50 MB), and a task that dies takes at most 256 calls with it (each then held until
    # the sweep charges its worst case). The CPU bound below is the real limit at short calls.
    in_flight_per_task: int = 256
    target_cpu_utilization: Decimal = Decimal("0.5")  # the target tracking policy's CPU target
    min_tasks: int = 2  # one per Availability Zone
    waf: bool = True
    nat_gateways: int = 2  # private subnets reach Bedrock, STS and Logs through one NAT per AZ
    name: str = "Fargate"

    def tasks(self, measured: Measured, call: Call, rate: int) -> int:
        cpu_seconds_per_second = rate * Fraction(measured.cpu_ms) / 1000
        by_cpu = math.ceil(cpu_seconds_per_second / Fraction(self.task_vcpu * self.target_cpu_utilization))
        by_in_flight = math.ceil(Fraction(rate * call.seconds, self.in_flight_per_task))
        return max(self.min_tasks, by_cpu, by_in_flight)

    def lcus(self, prices: Prices, measured: Measured, call: Call, rate: int) -> Fraction:
        """The ALB's LCUs: the largest dimension (every call a new connection; rules within the free 10)."""
        lcu = prices.lcu
        gb_per_hour = rate * 3600 * _bytes_for(measured.client_bytes, measured, call) / BYTES_PER_GB
        return max(
            Fraction(rate, lcu.new_connections_per_second),
            Fraction(rate * call.seconds, lcu.active_connections_per_minute),
            gb_per_hour / lcu.processed_gb_per_hour,
        )

    def per_month(self, prices: Prices, measured: Measured, call: Call, rate: int) -> dict[str, Fraction]:
        requests = rate * SECONDS_PER_MONTH
        task_hour = (
            Fraction(self.task_vcpu) * prices["fargateArmVcpuHour"]
            + Fraction(self.task_memory_gb) * prices["fargateArmGbHour"]
        )
        per_request = _shared_per_request(prices, measured, measured.log_bytes)
        bedrock_gb = _bytes_for(measured.bedrock_bytes, measured, call) / BYTES_PER_GB
        parts = {
            "Fargate tasks": self.tasks(measured, call, rate) * HOURS_PER_MONTH * task_hour,
            "ALB hours + LCUs": HOURS_PER_MONTH
            * (prices["albHour"] + self.lcus(prices, measured, call, rate) * prices["albLcuHour"]),
            "WAF": requests * prices["wafRequest"] if self.waf else Fraction(0),
            **{name: usd * requests for name, usd in per_request.items()},
            "NAT": self.nat_gateways * HOURS_PER_MONTH * prices["natGatewayHour"]
            + requests * bedrock_gb * prices["natGatewayGb"],
        }
        if self.waf:
            parts["WAF web ACL + rule"] = prices["wafWebAclMonth"] + prices["wafRuleMonth"]
        return parts


def per_million(monthly: Mapping[str, Fraction], rate: int) -> Fraction:
    """USD per million requests from a month's bill at ``rate`` requests per second."""
    return sum(monthly.values(), Fraction(0)) * 1_000_000 / (rate * SECONDS_PER_MONTH)


@dataclass(frozen=True)
class MemoryChoice:
    memory_mb: int
    usd_per_million: Fraction
    added_ms: int  # what the request's own CPU and writes add to the call at this memory
    fits: bool
    why_not: str


def choose_memory(
    prices: Prices,
    measured: Measured,
    call: Call,
    *,
    peak_rss_mb: int,
    candidates: tuple[int, ...] = (128, 256, 512, 1024, 1769),
    max_added_ms: int = 50,
    headroom: int = 2,
) -> tuple[int, list[MemoryChoice]]:
    """The smallest memory that holds ``headroom`` x the measured peak RSS and keeps the gateway's own
    time (CPU at the memory's share, DynamoDB round trips) within ``max_added_ms``: memory buys nothing
    else, since the wait for Bedrock is billed at every size and dominates."""
    rows = []
    for memory in candidates:
        deployment = LambdaDeployment(memory_mb=memory)
        added = deployment.gateway_billed_ms(measured, call) - call.seconds * 1000
        usd = sum(deployment.per_request(prices, measured, call).values(), Fraction(0)) * 1_000_000
        why_not = ""
        if memory < headroom * peak_rss_mb:
            why_not = f"under {headroom} x the {peak_rss_mb} MB peak RSS"
        elif added > max_added_ms:
            why_not = f"adds {added} ms > {max_added_ms} ms"
        rows.append(MemoryChoice(memory, usd, added, not why_not, why_not))
    fitting = [row.memory_mb for row in rows if row.fits]
    if not fitting:
        raise ValueError("no candidate memory fits the measured RSS and time bound")
    return min(fitting), rows


def break_even_rate(
    prices: Prices,
    measured: Measured,
    call: Call,
    lambda_deployment: LambdaDeployment,
    fargate: FargateDeployment,
    highest: int = 10_000,
) -> int | None:
    """The lowest whole rate (requests per second) at which Fargate's month costs no more than Lambda's,
    or None up to ``highest``: below it Lambda's pay-per-request is cheaper than Fargate's fixed floor."""
    for rate in range(1, highest + 1):
        container = sum(fargate.per_month(prices, measured, call, rate).values(), Fraction(0))
        function = sum(lambda_deployment.per_month(prices, measured, call, rate).values(), Fraction(0))
        if container <= function:
            return rate
    return None
