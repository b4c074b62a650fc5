"""The one logging path of every function: JSON lines in the shape of AWS Lambda Powertools' logger.

Every line carries ``level``, ``message``, ``timestamp``, ``service``, ``cold_start``,
``function_name``, ``function_request_id`` (the Lambda request id) and ``correlation_id`` (the
gateway's request id, the one its callers see in ``X-Request-Id``), plus the event's own fields.
The handlers call ``start_invocation`` once per invocation; the invocation's ids are per thread, so
concurrent requests of the local stack never mix. The request log line carries prompt and completion
text only when LOG_PROMPTS=true.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from cost_sentry.core.once import built_once

Sink = Callable[[str], None]
LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}


def stdout_sink(line: str) -> None:
    print(line, flush=True)


class _Invocation(threading.local):
    function_request_id: str | None = None
    function_name: str | None = None
    correlation_id: str | None = None
    cold_start: bool | None = None


class JsonLogger:
    """Writes one JSON document per event to ``sink`` (stdout: CloudWatch Logs on Lambda)."""

    def __init__(
        self, service: str | None = None, sink: Sink = stdout_sink, clock: Callable[[], float] = time.time
    ) -> None:
        self.service = (
            service
            or os.environ.get("POWERTOOLS_SERVICE_NAME")
            or os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
            or "cost-sentry"
        )
        self._sink = sink
        self._clock = clock
        # Powertools' setting, else Lambda's own log level, else INFO: lines below it are not written.
        level = (
            os.environ.get("POWERTOOLS_LOG_LEVEL") or os.environ.get("AWS_LAMBDA_LOG_LEVEL") or "INFO"
        ).upper()
        self._threshold = LEVELS.get(level, LEVELS["INFO"])
        self._invocation = _Invocation()
        self._cold = True
        self._lock = threading.Lock()

    def start_invocation(self, context: Any, correlation_id: str | None = None) -> None:
        """Called by a handler as an invocation starts: the first one of the process is the cold start."""
        with self._lock:
            cold, self._cold = self._cold, False
        invocation = self._invocation
        invocation.cold_start = cold
        invocation.function_request_id = getattr(context, "aws_request_id", None)
        invocation.function_name = getattr(context, "function_name", None)
        invocation.correlation_id = correlation_id

    def set_correlation_id(self, correlation_id: str | None) -> None:
        self._invocation.correlation_id = correlation_id

    def log(self, level: str, message: str, **fields: Any) -> None:
        if LEVELS.get(level, LEVELS["ERROR"]) < self._threshold:
            return
        invocation = self._invocation
        moment = datetime.fromtimestamp(self._clock(), UTC)
        document: dict[str, Any] = {
            "level": level,
            "message": message,
            "timestamp": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "service": self.service,
            "cold_start": invocation.cold_start,
            "function_name": invocation.function_name,
            "function_request_id": invocation.function_request_id,
            "correlation_id": fields.pop("correlation_id", None) or invocation.correlation_id,
            **fields,
        }
        self._sink(json.dumps(document, separators=(",", ":"), default=str))

    def debug(self, message: str, **fields: Any) -> None:
        self.log("DEBUG", message, **fields)

    def info(self, message: str, **fields: Any) -> None:
        self.log("INFO", message, **fields)

    def warning(self, message: str, **fields: Any) -> None:
        self.log("WARNING", message, **fields)

    def error(self, message: str, **fields: Any) -> None:
        self.log("ERROR", message, **fields)

    def exception(self, message: str, **fields: Any) -> None:
        """An ERROR line with the exception being handled (its traceback in ``exception``)."""
        import traceback

        self.log("ERROR", message, exception=traceback.format_exc(), **fields)


@built_once
def default_logger() -> JsonLogger:
    """The process's logger on stdout, created on first use (one per function container)."""
    return JsonLogger()


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
    """The gateway's request log line (message ``request``), written through the one JSON logger."""

    def __init__(self, log_prompts: bool, sink: Sink | None = None, logger: JsonLogger | None = None) -> None:
        self.log_prompts = log_prompts
        if logger is None:
            logger = default_logger() if sink is None or sink is stdout_sink else JsonLogger(sink=sink)
        self.logger = logger

    def write(self, record: RequestLog) -> None:
        fields: dict[str, Any] = asdict(record)
        if not self.log_prompts:
            fields.pop("prompt")
            fields.pop("completion")
        level = "ERROR" if record.status >= 500 else "INFO"
        self.logger.log(level, "request", correlation_id=record.request_id, **fields)

    def warn(self, event: str, **fields: Any) -> None:
        self.logger.warning(event, event=event, correlation_id=fields.get("requestId"), **fields)
