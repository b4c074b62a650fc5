"""The ledger's item encoding and update builder, without a table: each item writer has its reader as
an exact inverse, and an Update gives DynamoDB only the placeholders it uses."""

from __future__ import annotations

from dataclasses import replace

from cost_sentry.adapters.ledger.dynamo import Update
from cost_sentry.adapters.ledger.items import (
    HOLD_ATTRIBUTES,
    CallRecord,
    Hold,
    StoredCall,
    call_item,
    hold_item,
    is_call_record,
    is_hold,
    read_call_item,
    read_hold,
)


def test_a_hold_reads_back_as_written_with_and_without_its_optional_fields() -> None:
    full = Hold(
        period_key="PERIOD#2026-11",
        request_id="req#1",
        shard=3,
        nanos=5_000,
        tokens=120,
        input_tokens=100,
        output_tokens=20,
        expires=1_795_348_950,
        reserved_at_ms=1_795_348_800_123,
        user="alice",
        principal="arn:aws:sts::1:assumed-role/r/alice",
        api_key_id="key-sales",
        model="claude-3-haiku",
        model_id="arn:profile",
        call_user="alice",
    )
    bare = Hold("PERIOD#2026-11-22", "req-2", 0, 1, 0, 1, 0, 10, 10_000)
    for hold in (full, bare):
        item = hold_item("sales", hold)
        assert item["pk"] == {"S": f"sales#S{hold.shard}"}
        assert read_hold(item) == hold
    assert "user" not in hold_item("sales", bare) and "principal" not in hold_item("sales", bare)


def test_a_call_record_reads_back_as_written() -> None:
    record = CallRecord(
        request_id="req-1",
        timestamp="2026-11-22T10:00:00.123Z",
        principal="",
        api_key_id="key-sales",
        user="alice",
        model="claude-3-haiku",
        model_id="arn:profile",
        application_id="sales-app",
        cost_center="sales",
        environment="prod",
        input_tokens=50,
        output_tokens=5,
        cost_nanos=1_234,
        estimated=True,
    )
    for call in (
        StoredCall(record, "sales", "PERIOD#2026-11", 2, 1_830_000_000),
        StoredCall(
            replace(record, user=None, estimated=False),
            "sales",
            "PERIOD#2026-11",
            0,
            1,
        ),
    ):
        assert read_call_item(call_item(call)) == call


def test_an_update_names_each_attribute_once_and_shares_equal_values() -> None:
    update = (
        Update()
        .set_minus("available_nanos", 7, start=100)
        .set_if_not_exists("limit_nanos", 100)
        .add("requests", 1)
        .remove("rpm_202611221435")
        .condition("(attribute_not_exists(#limit_nanos) OR #limit_nanos = {})", 100)
    )
    assert update.request() == {
        "UpdateExpression": "SET #available_nanos = if_not_exists(#available_nanos, :v0) - :v1, "
        "#limit_nanos = if_not_exists(#limit_nanos, :v0) ADD #requests :v2 REMOVE #rpm_202611221435",
        "ConditionExpression": "(attribute_not_exists(#limit_nanos) OR #limit_nanos = :v0)",
        "ExpressionAttributeNames": {
            "#available_nanos": "available_nanos",
            "#limit_nanos": "limit_nanos",
            "#requests": "requests",
            "#rpm_202611221435": "rpm_202611221435",
        },
        "ExpressionAttributeValues": {":v0": {"N": "100"}, ":v1": {"N": "7"}, ":v2": {"N": "1"}},
    }
    bare = Update().remove("blocked").condition("attribute_exists(sk)")
    assert bare.transact("ledger", {"pk": {"S": "a"}}) == {
        "Update": {
            "TableName": "ledger",
            "Key": {"pk": {"S": "a"}},
            "UpdateExpression": "REMOVE #blocked",
            "ConditionExpression": "attribute_exists(sk)",
            "ExpressionAttributeNames": {"#blocked": "blocked"},
        }
    }


def test_a_hold_and_its_call_record_share_one_key_and_only_the_hold_is_a_hold() -> None:
    hold = Hold("PERIOD#2026-11", "req-3", 2, 9_000, 80, 60, 20, 1_795_348_980, 1_795_348_830_456)
    held = hold_item("sales", hold)
    record = hold.worst_case_record("sales-app", "sales", "prod")
    stored = call_item(StoredCall(record, "sales", hold.period_key, hold.shard, 1, hold.reserved_at_ms))
    assert (held["pk"], held["sk"]) == (stored["pk"], stored["sk"])
    assert held["sk"] == {"S": "CALL#2026-11-22T12:00:30.456Z#req-3"}
    assert is_hold(held) and not is_call_record(held)
    assert is_call_record(stored) and not is_hold(stored)
    # A claim removes the hold's own attributes: those the record does not write.
    assert set(held) - {"pk", "sk"} <= HOLD_ATTRIBUTES
    assert {"state", "nanos", "tokens", "expires"} <= HOLD_ATTRIBUTES - set(stored)
