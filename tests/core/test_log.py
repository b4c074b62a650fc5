"""core/log.py: the one JSON logging path (Powertools' shape) of every function."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

from cost_sentry.core.log import JsonLogger, RequestLog, RequestLogger


@dataclass
class Context:
    aws_request_id: str
    function_name: str = "cost-sentry-gateway"


def test_lines_carry_the_powertools_keys_the_lambda_request_id_and_the_cold_start() -> None:
    lines: list[str] = []
    logger = JsonLogger(service="gateway", sink=lines.append, clock=lambda: 1_764_547_200.5)

    logger.start_invocation(Context("lambda-1"), correlation_id="req-1")
    logger.warning("config_refresh_failed", error="boom")
    logger.start_invocation(Context("lambda-2"))
    logger.info("second")

    first, second = (json.loads(line) for line in lines)
    assert first == {
        "level": "WARNING",
        "message": "config_refresh_failed",
        "timestamp": "2025-12-01T00:00:00.500Z",
        "service": "gateway",
        "cold_start": True,
        "function_name": "cost-sentry-gateway",
        "function_request_id": "lambda-1",
        "correlation_id": "req-1",
        "error": "boom",
    }
    assert (second["cold_start"], second["function_request_id"], second["correlation_id"]) == (
        False,
        "lambda-2",
        None,
    )


def test_the_request_line_is_correlated_by_the_gateways_request_id_and_has_no_prompt_by_default() -> None:
    lines: list[str] = []
    logger = JsonLogger(service="gateway", sink=lines.append)
    logger.start_invocation(Context("lambda-1"))
    record = RequestLog(request_id="req-9", route="converse", status=200, outcome="ok", prompt=[{"a": "b"}])

    RequestLogger(log_prompts=False, logger=logger).write(record)
    RequestLogger(log_prompts=True, logger=logger).write(record)

    quiet, verbose = (json.loads(line) for line in lines)
    assert (quiet["message"], quiet["level"], quiet["correlation_id"]) == ("request", "INFO", "req-9")
    assert quiet["function_request_id"] == "lambda-1"
    assert "prompt" not in quiet and "completion" not in quiet
    assert verbose["prompt"] == [{"a": "b"}]


def test_concurrent_invocations_keep_their_own_ids() -> None:
    lines: list[str] = []
    logger = JsonLogger(service="gateway", sink=lines.append)
    barrier = threading.Barrier(2)

    def invoke(name: str) -> None:
        logger.start_invocation(Context(f"lambda-{name}"), correlation_id=f"req-{name}")
        barrier.wait()
        logger.info("work")

    threads = [threading.Thread(target=invoke, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    pairs = {(doc["function_request_id"], doc["correlation_id"]) for doc in map(json.loads, lines)}
    assert pairs == {("lambda-a", "req-a"), ("lambda-b", "req-b")}


def test_no_module_logs_or_prints_past_the_one_path() -> None:
    """Every line a function writes goes through core/log.py (logs) or core/metrics.py (EMF)."""
    import re
    from pathlib import Path

    package = Path(__file__).resolve().parents[2] / "lambda_src" / "cost_sentry"
    offenders = [
        f"{path.relative_to(package)}:{number}"
        for path in package.rglob("*.py")
        # Vendored third-party code (cost_sentry/_vendor) is not ours to route; jwt.help is never imported.
        if "_vendor" not in path.parts
        if path.name not in {"log.py", "metrics.py"} or path.parent.name != "core"
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"^\s*(import logging|from logging |print\()|logging\.getLogger", text)
    ]
    assert offenders == []


def test_lines_below_the_configured_level_are_not_written(monkeypatch) -> None:
    lines: list[str] = []
    JsonLogger(sink=lines.append).debug("session_opened")  # INFO by default, as Powertools
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "debug")
    JsonLogger(sink=lines.append).debug("session_opened")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "ERROR")
    JsonLogger(sink=lines.append).warning("quiet")
    assert [json.loads(line)["level"] for line in lines] == ["DEBUG"]
