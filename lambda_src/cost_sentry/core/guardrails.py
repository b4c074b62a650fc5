"""Guardrail settings on the way to Bedrock and its trace on the way back (docs/design.md 7.2). Pure.

Bedrock reports what a guardrail evaluated (the text units per policy that it bills) only inside the
guardrail trace, so the gateway always asks for it (``trace: enabled`` unless the caller asked for
more) and gives the caller the trace only when the caller asked for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cost_sentry.core.errors import BadRequest

TRACE_VALUES = ("enabled", "disabled", "enabled_full")
TRACE_SHOWN = ("enabled", "enabled_full")
STREAM_PROCESSING_MODES = ("sync", "async")


def check_guardrail_config(config: Mapping[str, Any], stream: bool) -> None:
    """Refuse, before anything is reserved, what Bedrock or its SDK would refuse after the call left."""
    trace = config.get("trace")
    if trace is not None and trace not in TRACE_VALUES:
        raise BadRequest(
            "invalid_field", f"guardrailConfig.trace must be one of {', '.join(TRACE_VALUES)}, not {trace!r}"
        )
    mode = config.get("streamProcessingMode")
    if mode is None:
        return
    if not stream:
        raise BadRequest(
            "invalid_field",
            "guardrailConfig.streamProcessingMode applies to ConverseStream only: remove it from Converse",
        )
    if mode not in STREAM_PROCESSING_MODES:
        raise BadRequest(
            "invalid_field",
            f"guardrailConfig.streamProcessingMode must be sync or async, not {mode!r}",
        )


def caller_wants_trace(config: Mapping[str, Any] | None) -> bool:
    return config is not None and config.get("trace") in TRACE_SHOWN


def traced(config: Mapping[str, Any]) -> dict[str, Any]:
    """The guardrailConfig sent to Bedrock: the caller's, with the trace on (its usage is the bill)."""
    if config.get("trace") in TRACE_SHOWN:
        return dict(config)
    return {**config, "trace": "enabled"}


def without_guardrail_trace(trace: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The response's trace minus the guardrail part the gateway asked for (other traces, such as a
    prompt router's, stay); None when nothing is left."""
    if trace is None:
        return None
    rest = {name: value for name, value in trace.items() if name != "guardrail"}
    return rest or None
