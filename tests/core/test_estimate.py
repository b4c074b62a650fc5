from cost_sentry.core.catalog import default_catalog
from cost_sentry.core.estimate import (
    PER_MESSAGE_OVERHEAD_TOKENS,
    PER_REQUEST_OVERHEAD_TOKENS,
    input_token_upper_bound,
    worst_case,
)


def test_input_bound_counts_utf8_bytes_plus_overheads():
    # "héllo" is 6 UTF-8 bytes, "hi" 2.
    expected = 6 + 2 + 2 * PER_MESSAGE_OVERHEAD_TOKENS + PER_REQUEST_OVERHEAD_TOKENS
    assert input_token_upper_bound(["héllo", "hi"]) == expected


def test_worst_case_cost_by_hand():
    spec = default_catalog().get("nova-micro")  # 35 / 140 nanos per token
    case = worst_case(spec, ["abcd"], max_tokens=100)
    input_tokens = 4 + PER_MESSAGE_OVERHEAD_TOKENS + PER_REQUEST_OVERHEAD_TOKENS  # 84
    assert case.input_tokens == input_tokens
    assert case.cost_nanos == input_tokens * 35 + 100 * 140 == 16_940
    assert case.tokens == input_tokens + 100
