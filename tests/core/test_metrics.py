import json

from cost_sentry.core.metrics import MetricsEmitter, RequestMetrics, dumps_exact


def test_emf_document_shape():
    lines: list[str] = []
    emitter = MetricsEmitter("GenAIRateLimiting", sink=lines.append)
    emitter.emit(
        RequestMetrics(
            model="claude-3-haiku",
            model_id="abc123",
            cost_center="sales",
            application="sales-assistant",
            environment="prod",
            approved=True,
            input_tokens=10,
            output_tokens=5,
            cost_nanos=8_750,
        ),
        timestamp_ms=1_700_000_000_000,
        properties={"requestId": "r1", "outcome": "succeeded"},
    )
    assert len(lines) == 1
    document = json.loads(lines[0])
    directive = document["_aws"]["CloudWatchMetrics"][0]
    assert document["_aws"]["Timestamp"] == 1_700_000_000_000
    assert directive["Namespace"] == "GenAIRateLimiting"
    assert directive["Dimensions"] == [
        ["Model", "ModelId", "CostCenter", "Application", "Environment"],
        ["CostCenter"],
    ]
    names = {metric["Name"] for metric in directive["Metrics"]}
    assert {
        "TotalRequests",
        "RateLimitApproved",
        "RateLimitDenied",
        "InvocationFailed",
        "InputTokens",
        "OutputTokens",
        "CostUSD",
    } <= names
    assert "ReservationUnderestimated" not in names
    # Every metric and dimension named in the directive is a member of the document (EMF rule).
    for name in names | {d for dims in directive["Dimensions"] for d in dims}:
        assert name in document
    assert (document["RateLimitApproved"], document["RateLimitDenied"], document["InvocationFailed"]) == (
        1,
        0,
        0,
    )
    assert '"CostUSD":0.000008750' in lines[0]
    assert document["requestId"] == "r1"


def test_underestimation_adds_its_metric():
    lines: list[str] = []
    MetricsEmitter("ns", sink=lines.append).emit(RequestMetrics(underestimated=True), 0, {})
    document = json.loads(lines[0])
    assert document["ReservationUnderestimated"] == 1
    assert document["CostCenter"] == "unknown"


def test_alarm_metrics_are_also_published_without_dimensions_for_an_account_wide_alarm():
    lines: list[str] = []
    emitter = MetricsEmitter("GenAIRateLimiting", sink=lines.append)
    emitter.emit(RequestMetrics(settle_failed=True, underestimated=True), 0, {})
    emitter.emit(RequestMetrics(), 0, {})
    alarmed, quiet = (json.loads(line) for line in lines)
    [_, account_wide] = alarmed["_aws"]["CloudWatchMetrics"]
    assert account_wide["Namespace"] == "GenAIRateLimiting" and account_wide["Dimensions"] == [[]]
    assert [m["Name"] for m in account_wide["Metrics"]] == ["SettleFailed", "ReservationUnderestimated"]
    assert (alarmed["SettleFailed"], alarmed["ReservationUnderestimated"]) == (1, 1)
    assert len(quiet["_aws"]["CloudWatchMetrics"]) == 1 and "SettleFailed" not in quiet


def test_dumps_exact_writes_decimals_as_numbers():
    from decimal import Decimal

    assert dumps_exact({"a": Decimal("0.000000001"), "b": [1, "x", None, True]}) == (
        '{"a":0.000000001,"b":[1,"x",null,true]}'
    )


def test_a_would_be_denial_is_the_wouldDeny_metric_by_cost_center_and_reason():
    from cost_sentry.core.metrics import RequestMetrics, emf_document

    shadow = emf_document(
        "NS", RequestMetrics(cost_center="pilot", approved=True, would_deny="pace_exceeded"), 1, {}
    )
    enforced = emf_document("NS", RequestMetrics(cost_center="pilot", approved=True), 1, {})

    assert (shadow["WouldDeny"], shadow["Reason"], shadow["RateLimitApproved"]) == (1, "pace_exceeded", 1)
    directive = shadow["_aws"]["CloudWatchMetrics"][-1]
    assert directive["Dimensions"] == [["CostCenter", "Reason"], ["Reason"]]
    assert directive["Metrics"] == [{"Name": "WouldDeny", "Unit": "Count"}]
    assert "WouldDeny" not in enforced and "Reason" not in enforced
