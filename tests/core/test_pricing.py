"""Every usage field Bedrock reports is priced at its own rate, exactly (core/pricing.py)."""

from __future__ import annotations

import pytest

from cost_sentry.core.catalog import default_catalog
from cost_sentry.core.converse import ConverseRequest
from cost_sentry.core.estimate import worst_case_for
from cost_sentry.core.pricing import MalformedUsage, Usage, parse_usage, usd_per_million_to_femtos

CATALOG = default_catalog()


def test_rates_are_exact_to_nine_decimals_and_refuse_more():
    assert usd_per_million_to_femtos("0.0153125", "x") == 15_312_500
    with pytest.raises(ValueError, match="not a whole number"):
        usd_per_million_to_femtos("0.0000000001", "x")


def test_cache_reads_and_both_ttls_of_cache_writes_are_priced_at_their_own_rates():
    sonnet = CATALOG.get("claude-sonnet-4-5")  # global profile: no geographic premium
    usage = parse_usage(
        {
            "inputTokens": 1000,
            "outputTokens": 200,
            "cacheReadInputTokens": 10_000,
            "cacheWriteInputTokens": 3000,
            "cacheDetails": [{"ttl": "5m", "inputTokens": 1000}, {"ttl": "1h", "inputTokens": 2000}],
        }
    )
    # USD per million: input 3, output 15, cache read 0.30, write 5m 3.75, write 1h 6.00 -> nanos per token x1000.
    expected = 1000 * 3000 + 200 * 15000 + 10_000 * 300 + 1000 * 3750 + 2000 * 6000
    assert sonnet.usage_cost_nanos(usage) == expected


def test_undetailed_cache_writes_take_the_dearest_ttl_the_request_asked_for():
    sonnet = CATALOG.get("claude-sonnet-4-5")
    usage = Usage(0, 0, cache_write_tokens=1000)
    assert sonnet.usage_cost_nanos(usage) == 1000 * 3750
    assert sonnet.usage_cost_nanos(usage, undetailed_write_ttl="1h") == 1000 * 6000


def test_the_tier_that_served_the_call_sets_the_rates():
    micro = CATALOG.get("nova-micro")
    plain = Usage(1_000_000, 1_000_000)
    assert micro.usage_cost_nanos(plain) == 35_000_000 + 140_000_000
    assert micro.usage_cost_nanos(plain.with_tier("priority")) == 61_250_000 + 245_000_000
    assert micro.usage_cost_nanos(plain.with_tier("flex")) == 17_500_000 + 70_000_000
    # Asked for priority but served at default (capacity short): the default rates.
    assert micro.usage_cost_nanos(plain.with_tier("default"), requested_tier="priority") == 175_000_000


def test_a_fraction_of_a_nano_is_rounded_up_once_per_call():
    micro = CATALOG.get("nova-micro")
    # 3 cache-read tokens x 8.75 nanos = 26.25 nanos -> 27.
    assert micro.usage_cost_nanos(Usage(0, 0, cache_read_tokens=3)) == 27


def test_geographic_profiles_pay_the_premium_over_global_ones():
    prices = CATALOG.get("claude-haiku-4-5").prices
    assert prices.rates("default", "global").input == 1_000_000_000
    assert prices.rates("default", "geographic").input == 1_100_000_000
    assert CATALOG.get("claude-haiku-4-5").profile_kind == "global"
    assert CATALOG.get("claude-sonnet-4").profile_kind == "geographic"


@pytest.mark.parametrize(
    "usage",
    [
        None,
        {"inputTokens": -1, "outputTokens": 0},
        {"inputTokens": 1},
        {"inputTokens": 1, "outputTokens": "2"},
    ],
)
def test_unreadable_usage_is_refused(usage):
    with pytest.raises(MalformedUsage):
        parse_usage(usage)


def test_worst_case_prices_every_input_token_at_the_dearest_cache_write_and_tier():
    micro = CATALOG.get("nova-micro")
    text = "x" * 100
    plain = ConverseRequest(model=None, messages=({"role": "user", "content": [{"text": text}]},))
    cached = ConverseRequest(
        model=None,
        messages=({"role": "user", "content": [{"text": text}, {"cachePoint": {"type": "default"}}]},),
        service_tier="priority",
    )
    base = worst_case_for(micro, plain, 10)
    assert base.input_tokens == 64 + 100 + 16
    assert base.cost_nanos == -(-(180 * 35_000_000 + 10 * 140_000_000) // 10**6)
    worst = worst_case_for(micro, cached, 10)
    # priority: input 0.06125, output 0.245 USD/M; the cache write (5m) of nova is the input rate.
    assert worst.cost_nanos == -(-(worst.input_tokens * 61_250_000 + 10 * 245_000_000) // 10**6)


def test_the_worst_case_bounds_actual_cost_for_every_usage_split():
    sonnet = CATALOG.get("claude-sonnet-4-5")
    request = ConverseRequest(
        model=None,
        messages=(
            {
                "role": "user",
                "content": [{"text": "y" * 400}, {"cachePoint": {"type": "default", "ttl": "1h"}}],
            },
        ),
    )
    worst = worst_case_for(sonnet, request, 50)
    n = worst.input_tokens
    for split in (Usage(n, 50), Usage(0, 50, cache_write_tokens=n, cache_write_1h_tokens=n), Usage(0, 50, n)):
        assert sonnet.usage_cost_nanos(split, undetailed_write_ttl="1h") <= worst.cost_nanos
