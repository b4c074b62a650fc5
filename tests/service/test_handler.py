"""The Lambda handler end to end: API Gateway events in, proxy responses out, ledger on moto DynamoDB."""

from __future__ import annotations

import base64
import json

from tests.service.conftest import load_event, tenant_document
from tests.service.fakes import FakeBedrock

PROMPT = "What is a cost allocation tag?"


def sse_events(body: str) -> list[dict]:
    chunks = [chunk for chunk in body.split("\n\n") if chunk]
    assert all(chunk.startswith("data: ") for chunk in chunks)
    return [json.loads(chunk.removeprefix("data: ")) for chunk in chunks]


def test_converse_from_the_fixture_event(gateway_factory):
    gateway = gateway_factory(
        bedrock=FakeBedrock(reply="Tags group costs.", input_tokens=30, output_tokens=8)
    )
    event = load_event("converse", request_id="req-1")
    response = gateway.handle(event)

    assert response["statusCode"] == 200, response["body"]
    assert response["headers"]["Content-Type"] == "application/json"
    body = json.loads(response["body"])
    arn = tenant_document()["models"]["claude-3-haiku"]
    assert body["requestId"] == "req-1"
    assert body["output"] == {"text": "Tags group costs."}
    assert body["model"] == "claude-3-haiku"
    assert body["modelId"] == arn
    assert body["usage"] == {"inputTokens": 30, "outputTokens": 8, "totalTokens": 38}
    # 30 x 250 + 8 x 1250 nanos = 17500 nanos.
    assert body["cost"] == {"usd": "0.0000175", "basis": "settled"}
    assert body["budget"]["limitUsd"] == "0.50"
    assert body["budget"]["remainingUsd"] == "0.4999825"
    assert body["budget"]["period"] == "2026-11"
    tags = body["tags"]
    assert tags["applicationId"] == "sales-app" and tags["costCenter"] == "sales"
    assert tags["requestId"] == "req-1"
    assert tags["timestamp"] == "2026-11-22T12:00:30.000Z"
    assert tags["modelMetric"] == "saleshaiku"
    assert tags["user"] == "alice@example.com"

    # Bedrock was called with the tenant's profile ARN, the system prompt split out, max_tokens sent.
    [call] = gateway.bedrock.calls
    assert call["modelId"] == arn
    assert call["system"] == [{"text": "Answer in one sentence."}]
    assert call["messages"] == [{"role": "user", "content": [{"text": PROMPT}]}]
    assert call["inferenceConfig"] == {"maxTokens": 200, "temperature": 0.2}
    assert gateway.clients.users == ["alice@example.com"]

    item = gateway.tables.period_item("sales")
    assert int(item["spent_nanos"]["N"]) == 17_500
    assert int(item["available_nanos"]["N"]) == 500_000_000 - 17_500
    [record] = gateway.tables.call_records("sales")
    assert record["sk"]["S"] == "CALL#2026-11-22T12:00:30.000Z#req-1"
    assert record["user"]["S"] == "alice@example.com"
    assert record["apiKeyId"]["S"] == "key-sales"
    assert record["principal"]["S"] == ""  # the function's own role: no per-user session here
    assert record["modelId"]["S"] == arn
    assert int(record["cost_nanos"]["N"]) == 17_500


def test_one_emf_document_and_one_log_line_without_prompt_text(gateway_factory):
    gateway = gateway_factory()
    gateway.handle(load_event("converse"))
    [document] = gateway.emf()
    assert document["CostCenter"] == "sales" and document["Model"] == "claude-3-haiku"
    assert document["ModelId"] == "saleshaiku"
    assert (document["RateLimitApproved"], document["RateLimitDenied"], document["InvocationFailed"]) == (
        1,
        0,
        0,
    )
    assert document["InputTokens"] == 20
    [line] = gateway.logs
    log = json.loads(line)
    assert log["outcome"] == "succeeded" and log["status"] == 200
    assert log["tenant"] == "sales" and log["user"] == "alice@example.com"
    assert PROMPT not in line and "Tags group costs" not in line


def test_log_prompts_true_logs_prompt_and_completion(gateway_factory):
    gateway = gateway_factory(log_prompts=True)
    gateway.handle(load_event("converse"))
    log = json.loads(gateway.logs[0])
    assert log["prompt"][-1] == {"role": "user", "content": PROMPT}
    assert log["completion"] == "Tags group costs."


def test_stream_route_answers_server_sent_events(gateway_factory):
    gateway = gateway_factory(bedrock=FakeBedrock(reply="one two three", input_tokens=10, output_tokens=3))
    response = gateway.handle(load_event("converse_stream", request_id="req-s"))
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "text/event-stream"
    events = sse_events(response["body"])
    assert [e["text"] for e in events if e["type"] == "delta"] == ["one", " two", " three"]
    done = events[-1]
    assert done["type"] == "done"
    assert done["usage"] == {"inputTokens": 10, "outputTokens": 3, "totalTokens": 13}
    assert done["cost"]["usd"] == "0.00000625"  # 10 x 250 + 3 x 1250
    assert int(gateway.tables.period_item("sales")["spent_nanos"]["N"]) == 6_250
    assert len(gateway.tables.call_records("sales")) == 1


