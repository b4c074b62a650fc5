"""Cost on every answer: every surface's successful model answer, buffered and streamed, says what the
call cost (exactly the ledger's call record) and what is left of the tenant's (and the user's) budget.

Buffered answers carry it in headers; a stream's headers leave before the cost is known, so they carry
the worst case held and what is left with it held, and the stream's final event carries the settled
figures (surfaces/http.py renders both for every surface). Through the Lambda proxy handler, with the
ledger in moto; the real SDKs read the same over HTTP in tests/integration/test_sdk_cost_headers.py.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from botocore.eventstream import EventStreamBuffer

from tests.service.conftest import converse_body, load_event, tenant_document
from tests.service.fakes import FakeBedrock

LIMIT_NANOS = 500_000_000  # tenant_document's USD 0.50
USER_LIMIT_NANOS = 200_000  # USD 0.0002 per user
HELLO = [{"role": "user", "content": [{"text": "hello"}]}]


def nanos(usd: str) -> int:
    value = Decimal(usd) * 1_000_000_000
    assert value == value.to_integral_value(), f"{usd} is not whole nano-dollars"
    return int(value)


def sse_data(body: str) -> list[dict[str, Any]]:
    return [
        json.loads(line[len("data: ") :])
        for line in body.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]


def frames(response: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    buffer = EventStreamBuffer()
    buffer.add_data(base64.b64decode(response["body"]))
    return [(message.headers[":event-type"], json.loads(message.payload)) for message in buffer]


def chunks(response: dict[str, Any]) -> list[dict[str, Any]]:
    """InvokeModelWithResponseStream's chunk events, their bytes decoded."""
    return [json.loads(base64.b64decode(body["bytes"])) for name, body in frames(response) if name == "chunk"]


# -- each surface's final stream event, read back as the camelCase member -----------------------------


def native_final(response: dict[str, Any]) -> dict[str, Any]:
    done = sse_data(response["body"])[-1]
    assert done["type"] == "done"
    member = {
        "costUsd": done["cost"]["usd"],
        "costBasis": done["cost"]["basis"],
        "remainingUsd": done["budget"]["remainingUsd"],
        "budgetPeriod": done["budget"]["period"],
    }
    if "userRemainingUsd" in done["budget"]:
        member["userRemainingUsd"] = done["budget"]["userRemainingUsd"]
    return member


def camel(member: dict[str, Any]) -> dict[str, Any]:
    def name(snake: str) -> str:
        head, *rest = snake.split("_")
        return head + "".join(part.title() for part in rest)

    return {name(key): value for key, value in member.items()}


def converse_stream_final(response: dict[str, Any]) -> dict[str, Any]:
    [metadata] = [body for name, body in frames(response) if name == "metadata"]
    return metadata["costSentry"]


def invoke_anthropic_final(response: dict[str, Any]) -> dict[str, Any]:
    [delta] = [c for c in chunks(response) if c["type"] == "message_delta"]
    return camel(delta["usage"]["cost_sentry"])


def invoke_nova_final(response: dict[str, Any]) -> dict[str, Any]:
    [last] = [c for c in chunks(response) if "metadata" in c]
    return last["metadata"]["costSentry"]


def openai_final(response: dict[str, Any]) -> dict[str, Any]:
    return camel(sse_data(response["body"])[-1]["cost_sentry"])


def anthropic_final(response: dict[str, Any]) -> dict[str, Any]:
    [delta] = [e for e in sse_data(response["body"]) if e["type"] == "message_delta"]
    return camel(delta["usage"]["cost_sentry"])


ANTHROPIC_BODY = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 50,
    "messages": [{"role": "user", "content": "hello"}],
}
NOVA_BODY = {"schemaVersion": "messages-v1", "messages": HELLO, "inferenceConfig": {"max_new_tokens": 50}}
CHAT = {"model": "claude-3-haiku", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 50}
MESSAGES = {"model": "claude-3-haiku", "max_tokens": 50, "messages": [{"role": "user", "content": "hello"}]}

