"""The surfaces are one table (surfaces/router.SURFACES) served by one serve() (surfaces/surface.py):
a path belongs to exactly one entry, and what serve() does for a stream is the same for every entry:
a failure before the first event the wire shows is answered with its own status; after it, with the
wire's own error event inside the 200 stream."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.eventstream import EventStreamBuffer

from cost_sentry.surfaces import anthropic, bedrock_runtime, json_api, openai
from cost_sentry.surfaces.router import SURFACES, surface_for
from tests.service.conftest import converse_body, load_event
from tests.service.fakes import FakeBedrock, client_error


@pytest.mark.parametrize(
    ("path", "surface"),
    [
        ("/model/claude-3-haiku/converse", bedrock_runtime.SURFACE),
        (
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Aapplication-inference-profile%2Fp/invoke",
            bedrock_runtime.SURFACE,
        ),
        ("/v1/chat/completions", openai.SURFACE),
        ("/v1/models", openai.SURFACE),
        ("/v1/messages", anthropic.SURFACE),
        ("/v1/converse", json_api.SURFACE),
        ("/v1/budget", json_api.SURFACE),
        ("/v1/nothing-here", json_api.SURFACE),  # the JSON API's 404
    ],
)
def test_every_path_belongs_to_one_entry(path: str, surface: Any) -> None:
    assert surface_for(path) is surface
    assert [entry for entry in SURFACES[:-1] if entry.owns(path)] in ([], [surface])


class BreaksAfterMessageStart(FakeBedrock):
    """ConverseStream opens (HTTP 200 from Bedrock), sends messageStart, then breaks before any text."""

    def _events(self) -> Iterator[dict[str, Any]]:
        yield {"messageStart": {"role": "assistant"}}
        raise client_error("ModelStreamErrorException")


def test_a_break_before_the_first_event_the_wire_shows_is_answered_with_its_status(gateway_factory):
    # The JSON API shows text deltas only: nothing had been sent, so the answer is the error's own.
    gateway = gateway_factory(bedrock=BreaksAfterMessageStart())
    response = gateway.handle(load_event("converse_stream", body=converse_body()))
    assert response["statusCode"] == 502
    assert json.loads(response["body"])["error"]["code"] == "bedrock_failed"
    # The stream had opened: the model was admitted, so its worst case is charged (core/outcomes.py).
    [record] = gateway.tables.call_records("sales")
    assert record["estimated"]["BOOL"] is True
    assert [name for name in gateway.tables.period_item("sales") if name.startswith("hold_")] == []
    [document] = gateway.emf()
    assert (document["outcome"], document["callEnd"]) == ("failed", "stream_broken_before_content")


def test_after_the_first_shown_event_a_break_is_the_wires_own_error_event(gateway_factory):
    # Bedrock's ConverseStream shows messageStart: the 200 has gone, the break is an exception frame.
    gateway = gateway_factory(bedrock=BreaksAfterMessageStart())
    event = load_event("converse", body={"messages": [{"role": "user", "content": [{"text": "hi"}]}]})
    path = "/model/claude-3-haiku/converse-stream"
    event.update({"path": path, "resource": path})
    response = gateway.handle(event)
    assert response["statusCode"] == 200
    buffer = EventStreamBuffer()
    buffer.add_data(base64.b64decode(response["body"]))
    frames = [
        (m.headers[":message-type"], m.headers.get(":event-type") or m.headers.get(":exception-type"))
        for m in buffer
    ]
    assert frames == [("event", "messageStart"), ("exception", "internalServerException")]
    [record] = gateway.tables.call_records("sales")
    assert record["estimated"]["BOOL"] is True
