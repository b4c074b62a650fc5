"""The cost model's arithmetic (scripts/devtools/cost_model.py), checked against sums done by hand."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from fractions import Fraction

import pytest

from scripts.devtools import cost_model
from scripts.devtools.cost_model import (
    SHORT_CALL,
    STREAM_CALL,
    FargateDeployment,
    LambdaDeployment,
    Measured,
    Prices,
    PricesError,
    choose_memory,
    per_million,
)

PRICES = Prices.load()
MEASURED = Measured(
    write_units=7,
    read_units=Decimal(0),
    dynamodb_round_trips=4,
    log_bytes=1656,
    cpu_ms=Decimal(3),
    authorizer_cpu_ms=Decimal("0.004"),
    client_bytes=(1000, 500),
    bedrock_bytes=(800, 500),
    output_tokens=300,
)


def test_every_price_has_its_unit_source_and_date_and_the_region_is_us_east_1() -> None:
    assert PRICES.region == "us-east-1"
    assert set(PRICES.by_name) >= cost_model.REQUIRED_PRICES
    for name, price in PRICES.by_name.items():
        assert price.source.startswith("https://aws.amazon.com/"), name
        assert price.unit and price.as_of, name


def test_a_missing_or_unreadable_price_is_refused_by_name() -> None:
    document = json.loads(cost_model.PRICES_PATH.read_text())
    del document["prices"]["wafRequest"]
    with pytest.raises(PricesError, match="lacks wafRequest"):
        Prices.from_document(document)

    document = json.loads(cost_model.PRICES_PATH.read_text())
    del document["prices"]["albHour"]["source"]
    with pytest.raises(PricesError, match="price albHour: needs usd, per, unit, source and asOf"):
        Prices.from_document(document)


def test_a_lambda_request_is_priced_part_by_part() -> None:
    parts = LambdaDeployment(memory_mb=512).per_request(PRICES, MEASURED, SHORT_CALL)

    # 5,000 ms waiting + 4 writes x 5 ms + 3 ms of CPU at 512/1,769 of a vCPU (10.37 ms) -> 5,031 ms billed;
    # the authorizer's 0.004 ms at 128 MB rounds up to Lambda's 1 ms.
    gateway = Decimal("0.5") * Decimal("5.031") * Decimal("0.0000133334")
    authorizer = Decimal("0.125") * Decimal("0.001") * Decimal("0.0000133334")
    assert parts["Lambda duration"] == gateway + authorizer
    assert parts["API Gateway"] == Decimal("0.0000035")
    assert parts["WAF"] == Decimal("0.0000006")
    assert parts["Lambda requests"] == Decimal("0.0000004")  # the gateway and the authorizer
    assert parts["DynamoDB"] == 7 * Decimal("0.000000625")
    # 1,656 measured + 600 platform + 300 access-log bytes, at USD 0.50 per 2^30 bytes
    assert parts["CloudWatch Logs"] == Decimal(2556) / 2**30 * Decimal("0.5")
    # The paper figure for these defaults (512 MB, 7 WCU, a 5-s call) was about USD 40 a million
    assert 40 < sum(parts.values()) * 1_000_000 < 45


def test_the_lambda_bill_grows_with_the_call_and_the_memory_not_with_the_rate() -> None:
    small, large = LambdaDeployment(memory_mb=256), LambdaDeployment(memory_mb=512)
    short = per_million(small.per_month(PRICES, MEASURED, SHORT_CALL, 100), 100)
    # the function's duration is the call's: four times the wait, four times the GB-seconds (nearly)
    duration = [
        small.per_request(PRICES, MEASURED, call)["Lambda duration"] for call in (SHORT_CALL, STREAM_CALL)
    ]
    assert Fraction(395, 100) < duration[1] / duration[0] < 4
    assert per_million(large.per_month(PRICES, MEASURED, SHORT_CALL, 100), 100) > short
    # only the WAF's monthly USD 6 is fixed: per million falls slightly with volume
    at_10 = per_million(small.per_month(PRICES, MEASURED, SHORT_CALL, 10), 10)
    at_1000 = per_million(small.per_month(PRICES, MEASURED, SHORT_CALL, 1000), 1000)
    assert at_10 - at_1000 == Fraction(6_000_000, 10 * cost_model.SECONDS_PER_MONTH) - Fraction(
        6_000_000, 1000 * cost_model.SECONDS_PER_MONTH
    )


def test_private_access_adds_endpoint_hours_and_bytes() -> None:
    private = LambdaDeployment(memory_mb=256, interface_endpoints=4, availability_zones=2)
    assert private.fixed_per_month(PRICES)["VPC endpoint hours"] == 4 * 2 * 730 * Decimal("0.01")
    assert private.per_request(PRICES, MEASURED, SHORT_CALL)["VPC endpoints"] == Decimal(
        2800
    ) / 2**30 * Decimal("0.01")
    assert "VPC endpoints" not in LambdaDeployment().per_request(PRICES, MEASURED, SHORT_CALL)
    # a stream's answer is 2,000 / 300 times the measured one; its request is the same
    stream_bytes = 1000 + 800 + Fraction(500 * 2000, 300) * 2
    assert private.per_request(PRICES, MEASURED, STREAM_CALL)[
        "VPC endpoints"
    ] == stream_bytes / 2**30 * Fraction(1, 100)


def test_fargate_tasks_follow_the_larger_of_cpu_and_calls_in_flight_never_below_the_minimum() -> None:
    fargate = FargateDeployment(in_flight_per_task=256, target_cpu_utilization=Decimal("0.5"), min_tasks=2)
    # 10 req/s x 3 ms = 0.03 vCPU, 50 in flight: the minimum
    assert fargate.tasks(MEASURED, SHORT_CALL, 10) == 2
    # 1,000 req/s x 3 ms = 3 vCPU at 50 % -> 6 tasks; 5,000 in flight / 256 -> 20 tasks
    assert fargate.tasks(MEASURED, SHORT_CALL, 1000) == 20
    # 20-s streams: 20,000 in flight -> 79 tasks (78.1 rounded up)
    assert fargate.tasks(MEASURED, STREAM_CALL, 1000) == 79
    # a heavier core: 20 ms x 1,000 req/s = 20 vCPU at 50 % -> 40 tasks, more than in flight asks
    heavy = Measured(**{**MEASURED.__dict__, "cpu_ms": Decimal(20)})
    assert fargate.tasks(heavy, SHORT_CALL, 1000) == 40


def test_the_alb_pays_its_largest_lcu_dimension() -> None:
    fargate = FargateDeployment()
    # 100 req/s of new connections = 4 LCU; 500 active = 0.17; 1,500 bytes x 360,000 an hour = 0.5 GB
    assert fargate.lcus(PRICES, MEASURED, SHORT_CALL, 100) == Decimal(4)
    # 20-s streams at 100 req/s: 2,000 active connections = 0.67 LCU, 1,000 + 500 x 2,000 / 300 bytes
    # a call = 1.45 GB an hour: still under the new connections
    assert fargate.lcus(PRICES, MEASURED, STREAM_CALL, 100) == Decimal(4)
    monthly = fargate.per_month(PRICES, MEASURED, SHORT_CALL, 100)
    assert monthly["ALB hours + LCUs"] == 730 * (Decimal("0.0225") + 4 * Decimal("0.008"))
    assert monthly["Fargate tasks"] == 2 * 730 * (Decimal("0.03238") + 2 * Decimal("0.00356"))
    assert monthly["NAT"] == 2 * 730 * Decimal("0.045") + 100 * cost_model.SECONDS_PER_MONTH * Decimal(
        1300
    ) / 2**30 * Decimal("0.045")


def test_memory_is_the_smallest_that_holds_the_rss_and_the_time_bound() -> None:
    # 128 MB holds exactly twice a 64 MB peak: admitted on memory, and 3 ms of CPU at 128/1,769 of a
    # vCPU (41.5 ms) + 20 ms of writes is over 50 ms: refused on time; 256 MB fits both.
    chosen, rows = choose_memory(PRICES, MEASURED, SHORT_CALL, peak_rss_mb=64)
    assert chosen == 256
    assert rows[0].memory_mb == 128 and "adds 62 ms > 50 ms" in rows[0].why_not
    # a lighter core fits 128 MB on time; one MB more of RSS pushes it out on memory
    light = Measured(**{**MEASURED.__dict__, "cpu_ms": Decimal(2)})
    assert choose_memory(PRICES, light, SHORT_CALL, peak_rss_mb=64)[0] == 128
    chosen, rows = choose_memory(PRICES, light, SHORT_CALL, peak_rss_mb=65)
    assert chosen == 256 and "under 2 x the 65 MB peak RSS" in rows[0].why_not
    # nothing fits: said, not guessed
    with pytest.raises(ValueError, match="no candidate memory fits"):
        choose_memory(PRICES, MEASURED, SHORT_CALL, peak_rss_mb=4096)


def test_a_typical_model_call_is_priced_by_the_catalog() -> None:
    from scripts.devtools.bench_costs import model_call_usd

    # Nova Micro: 1,000 x USD 0.035 + 300 x USD 0.14 per million tokens
    assert model_call_usd("nova-micro", SHORT_CALL) == Decimal("0.000077")
    # Claude Haiku 4.5: 1,000 x USD 1 + 2,000 x USD 5 per million tokens
    assert model_call_usd("claude-haiku-4-5", STREAM_CALL) == Decimal("0.011")


def test_the_break_even_rate_is_where_fargate_stops_costing_more() -> None:
    function, container = LambdaDeployment(memory_mb=256), FargateDeployment()
    rate = cost_model.break_even_rate(PRICES, MEASURED, SHORT_CALL, function, container)
    assert rate is not None and rate > 1

    def month(deployment: LambdaDeployment | FargateDeployment, at: int) -> Fraction:
        return sum(deployment.per_month(PRICES, MEASURED, SHORT_CALL, at).values(), Fraction(0))

    # both sides of the line: one request per second less, Lambda is cheaper; at it, Fargate is not dearer
    assert month(container, rate - 1) > month(function, rate - 1)
    assert month(container, rate) <= month(function, rate)
    # a Lambda that costs nothing per request never breaks even
    free = Prices(PRICES.region, {**PRICES.by_name}, PRICES.lcu)
    for name in ("apiGatewayRestRequest", "wafRequest", "lambdaRequest", "lambdaArmGbSecond"):
        free.by_name[name] = cost_model.Price(Decimal(0), 1, "free", "https://aws.amazon.com/", "2026-12-04")  # type: ignore[index]
    assert cost_model.break_even_rate(free, MEASURED, SHORT_CALL, function, container, highest=50) is None


@pytest.mark.slow
def test_make_bench_prints_both_deployments_per_million_and_the_ratio_to_both_models(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # make bench's own entry point, on the local stack, with few requests
    from scripts.devtools import bench_costs

    assert bench_costs.main(["--requests", "5"]) == 0

    out = capsys.readouterr().out
    assert re.search(r"DynamoDB: [1-9]\d* WCU \(ledger", out)  # counted, whatever the ledger writes
    for deployment in ("Lambda", "Fargate"):
        for call in ("5-s call", "20-s stream"):
            rows = [
                line.split() for line in out.splitlines() if line.split()[:1] == [deployment] and call in line
            ]
            assert [row[3] for row in rows] == ["10", "100", "1000"], (deployment, call)
    assert "nova-micro USD 0.000077 ->" in out
    assert "claude-haiku-4-5 USD 0.002500 ->" in out
    assert "chosen" in out
