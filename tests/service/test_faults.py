"""Failures around the reservation: Bedrock errors release it, DynamoDB trouble charges nothing,
crashed requests are reclaimed, limits answer 429 (a budget's is final and says when it resets, a
rate's carries Retry-After)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cost_sentry.service.gateway import ApiCall
from tests.service.conftest import converse_body, load_event, tenant_document
from tests.service.fakes import FakeBedrock, client_error, read_timeout


def holds(item: dict[str, Any]) -> list[str]:
    return [name for name in item if name.startswith("hold_")]


def available(gateway) -> int:
    return int(gateway.tables.period_item("sales")["available_nanos"]["N"])


def connection_error(kind: str) -> Exception:
    import botocore.exceptions as botocore_errors

    url = "https://bedrock-runtime.us-east-1.amazonaws.com"
    return getattr(botocore_errors, kind)(endpoint_url=url, error="injected")


# Bedrock certainly did not run these: the hold is given back in full (core/outcomes.py).
RELEASED_FAULTS = [
    ("throttled", client_error("ThrottlingException"), 429, "bedrock_throttled"),
    ("quota", client_error("ServiceQuotaExceededException"), 429, "bedrock_throttled"),
    ("not ready", client_error("ModelNotReadyException"), 429, "bedrock_throttled"),
    ("validation", client_error("ValidationException", "too long"), 400, "bedrock_validation"),
    ("access denied", client_error("AccessDeniedException"), 403, "model_access_denied"),
    ("not found", client_error("ResourceNotFoundException"), 502, "bedrock_failed"),
    ("connect refused", connection_error("EndpointConnectionError"), 502, "bedrock_unreachable"),
    ("connect timeout", connection_error("ConnectTimeoutError"), 502, "bedrock_unreachable"),
]
# These may have reached the model and been billed: the worst case is charged, marked estimated.
WORST_CASE_FAULTS = [
    ("5xx", client_error("InternalServerException"), 502, "bedrock_failed"),
    ("unavailable", client_error("ServiceUnavailableException"), 502, "bedrock_failed"),
    ("model error", client_error("ModelErrorException"), 502, "bedrock_failed"),
    ("model timeout", client_error("ModelTimeoutException"), 504, "bedrock_timeout"),
    ("unknown code", client_error("SomethingNewException"), 502, "bedrock_failed"),
    ("read timeout", read_timeout(), 504, "bedrock_timeout"),
    ("connection closed", connection_error("ConnectionClosedError"), 502, "bedrock_connection_lost"),
    ("ssl error", connection_error("SSLError"), 502, "bedrock_failed"),
]
# (30 bytes + 16 + 64) x 250 + 100 x 1250: the worst case converse_body() reserves.
WORST_CASE_NANOS = 152_500


@pytest.mark.parametrize("route", ["converse", "converse_stream"])
@pytest.mark.parametrize(
    ("name", "error", "status", "code"), RELEASED_FAULTS, ids=[f[0] for f in RELEASED_FAULTS]
)
def test_bedrock_failure_releases_the_reservation(gateway_factory, route, name, error, status, code):
    gateway = gateway_factory(bedrock=FakeBedrock(error=error))
    response = gateway.handle(load_event(route, body=converse_body()))
    assert response["statusCode"] == status
    assert json.loads(response["body"])["error"]["code"] == code
    item = gateway.tables.period_item("sales")
    assert int(item["available_nanos"]["N"]) == 500_000_000  # held, then given back in full
    assert holds(item) == []
    assert "spent_nanos" not in item
    assert gateway.tables.call_records("sales") == []
    [document] = gateway.emf()
    assert (document["RateLimitApproved"], document["InvocationFailed"], document["RateLimitDenied"]) == (
        1,
        1,
        0,
    )


@pytest.mark.parametrize("route", ["converse", "converse_stream"])
@pytest.mark.parametrize(
    ("name", "error", "status", "code"), WORST_CASE_FAULTS, ids=[f[0] for f in WORST_CASE_FAULTS]
)
def test_bedrock_failure_that_may_have_been_billed_charges_the_worst_case(
    gateway_factory, route, name, error, status, code
):
    gateway = gateway_factory(bedrock=FakeBedrock(error=error))
    response = gateway.handle(load_event(route, body=converse_body()))
    assert response["statusCode"] == status
    assert json.loads(response["body"])["error"]["code"] == code
    assert len(gateway.bedrock.calls) == 1  # never retried: a retry could be billed twice
    item = gateway.tables.period_item("sales")
    [record] = gateway.tables.call_records("sales")
    assert record["estimated"]["BOOL"] is True
    assert int(record["cost_nanos"]["N"]) == int(item["spent_nanos"]["N"]) == WORST_CASE_NANOS
    assert int(item["available_nanos"]["N"]) == 500_000_000 - WORST_CASE_NANOS
    assert holds(item) == []
    [document] = gateway.emf()
    assert (document["RateLimitApproved"], document["InvocationFailed"]) == (1, 1)
    assert document["callEnd"] != "succeeded"


def test_a_failed_settle_is_counted_in_the_settle_failed_metric(gateway_factory):
    gateway = gateway_factory()
    gateway.service.config_store.directory()

    def failing_settle(reservation: Any, record: Any) -> Any:
        raise RuntimeError("ledger write refused")

    gateway.service.ledger.settle = failing_settle  # this service's own ledger object, not a global
    response = gateway.handle(load_event("converse", body=converse_body()))
    assert response["statusCode"] == 200  # Bedrock answered and billed: the caller gets the answer
    [document] = gateway.emf()
    assert document["SettleFailed"] == 1
    assert "SettleFailed" in {m["Name"] for m in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]}


def test_stream_broken_midway_settles_the_worst_case(gateway_factory):
    gateway = gateway_factory(
        bedrock=FakeBedrock(reply="one two", error_mid_stream=client_error("ModelStreamErrorException"))
    )
    response = gateway.handle(load_event("converse_stream", body=converse_body()))
    assert response["statusCode"] == 200  # the status line was already sent when the stream broke
    events = [json.loads(c.removeprefix("data: ")) for c in response["body"].split("\n\n") if c]
    assert events[0] == {"type": "delta", "text": "one"}
    assert events[-1]["type"] == "error" and events[-1]["error"]["code"] == "bedrock_failed"
    item = gateway.tables.period_item("sales")
    [record] = gateway.tables.call_records("sales")
    assert record["estimated"]["BOOL"] is True
    # Spend that may have happened is recorded, never dropped: the reserved worst case.
    assert int(item["spent_nanos"]["N"]) == int(record["cost_nanos"]["N"]) > 0
    assert int(item["available_nanos"]["N"]) == 500_000_000 - int(item["spent_nanos"]["N"])
    assert holds(item) == []


def test_usage_above_the_reservation_is_settled_and_measured(gateway_factory):
    # 100 output tokens were allowed, Bedrock reports 150 (and a huge input): the truth is charged.
    gateway = gateway_factory(bedrock=FakeBedrock(input_tokens=5_000, output_tokens=150))
    response = gateway.handle(load_event("converse", body=converse_body()))
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["cost"]["usd"] == "0.0014375"  # 5000 x 250 + 150 x 1250
    assert int(gateway.tables.period_item("sales")["spent_nanos"]["N"]) == 1_437_500
    [document] = gateway.emf()
    assert document["ReservationUnderestimated"] == 1


class RaisingDynamoDB:
    """A DynamoDB client whose every call fails like an unreachable endpoint."""

    def __getattr__(self, name: str):
        from botocore.exceptions import EndpointConnectionError

        def fail(*args: Any, **kwargs: Any) -> Any:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

        return fail


def test_dynamodb_unreachable_at_reservation_is_503_and_charges_nothing(gateway_factory):
    gateway = gateway_factory()
    gateway.service.config_store.directory()  # config already loaded (a warm container)
    gateway.service.ledger._client = RaisingDynamoDB()
    response = gateway.handle(load_event("converse", body=converse_body()))
    assert response["statusCode"] == 503
    assert json.loads(response["body"])["error"]["code"] == "ledger_unavailable"
    assert gateway.bedrock.calls == []
    assert gateway.tables.period_item("sales") == {}


def test_config_unreachable_at_cold_start_is_503(gateway_factory):
    gateway = gateway_factory()
    gateway.service.config_store._client = RaisingDynamoDB()
    response = gateway.handle(load_event("converse", body=converse_body()))
    assert response["statusCode"] == 503
    assert json.loads(response["body"])["error"]["code"] == "config_unavailable"


def test_conditional_failure_is_a_final_429_with_its_reset_time_and_no_change(gateway_factory):
    gateway = gateway_factory(tenant_document(budget={"limitUsd": "0.0002"}))  # 200000 nanos
    # Worst case of this body: (30 bytes + 16 + 64) x 250 + 100 x 1250 = 152500 nanos.
    first = gateway.service.stream(
        ApiCall(request_id="open", api_key_id="key-sales", body=json.dumps(converse_body()).encode())
    )
    next(first)  # an open stream holds its reservation
    before = gateway.tables.period_item("sales")
    response = gateway.handle(load_event("converse", body=converse_body()))
    assert response["statusCode"] == 429
    assert json.loads(response["body"])["error"]["code"] == "budget_exhausted"
    # Final (core/errors.FINAL_DENIALS): no Retry-After; the open stream's hold ends within its lifetime.
    assert "Retry-After" not in response["headers"]
    assert response["headers"]["x-should-retry"] == "false"
    error = json.loads(response["body"])["error"]
    assert error["resetInSeconds"] == gateway.service.settings.hold_lifetime_seconds
    assert response["headers"]["x-cost-sentry-budget-resets-at"] == error["resetsAt"]
    assert gateway.tables.period_item("sales") == before
    [*_, document] = gateway.emf()
    assert (document["RateLimitDenied"], document["RateLimitApproved"]) == (1, 0)
    list(first)


def test_rate_limit_429(gateway_factory):
    gateway = gateway_factory(tenant_document(limits={"requestsPerMinute": 1}))
    assert gateway.handle(load_event("converse", body=converse_body()))["statusCode"] == 200
    response = gateway.handle(load_event("converse", body=converse_body()))
    assert response["statusCode"] == 429
    assert json.loads(response["body"])["error"]["code"] == "rate_limited"
    assert response["headers"]["Retry-After"] == "30"


def test_a_crashed_request_is_charged_its_worst_case_by_the_sweep_at_expiry(gateway_factory):
    gateway = gateway_factory(tenant_document(budget={"limitUsd": "0.0002"}))
    crashed = gateway.service.stream(
        ApiCall(request_id="crashed", api_key_id="key-sales", body=json.dumps(converse_body()).encode())
    )
    next(crashed)  # reserved, then the function "dies": the generator is never resumed
    assert gateway.handle(load_event("converse", body=converse_body()))["statusCode"] == 429
    gateway.clock.advance(gateway.service.settings.hold_lifetime_seconds + 1)
    # Bedrock may have billed the dead request: the sweep spends its hold, it is never given back.
    assert gateway.service.ledger.sweep_expired("sales", gateway.clock.now) == 1
    item = gateway.tables.period_item("sales")
    assert holds(item) == []
    [record] = gateway.tables.call_records("sales")
    assert record["requestId"]["S"] == "crashed" and record["estimated"] == {"BOOL": True}
    assert int(item["spent_nanos"]["N"]) == int(record["cost_nanos"]["N"]) > 0
    assert int(item["available_nanos"]["N"]) == 200_000 - int(item["spent_nanos"]["N"])
    response = gateway.handle(load_event("converse", body=converse_body(), request_id="after"))
    assert response["statusCode"] == 429


def test_session_refused_before_reserving_changes_nothing(gateway_factory):
    from cost_sentry.core.errors import ServiceUnavailable

    class RefusingClients:
        def client_for(self, tenant: Any, user: str | None) -> Any:
            raise ServiceUnavailable("session_unavailable", "STS is down")

    gateway = gateway_factory()
    gateway.service.preparer.bedrock_clients = RefusingClients()
    response = gateway.handle(load_event("converse", body=converse_body()))
    assert response["statusCode"] == 503
    assert gateway.tables.period_item("sales") == {}


def test_an_unreadable_answer_is_charged_the_worst_case_not_dropped(gateway_factory):
    class NoUsage(FakeBedrock):
        def converse(self, **arguments: Any) -> dict[str, Any]:
            response = super().converse(**arguments)
            del response["usage"]
            return response

    gateway = gateway_factory(bedrock=NoUsage())
    response = gateway.handle(load_event("converse", body=converse_body()))
    assert response["statusCode"] == 502
    assert json.loads(response["body"])["error"]["code"] == "bedrock_bad_response"
    item = gateway.tables.period_item("sales")
    [record] = gateway.tables.call_records("sales")
    assert record["estimated"]["BOOL"] is True
    # (30 bytes + 16 + 64) x 250 + 100 x 1250: the reservation's worst case.
    assert int(item["spent_nanos"]["N"]) == int(record["cost_nanos"]["N"]) == 152_500
    assert holds(item) == []


def test_bedrock_access_denied_names_no_role_to_the_caller_and_logs_bedrocks_words(gateway_factory):
    role = "arn:aws:sts::111111111111:assumed-role/cost-sentry-sales-invoker/alice"
    denied = client_error(
        "AccessDeniedException", f"User: {role} is not authorized to perform bedrock:Converse"
    )
    gateway = gateway_factory(bedrock=FakeBedrock(error=denied))
    response = gateway.handle(load_event("converse", body=converse_body()))
    error = json.loads(response["body"])["error"]
    assert (response["statusCode"], error["code"]) == (403, "model_access_denied")
    assert "arn:" not in error["message"]
    [line] = [json.loads(text) for text in gateway.logs if '"request_id"' in text]
    assert any(role in warning for warning in line["warnings"])