def test_stream_generator_yields_as_bedrock_sends(gateway_factory):
    from cost_sentry.service.results import ApiCall, Delta, Done

    gateway = gateway_factory(bedrock=FakeBedrock(reply="a b"))
    body = json.loads(load_event("converse")["body"])
    events = gateway.service.stream(
        ApiCall(request_id="g1", api_key_id="key-sales", body=json.dumps(body).encode())
    )
    first = next(event for event in events if isinstance(event, Delta))
    assert first.text == "a"
    # The reservation is outstanding while the stream is open.
    assert [k for k in gateway.tables.period_item("sales") if k.startswith("hold_")] == ["hold_g1"]
    rest = list(events)
    assert isinstance(rest[-1], Done) and rest[-1].cost.basis.value == "settled"
    assert [k for k in gateway.tables.period_item("sales") if k.startswith("hold_")] == []


def test_budget_route(gateway_factory):
    gateway = gateway_factory()
    gateway.handle(load_event("converse"))
    response = gateway.handle(load_event("budget"))
    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    assert body["tenantId"] == "sales"
    assert body["period"] == "2026-11" and body["periodType"] == "MONTHLY"
    assert body["limitUsd"] == "0.50"
    # 20 x 250 + 7 x 1250 = 13750 nanos.
    assert body["spentUsd"] == "0.00001375"
    assert body["remainingUsd"] == "0.49998625"
    assert body["requests"] == 1 and body["heldUsd"] == "0.00"
    # One EMF document per request: the budget read is told apart by its route property.
    budget_document = gateway.emf()[-1]
    assert budget_document["route"] == "budget"
    assert (budget_document["RateLimitApproved"], budget_document["InputTokens"]) == (0, 0)
    assert (budget_document["status"], budget_document["outcome"]) == (200, "succeeded")
    budget_log = json.loads(gateway.logs[-1])
    assert budget_log["route"] == "budget"
    assert (budget_log["status"], budget_log["outcome"]) == (200, "succeeded")


def test_base64_body(gateway_factory):
    gateway = gateway_factory()
    event = load_event("converse")
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True
    assert gateway.handle(event)["statusCode"] == 200


def test_unknown_route_and_wrong_method(gateway_factory):
    gateway = gateway_factory()
    missing = gateway.handle(load_event("converse", resource="/v1/nope", path="/v1/nope"))
    assert missing["statusCode"] == 404
    assert json.loads(missing["body"])["error"]["code"] == "not_found"
    wrong = gateway.handle(load_event("budget", httpMethod="POST"))
    assert wrong["statusCode"] == 405


def test_model_aliases_and_model_ids_resolve(gateway_factory):
    gateway = gateway_factory()
    for requested, expected in [
        ("fast", "nova-micro"),
        ("sales", "claude-3-haiku"),  # the cost center is an alias of the default model
        ("amazon.nova-micro-v1:0", "nova-micro"),
        (None, "claude-3-haiku"),
    ]:
        body = json.loads(load_event("converse")["body"])
        if requested is None:
            body.pop("model")
        else:
            body["model"] = requested
        response = gateway.handle(load_event("converse", body=body))
        assert response["statusCode"] == 200, response["body"]
        assert json.loads(response["body"])["model"] == expected


def test_top_k_goes_where_the_family_wants_it(gateway_factory):
    gateway = gateway_factory()
    for model, expected in [
        ("claude-3-haiku", {"top_k": 40}),
        ("nova-micro", {"inferenceConfig": {"topK": 40}}),
    ]:
        body = json.loads(load_event("converse")["body"])
        body["model"] = model
        body["prompt"]["parameters"]["top_k"] = 40
        assert gateway.handle(load_event("converse", body=body))["statusCode"] == 200
        assert gateway.bedrock.calls[-1]["additionalModelRequestFields"] == expected


def test_misconfigured_environment_answers_500_generically_and_logs_the_reason(monkeypatch, capsys):
    from cost_sentry.core.once import built_once
    from cost_sentry.handlers import gateway as module

    # A container that has not built its service yet (built_once keeps the first one built).
    monkeypatch.setattr(module, "_default_service", built_once(module._default_service.__wrapped__))
    monkeypatch.delenv("LEDGER_TABLE", raising=False)
    response = module.handler(load_event("converse"), None)
    assert response["statusCode"] == 500
    error = json.loads(response["body"])["error"]
    assert error["code"] == "gateway_misconfigured"
    assert "LEDGER_TABLE" not in error["message"] and "required" not in error["message"]
    [line] = [
        json.loads(text) for text in capsys.readouterr().out.splitlines() if "gateway_misconfigured" in text
    ]
    assert line["event"] == "gateway_misconfigured" and "LEDGER_TABLE" in line["error"]
