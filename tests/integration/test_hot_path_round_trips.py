"""The hot path's AWS round trips, counted with botocore hooks on the gateway's own clients (as the bench
does): a warm request makes the reservation (the shard's conditional UpdateItem and the hold's PutItem),
one Bedrock call and the settlement (the shard's UpdateItem and the UpdateItem turning the hold into its
call record)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scripts.devtools.bench_gateway import AwsCallMeter, converse_event, count_round_trips, hot_path_figures
from scripts.testbed.local_stack import LocalStack
from tests.integration.http_helpers import own_stack

pytestmark = pytest.mark.xdist_group("hot_path_round_trips")

TFVARS = """
environment = "test"
tenants = {
  solo = {
    application_id = "solo-app"
    cost_center    = "solo"
    models         = ["nova-lite"]
    budget         = { limit_usd = 10 }
    limits         = { requests_per_minute = 1000 }
  }
}
"""
WARM_REQUESTS = 10


@pytest.fixture(scope="module")
def metered() -> Iterator[tuple[LocalStack, AwsCallMeter]]:
    meter = AwsCallMeter()
    with meter.installed(), own_stack(TFVARS) as stack:
        meter.config_table = stack.config_table
        yield stack, meter


def test_a_warm_request_makes_four_ledger_writes_one_bedrock_call_and_nothing_else(
    metered: tuple[LocalStack, AwsCallMeter],
) -> None:
    stack, meter = metered
    solo = stack.tenants["solo"]
    event = converse_event(
        solo.api_key, solo.api_key_id, solo.request_body("How much is left?", max_tokens=32)
    )

    cold, warm = count_round_trips(stack, meter, event, WARM_REQUESTS)

    assert cold[("dynamodb", "Scan", "config")] == 1  # the one config load of a cold start
    assert dict(warm) == {
        # The shard at reserve and at settle, and the hold turned into its call record in place.
        ("dynamodb", "UpdateItem", "ledger"): 3 * WARM_REQUESTS,
        ("dynamodb", "PutItem", "ledger"): WARM_REQUESTS,  # the hold
        ("bedrock-runtime", "Converse", ""): WARM_REQUESTS,
    }
    assert hot_path_figures(warm) == (4 * WARM_REQUESTS, 0, 0)


def test_the_meter_sees_calls_only_while_measuring(metered: tuple[LocalStack, AwsCallMeter]) -> None:
    stack, meter = metered
    meter.counts.clear()

    stack.client("dynamodb").scan(TableName=stack.config_table)

    assert meter.counts == {}
