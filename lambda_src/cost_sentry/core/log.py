"""One structured JSON line per request. Prompt and completion text only when LOG_PROMPTS=true."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

Sink = Callable[[str], None]


def stdout_sink(line: str) -> None:
    print(line, flush=True)


@dataclass
class RequestLog:
    request_id: str
    route: str
    tenant: str | None = None
    user: str | None = None
    outcome: str = "error"
    status: int = 500
    code: str | None = None
    model: str | None = None
    model_id: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: str = "0.00"
    reserved_usd: str | None = None
    latency_ms: int = 0
    warnings: list[str] = field(default_factory=list)
    prompt: list[dict[str, str]] | None = None
    completion: str | None = None


class RequestLogger:
    def __init__(self, log_prompts: bool, sink: Sink = stdout_sink) -> None:
        self.log_prompts = log_prompts
        self._sink = sink

    def write(self, record: RequestLog) -> None:
        document: dict[str, Any] = {"level": "ERROR" if record.status >= 500 else "INFO", **asdict(record)}
        if not self.log_prompts:
            document.pop("prompt")
            document.pop("completion")
        self._sink(json.dumps(document, separators=(",", ":")))

    def warn(self, event: str, **fields: Any) -> None:
        self._sink(json.dumps({"level": "WARNING", "event": event, **fields}, default=str))