# (path, body) of each buffered route
BUFFERED = {
    "json-api": ("/v1/converse", converse_body()),
    "bedrock-converse": (
        "/model/claude-3-haiku/converse",
        {"messages": HELLO, "inferenceConfig": {"maxTokens": 50}},
    ),
    "bedrock-invoke-anthropic": ("/model/claude-3-haiku/invoke", ANTHROPIC_BODY),
    "bedrock-invoke-nova": ("/model/nova-micro/invoke", NOVA_BODY),
    "openai": ("/v1/chat/completions", CHAT),
    "anthropic": ("/v1/messages", MESSAGES),
}
# (path, body, how the final event's member is read) of each streamed route
StreamCase = tuple[str, dict[str, Any], Callable[[dict[str, Any]], dict[str, Any]]]
STREAMED: dict[str, StreamCase] = {
    "json-api": ("/v1/converse-stream", converse_body(), native_final),
    "bedrock-converse-stream": (
        "/model/claude-3-haiku/converse-stream",
        {"messages": HELLO},
        converse_stream_final,
    ),
    "bedrock-invoke-stream-anthropic": (
        "/model/claude-3-haiku/invoke-with-response-stream",
        ANTHROPIC_BODY,
        invoke_anthropic_final,
    ),
    "bedrock-invoke-stream-nova": (
        "/model/nova-micro/invoke-with-response-stream",
        NOVA_BODY,
        invoke_nova_final,
    ),
    "openai-with-usage": (
        "/v1/chat/completions",
        {**CHAT, "stream": True, "stream_options": {"include_usage": True}},
        openai_final,
    ),
    "openai-without-usage": ("/v1/chat/completions", {**CHAT, "stream": True}, openai_final),
    "anthropic": ("/v1/messages", {**MESSAGES, "stream": True}, anthropic_final),
}


def surface_event(
    path: str, body: dict[str, Any], request_id: str, user: str | None = None
) -> dict[str, Any]:
    event = load_event("converse", body=body, request_id=request_id, user=user)
    event.update({"path": path, "resource": path})
    return event


def recorded_cost(gateway: Any, request_id: str) -> tuple[int, bool]:
    [record] = [r for r in gateway.tables.call_records("sales") if r["requestId"]["S"] == request_id]
    return int(record["cost_nanos"]["N"]), "estimated" in record


def one_shard(**overrides: Any) -> dict[str, Any]:
    # One shard: the remaining figure is then the tenant's exact remaining budget, checkable here.
    return tenant_document(ledger={"shards": 1}, **overrides)


@pytest.mark.parametrize("surface", BUFFERED)
def test_a_buffered_answer_says_its_settled_cost_and_the_remaining_budget(gateway_factory, surface):
    gateway = gateway_factory(one_shard(), bedrock=FakeBedrock(reply="Hi.", input_tokens=12, output_tokens=4))
    path, body = BUFFERED[surface]
    response = gateway.handle(surface_event(path, body, "req-b"))

    assert response["statusCode"] == 200, response["body"]
    headers = response["headers"]
    cost, estimated = recorded_cost(gateway, "req-b")
    assert not estimated
    assert nanos(headers["x-cost-sentry-cost-usd"]) == cost > 0  # exactly the ledger's call record
    assert headers["x-cost-sentry-cost-basis"] == "settled"
    assert nanos(headers["x-cost-sentry-remaining-usd"]) == LIMIT_NANOS - cost
    assert int(gateway.tables.period_item("sales")["available_nanos"]["N"]) == LIMIT_NANOS - cost
    assert headers["x-cost-sentry-budget-period"] == "2026-11"
    # No per-user budget applies to alice here, so no user figure; nothing a stream would say either.
    assert "x-cost-sentry-user-remaining-usd" not in headers
    assert "x-cost-sentry-held-usd" not in headers


@pytest.mark.parametrize("surface", STREAMED)
def test_a_stream_says_the_hold_in_its_headers_and_the_settled_cost_in_its_final_event(
    gateway_factory, surface
):
    gateway = gateway_factory(
        one_shard(), bedrock=FakeBedrock(reply="one two", input_tokens=10, output_tokens=3)
    )
    path, body, final = STREAMED[surface]
    response = gateway.handle(surface_event(path, body, "req-s"))

    assert response["statusCode"] == 200, response["body"]
    headers = response["headers"]
    cost, _ = recorded_cost(gateway, "req-s")
    held = nanos(headers["x-cost-sentry-held-usd"])
    assert held > cost > 0  # the worst case, sent before the call
    assert nanos(headers["x-cost-sentry-remaining-after-hold-usd"]) == LIMIT_NANOS - held
    assert headers["x-cost-sentry-budget-period"] == "2026-11"
    assert "x-cost-sentry-cost-usd" not in headers  # not known when the headers left
    assert final(response) == {
        "costUsd": headers_usd(cost),
        "costBasis": "settled",
        "remainingUsd": headers_usd(LIMIT_NANOS - cost),
        "budgetPeriod": "2026-11",
    }


def headers_usd(value: int) -> str:
    from cost_sentry.core.money import nanos_to_usd

    return nanos_to_usd(value)


