"""The service's guardrail rules (docs/design.md 7.2, section 8): it always asks Bedrock for the guardrail
trace, hands the trace to the surface only when the caller asked for it, settles tokens plus guardrail
units exactly, and charges the guardrail's worst case (estimated) when Bedrock reports no usage."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from cost_sentry.core.converse import parse_converse
from cost_sentry.core.errors import GatewayError
from cost_sentry.core.validation import parse_body
from cost_sentry.service.results import ApiCall, Done
from tests.service.fakes import FakeBedrock

GUARDRAIL = {"guardrailIdentifier": "gr-1", "guardrailVersion": "1"}
# claude-3-haiku: USD 0.25 / 1.25 per million tokens; guardrail content 0.15, topics 0.15 per 1,000 units.
INPUT, OUTPUT, CONTENT, TOPIC = 250, 1250, 150_000, 150_000
EVERY_POLICY = 150_000 + 150_000 + 100_000 + 100_000 + 2 * 170_000


def assessment(units: int) -> dict[str, Any]:
    usage = {"contentPolicyUnits": units, "topicPolicyUnits": units, "wordPolicyUnits": units}
    return {"invocationMetrics": {"usage": usage}}


@dataclass
class GuardedBedrock(FakeBedrock):
    """The fake, answering with a guardrail trace (2 input units, 1 per output assessment) when the
    request asks for one; ``with_usage=False``: the trace comes without invocationMetrics."""

    with_usage: bool = True

    def _trace(self, arguments: dict[str, Any], outputs: int) -> dict[str, Any] | None:
        if (arguments.get("guardrailConfig") or {}).get("trace") not in ("enabled", "enabled_full"):
            return None
        if not self.with_usage:
            return {"guardrail": {"inputAssessment": {"gr-1": {"contentPolicy": {}}}}}
        return {
            "guardrail": {
                "inputAssessment": {"gr-1": assessment(2)},
                "outputAssessments": {"gr-1": [assessment(1)] * outputs},
            },
            "promptRouter": {"invokedModelId": "m"},
        }

    def converse(self, **arguments: Any) -> dict[str, Any]:
        response = super().converse(**arguments)
        trace = self._trace(arguments, 1)
        if trace is not None:
            response["trace"] = trace
        return response

    def _events(self):  # type: ignore[override]
        trace = self._trace(self.calls[-1], len(self.reply.split(" ")))
        for event in super()._events():
            if "metadata" in event and trace is not None:
                event["metadata"]["trace"] = trace
            yield event


def api_call(body: dict[str, Any], route: str = "bedrock-converse") -> ApiCall:
    def parser(raw: bytes, max_bytes: int):
        return parse_converse(parse_body(raw, max_bytes), "claude-3-haiku")

    return ApiCall(
        request_id=f"req-{uuid.uuid4()}",
        api_key_id="key-sales",
        body=json.dumps(body).encode(),
        route=route,
        parser=parser,
    )


def converse_body(**guardrail: Any) -> dict[str, Any]:
    return {
        "messages": [{"role": "user", "content": [{"text": "hello"}]}],
        "inferenceConfig": {"maxTokens": 50},
        "guardrailConfig": {**GUARDRAIL, **guardrail},
    }


def test_the_trace_is_asked_for_priced_and_not_shown_to_a_caller_who_did_not_ask(gateway_factory) -> None:
    fake = GuardedBedrock(input_tokens=12, output_tokens=4)
    gateway = gateway_factory(bedrock=fake)
    result = gateway.service.converse(api_call(converse_body()))
    assert fake.calls[-1]["guardrailConfig"] == {**GUARDRAIL, "trace": "enabled"}
    # The guardrail part is the gateway's; any other trace (a prompt router's) stays the caller's.
    assert result.trace == {"promptRouter": {"invokedModelId": "m"}}
    expected = 12 * INPUT + 4 * OUTPUT + 3 * CONTENT + 3 * TOPIC  # word filters are free
    assert result.cost.cost_nanos == expected
    [record] = gateway.tables.call_records("sales")
    assert int(record["cost_nanos"]["N"]) == expected
    assert "estimated" not in record or record["estimated"]["BOOL"] is False


def test_a_caller_who_asked_for_the_trace_gets_all_of_it(gateway_factory) -> None:
    fake = GuardedBedrock(input_tokens=12, output_tokens=4)
    gateway = gateway_factory(bedrock=fake)
    result = gateway.service.converse(api_call(converse_body(trace="enabled_full")))
    assert fake.calls[-1]["guardrailConfig"]["trace"] == "enabled_full"
    assert result.trace["guardrail"]["inputAssessment"]["gr-1"] == assessment(2)


def test_a_stream_hands_the_trace_on_only_when_asked_and_prices_each_output_assessment(
    gateway_factory,
) -> None:
    fake = GuardedBedrock(reply="one two three", input_tokens=5, output_tokens=3)
    gateway = gateway_factory(bedrock=fake)
    expected = 5 * INPUT + 3 * OUTPUT + (2 + 3) * (CONTENT + TOPIC)  # three streamed chunks assessed
    for guardrail, shown in (({}, False), ({"trace": "enabled"}, True)):
        events = list(gateway.service.stream(api_call(converse_body(**guardrail), "bedrock-converse-stream")))
        [done] = [event for event in events if isinstance(event, Done)]
        assert ("guardrail" in (done.trace or {})) is shown
        assert done.cost.cost_nanos == expected


def test_no_guardrail_usage_charges_the_guardrails_worst_case_marked_estimated(gateway_factory) -> None:
    fake = GuardedBedrock(input_tokens=12, output_tokens=4, with_usage=False)
    gateway = gateway_factory(bedrock=fake)
    result = gateway.service.converse(api_call(converse_body()))
    # 1 input unit ("hello"), ceil(50 x 32 / 1000) = 2 output units, each at every policy's rate.
    expected = 12 * INPUT + 4 * OUTPUT + (1 + 2) * EVERY_POLICY
    [record] = gateway.tables.call_records("sales")
    assert int(record["cost_nanos"]["N"]) == expected
    assert record["estimated"]["BOOL"] is True
    # The answer says so too (README, "Cost on every answer"): the same cost, its basis estimated.
    assert (result.cost.cost_nanos, result.cost.basis.value) == (expected, "estimated")


def test_stream_processing_mode_on_converse_is_refused_before_anything_is_reserved(gateway_factory) -> None:
    fake = GuardedBedrock()
    gateway = gateway_factory(bedrock=fake)
    with pytest.raises(GatewayError) as refused:
        gateway.service.converse(api_call(converse_body(streamProcessingMode="async")))
    assert refused.value.status == 400
    assert "ConverseStream only" in refused.value.message
    assert fake.calls == [] and gateway.tables.call_records("sales") == []
    assert "hold_" not in json.dumps(gateway.tables.period_item("sales"))
