"""Encoder for the AWS event stream binary framing (``application/vnd.amazon.eventstream``).

Every frame: a 12-byte prelude (total length, headers length, CRC32 of those 8 bytes), the headers,
the payload, and a CRC32 of everything before it. Only string-valued headers (type 7) are needed for
Bedrock's ConverseStream, so that is all this encoder writes. botocore's ``EventStreamBuffer`` is the
decoder the tests hold it against. The gateway's Bedrock runtime surface and the Bedrock stand-in
(scripts/testbed/emulators) both write their streams with it.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping
from typing import Any

_STRING_HEADER_TYPE = 7
_PRELUDE_LENGTH = 12
_MESSAGE_CRC_LENGTH = 4


def encode_headers(headers: Mapping[str, str]) -> bytes:
    encoded = bytearray()
    for name, value in headers.items():
        name_bytes = name.encode("utf-8")
        value_bytes = value.encode("utf-8")
        if len(name_bytes) > 255:
            raise ValueError(f"event stream header name longer than 255 bytes: {name!r}")
        if len(value_bytes) > 0xFFFF:
            raise ValueError(f"event stream header value longer than 65535 bytes for {name!r}")
        encoded += struct.pack(">B", len(name_bytes)) + name_bytes
        encoded += struct.pack(">BH", _STRING_HEADER_TYPE, len(value_bytes)) + value_bytes
    return bytes(encoded)


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    header_bytes = encode_headers(headers)
    total_length = _PRELUDE_LENGTH + len(header_bytes) + len(payload) + _MESSAGE_CRC_LENGTH
    prelude = struct.pack(">II", total_length, len(header_bytes))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + header_bytes + payload
    return message + struct.pack(">I", zlib.crc32(message))


def encode_event(event_type: str, body: Mapping[str, Any]) -> bytes:
    """One event of a rest-json event stream: the payload is the event member's JSON."""
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return encode_message(headers, json.dumps(body, separators=(",", ":")).encode("utf-8"))


def encode_exception(exception_type: str, message: str) -> bytes:
    """A modelled exception inside the stream (e.g. ``modelStreamErrorException``)."""
    headers = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_message(headers, json.dumps({"message": message}).encode("utf-8"))