def test_a_user_with_a_budget_gets_their_own_remaining_buffered_and_streamed(gateway_factory):
    gateway = gateway_factory(
        one_shard(users={"defaultLimitUsd": "0.0002"}),
        bedrock=FakeBedrock(reply="one two", input_tokens=10, output_tokens=3),
    )
    path, body = BUFFERED["openai"]
    first = gateway.handle(surface_event(path, body, "req-u1", user="alice"))
    first_cost, _ = recorded_cost(gateway, "req-u1")
    assert nanos(first["headers"]["x-cost-sentry-user-remaining-usd"]) == USER_LIMIT_NANOS - first_cost

    path, body, final = STREAMED["anthropic"]
    second = gateway.handle(surface_event(path, body, "req-u2", user="alice"))
    assert second["statusCode"] == 200, second["body"]
    second_cost, _ = recorded_cost(gateway, "req-u2")
    held = nanos(second["headers"]["x-cost-sentry-held-usd"])
    left_after_hold = nanos(second["headers"]["x-cost-sentry-user-remaining-after-hold-usd"])
    assert left_after_hold == USER_LIMIT_NANOS - first_cost - held
    assert final(second)["userRemainingUsd"] == headers_usd(USER_LIMIT_NANOS - first_cost - second_cost)
    [user_item] = [
        item for item in gateway.tables.ledger_items("sales") if item["sk"]["S"].startswith("USER#")
    ]
    assert int(user_item["available_nanos"]["N"]) == USER_LIMIT_NANOS - first_cost - second_cost

    # Another user of the tenant has their own budget, untouched by alice's calls.
    path, body = BUFFERED["bedrock-converse"]
    bob = gateway.handle(surface_event(path, body, "req-u3", user="bob"))
    bob_cost, _ = recorded_cost(gateway, "req-u3")
    assert nanos(bob["headers"]["x-cost-sentry-user-remaining-usd"]) == USER_LIMIT_NANOS - bob_cost


def test_a_settle_that_failed_says_the_worst_case_the_sweep_will_charge(gateway_factory):
    gateway = gateway_factory(one_shard())
    gateway.service.config_store.directory()

    def failing_settle(reservation: Any, record: Any) -> Any:
        raise RuntimeError("ledger write refused")

    gateway.service.ledger.settle = failing_settle  # this service's own ledger object, not a global
    path, body = BUFFERED["bedrock-converse"]
    response = gateway.handle(surface_event(path, body, "req-f"))

    assert response["statusCode"] == 200  # Bedrock answered: the caller gets the answer
    headers = response["headers"]
    hold = gateway.tables.period_item("sales")["hold_req-f"]["M"]
    assert headers["x-cost-sentry-cost-basis"] == "held"
    assert nanos(headers["x-cost-sentry-cost-usd"]) == int(hold["nanos"]["N"])
    assert nanos(headers["x-cost-sentry-remaining-usd"]) == LIMIT_NANOS - int(hold["nanos"]["N"])
    assert gateway.tables.call_records("sales") == []  # the sweep writes it at the hold's expiry


def test_other_routes_and_errors_carry_no_cost_headers(gateway_factory):
    gateway = gateway_factory(one_shard())
    path, _ = BUFFERED["openai"]
    refused = gateway.handle(surface_event(path, {"model": "claude-3-haiku", "messages": []}, "req-e"))
    assert refused["statusCode"] == 400
    models = gateway.handle(surface_event("/v1/models", {}, "req-m") | {"httpMethod": "GET", "body": None})
    assert models["statusCode"] == 200
    for response in (refused, models):
        assert not [name for name in response["headers"] if name.startswith("x-cost-sentry-")]


def test_a_call_the_sweep_charged_before_it_settled_says_the_sweeps_worst_case(gateway_factory):
    gateway_holder: list[Any] = []

    class SlowBedrock(FakeBedrock):
        """Answers only after the hold expired and the sweep charged it (a call slower than its hold)."""

        def converse(self, **arguments: Any) -> dict[str, Any]:
            gateway = gateway_holder[0]
            gateway.clock.advance(gateway.service.settings.hold_lifetime_seconds + 1)
            assert gateway.service.ledger.sweep_expired("sales", gateway.clock.now) == 1
            return super().converse(**arguments)

    gateway = gateway_factory(one_shard(), bedrock=SlowBedrock(input_tokens=12, output_tokens=4))
    gateway_holder.append(gateway)
    path, body = BUFFERED["bedrock-converse"]
    response = gateway.handle(surface_event(path, body, "req-w"))

    assert response["statusCode"] == 200, response["body"]
    headers = response["headers"]
    cost, estimated = recorded_cost(gateway, "req-w")  # the sweep's record, at the worst case
    assert estimated and cost > 12 * 250 + 4 * 1250
    assert nanos(headers["x-cost-sentry-cost-usd"]) == cost
    assert headers["x-cost-sentry-cost-basis"] == "estimated"
    assert nanos(headers["x-cost-sentry-remaining-usd"]) == LIMIT_NANOS - cost
