"""The event stream encoder, held against botocore's own decoder."""

from __future__ import annotations

import json

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer

from scripts.testbed.emulators.eventstream import encode_event, encode_exception, encode_message


def decode_all(data: bytes) -> list:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


def test_an_event_frame_decodes_with_its_headers_and_payload() -> None:
    [message] = decode_all(encode_event("contentBlockDelta", {"delta": {"text": "héllo"}}))

    assert message.headers == {
        ":event-type": "contentBlockDelta",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert json.loads(message.payload) == {"delta": {"text": "héllo"}}


def test_frames_concatenate_into_a_stream() -> None:
    data = encode_event("messageStart", {"role": "assistant"}) + encode_exception(
        "throttlingException", "slow"
    )

    first, second = decode_all(data)

    assert first.headers[":event-type"] == "messageStart"
    assert second.headers[":message-type"] == "exception"
    assert second.headers[":exception-type"] == "throttlingException"
    assert json.loads(second.payload) == {"message": "slow"}


def test_a_corrupted_payload_fails_the_message_checksum() -> None:
    frame = bytearray(encode_message({":event-type": "x"}, b'{"a":1}'))
    frame[-6] ^= 0xFF  # a payload byte, so only the trailing message CRC can notice

    with pytest.raises(ChecksumMismatch):
        decode_all(bytes(frame))


def test_an_oversized_header_name_is_refused() -> None:
    with pytest.raises(ValueError, match="longer than 255"):
        encode_message({"x" * 256: "v"}, b"")
