"""How each way a Bedrock call can end moves the ledger: the one table (docs/design.md section 8).

A reservation ends in exactly one of three ways:

- ``CHARGE_ACTUAL``: Bedrock answered with its usage; the actual cost is settled.
- ``RELEASE``: Bedrock certainly did not run (or bill) the call; the whole hold is given back.
- ``CHARGE_WORST_CASE``: the call may have reached the model and may be billed, but its usage is unknown;
  the whole reservation is charged and the call record is marked ``estimated``. The reconciliation
  report compares it with CUR 2.0 and ``python -m scripts.cli.reports credit`` gives back a proven
  overcharge, once.

The rule behind the table: only an answer that proves the model did not run releases. Everything else
that happened after the request left the function is charged at the worst case, because what Bedrock
may bill is never refunded on a guess. Pure: no AWS, no botocore; adapters/bedrock.py decides which
``CallEnd`` an exception is, the service applies ``SETTLEMENT[end]``.
"""

from __future__ import annotations

from enum import Enum


class Settlement(Enum):
    CHARGE_ACTUAL = "charge_actual"
    RELEASE = "release"
    CHARGE_WORST_CASE = "charge_worst_case"


class CallEnd(Enum):
    """Every way a call can end, as the gateway can observe it."""

    SUCCEEDED = "succeeded"
    # Bedrock refused the request before any model ran (400 ValidationException, 403, 404).
    REFUSED_INVALID = "refused_invalid"
    # 429 ThrottlingException / ModelNotReadyException: not admitted; may pass a moment later.
    THROTTLED = "throttled"
    # ServiceQuotaExceededException: not admitted, and retrying at once will not help.
    QUOTA_EXCEEDED = "quota_exceeded"
    # 500 InternalServerException, 503 ServiceUnavailableException, 424 ModelErrorException,
    # 408 ModelTimeoutException, or any code we do not know: the request was accepted and may have run.
    SERVER_ERROR = "server_error"
    # The request was sent and no answer came within the read timeout.
    READ_TIMEOUT = "read_timeout"
    # The connection closed (or broke) after the request was sent, before a complete answer.
    CONNECTION_LOST = "connection_lost"
    # The connection was never made (refused, DNS, connect timeout, proxy): nothing was sent.
    NOT_SENT = "not_sent"
    # Bedrock answered 200 but the answer (its usage) cannot be read.
    UNREADABLE_RESPONSE = "unreadable_response"
    # ConverseStream had opened (HTTP 200) and broke before any text arrived.
    STREAM_BROKEN_BEFORE_CONTENT = "stream_broken_before_content"
    # ConverseStream broke (or its consumer left) after text had arrived.
    STREAM_BROKEN_AFTER_CONTENT = "stream_broken_after_content"
    # The function died mid-call and never settled: the ledger's sweep charges the hold at expiry.
    FUNCTION_KILLED = "function_killed"


SETTLEMENT: dict[CallEnd, Settlement] = {
    CallEnd.SUCCEEDED: Settlement.CHARGE_ACTUAL,
    CallEnd.REFUSED_INVALID: Settlement.RELEASE,
    CallEnd.THROTTLED: Settlement.RELEASE,
    CallEnd.QUOTA_EXCEEDED: Settlement.RELEASE,
    # Conservative: AWS does not document that a 500/503 means the model did not run, and a 503 can
    # come from a proxy in front of a model that is still generating. Charged, credited back if CUR
    # proves it was not billed.
    CallEnd.SERVER_ERROR: Settlement.CHARGE_WORST_CASE,
    CallEnd.READ_TIMEOUT: Settlement.CHARGE_WORST_CASE,
    CallEnd.CONNECTION_LOST: Settlement.CHARGE_WORST_CASE,
    CallEnd.NOT_SENT: Settlement.RELEASE,
    CallEnd.UNREADABLE_RESPONSE: Settlement.CHARGE_WORST_CASE,
    # Conservative: a 200 on ConverseStream means the model was admitted and had started on the input.
    CallEnd.STREAM_BROKEN_BEFORE_CONTENT: Settlement.CHARGE_WORST_CASE,
    CallEnd.STREAM_BROKEN_AFTER_CONTENT: Settlement.CHARGE_WORST_CASE,
    CallEnd.FUNCTION_KILLED: Settlement.CHARGE_WORST_CASE,
}

# Ends after which the gateway may try the call again: only those where nothing can have been billed.
RETRYABLE: frozenset[CallEnd] = frozenset({CallEnd.THROTTLED, CallEnd.NOT_SENT})


def settlement_for(end: CallEnd) -> Settlement:
    return SETTLEMENT[end]


def may_retry(end: CallEnd) -> bool:
    """A retry is safe only when the failed attempt certainly cost nothing (it was released)."""
    return end in RETRYABLE and SETTLEMENT[end] is Settlement.RELEASE
