"""The event stream encoder the stand-in writes ConverseStream with: the gateway's own (one definition)."""

from __future__ import annotations

import sys

from scripts import REPO_ROOT

if str(REPO_ROOT / "lambda_src") not in sys.path:  # run alone, outside pytest and the local stack
    sys.path.insert(0, str(REPO_ROOT / "lambda_src"))

from cost_sentry.surfaces.eventstream import (
    encode_event,
    encode_exception,
    encode_headers,
    encode_message,
)

__all__ = ["encode_event", "encode_exception", "encode_headers", "encode_message"]
