"""A fake bedrock-runtime client: records calls, answers Converse/ConverseStream or raises on demand."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, ReadTimeoutError


def client_error(code: str, message: str = "injected", operation: str = "Converse") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def read_timeout() -> ReadTimeoutError:
    return ReadTimeoutError(endpoint_url="https://bedrock-runtime.us-east-1.amazonaws.com")


@dataclass
class FakeBedrock:
    reply: str = "Tags group costs."
    input_tokens: int = 20
    output_tokens: int = 7
    error: Exception | None = None
    # For ConverseStream: raise this after the first text delta (a stream broken midway).
    error_mid_stream: Exception | None = None
    # Simulated model latency, so concurrent requests overlap while their holds are outstanding.
    latency_seconds: float = 0.0
    calls: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _record(self, arguments: dict[str, Any]) -> None:
        with self._lock:
            self.calls.append(arguments)

    def converse(self, **arguments: Any) -> dict[str, Any]:
        self._record(arguments)
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        if self.error is not None:
            raise self.error
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": self.reply}]}},
            "stopReason": "end_turn",
            "usage": {
                "inputTokens": self.input_tokens,
                "outputTokens": self.output_tokens,
                "totalTokens": self.input_tokens + self.output_tokens,
            },
            "metrics": {"latencyMs": 5},
        }

    def converse_stream(self, **arguments: Any) -> dict[str, Any]:
        self._record(arguments)
        if self.error is not None:
            raise self.error
        return {"stream": self._events()}

    def _events(self) -> Iterator[dict[str, Any]]:
        yield {"messageStart": {"role": "assistant"}}
        words = self.reply.split(" ")
        for index, word in enumerate(words):
            text = word if index == 0 else " " + word
            yield {"contentBlockDelta": {"delta": {"text": text}, "contentBlockIndex": 0}}
            if self.error_mid_stream is not None:
                raise self.error_mid_stream
        yield {"contentBlockStop": {"contentBlockIndex": 0}}
        yield {"messageStop": {"stopReason": "end_turn"}}
        yield {
            "metadata": {
                "usage": {
                    "inputTokens": self.input_tokens,
                    "outputTokens": self.output_tokens,
                    "totalTokens": self.input_tokens + self.output_tokens,
                },
                "metrics": {"latencyMs": 5},
            }
        }


@dataclass
class FakeClients:
    """BedrockClients handing out the fake, recording who asked for which user."""

    client: Any
    users: list[str | None] = field(default_factory=list)

    def client_for(self, tenant: Any, user: str | None) -> Any:
        self.users.append(user)
        return self.client

    def principal_for(self, tenant: Any, user: str | None) -> str | None:
        return None
