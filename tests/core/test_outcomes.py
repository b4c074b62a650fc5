"""The outcome table (core/outcomes.py): every end has exactly one settlement, and only ends that prove
Bedrock did not bill release or retry."""

from __future__ import annotations

from cost_sentry.core.outcomes import RETRYABLE, SETTLEMENT, CallEnd, Settlement, may_retry, settlement_for


def test_every_way_a_call_can_end_has_a_settlement():
    assert set(SETTLEMENT) == set(CallEnd)


def test_only_proofs_that_the_model_did_not_run_release():
    released = {end for end in CallEnd if settlement_for(end) is Settlement.RELEASE}
    assert released == {CallEnd.REFUSED_INVALID, CallEnd.THROTTLED, CallEnd.QUOTA_EXCEEDED, CallEnd.NOT_SENT}


def test_what_may_have_been_billed_is_charged_at_the_worst_case():
    for end in (
        CallEnd.SERVER_ERROR,
        CallEnd.READ_TIMEOUT,
        CallEnd.CONNECTION_LOST,
        CallEnd.UNREADABLE_RESPONSE,
        CallEnd.STREAM_BROKEN_BEFORE_CONTENT,
        CallEnd.STREAM_BROKEN_AFTER_CONTENT,
        CallEnd.FUNCTION_KILLED,
    ):
        assert settlement_for(end) is Settlement.CHARGE_WORST_CASE, end


def test_only_released_ends_may_be_retried():
    assert all(settlement_for(end) is Settlement.RELEASE for end in RETRYABLE)
    assert [end for end in CallEnd if may_retry(end)] == [CallEnd.THROTTLED, CallEnd.NOT_SENT]
