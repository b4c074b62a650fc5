"""What one answer cost and what is left of the budget: the figures every surface hands back.

The service builds a ``CostReport`` twice per model call: when the worst case is held (what a stream's
headers can say, since they leave before Bedrock has answered) and when the call is settled (a buffered
answer's headers, a stream's final event). ``basis`` says which figure ``cost_nanos`` is:

- ``settled``: the call's actual usage at the catalog's prices, exactly what the ledger's call record holds;
- ``estimated``: settled, but the ledger's call record is marked estimated (part of it is a worst case:
  a guardrail whose usage Bedrock did not report, a hold the sweep had already charged at its worst case);
- ``held``: the worst case held; it is what the ledger charges unless a settle says otherwise (the
  stream's opening headers, or a buffered answer whose settle failed: the sweep charges the hold).

Remaining figures are the tenant's budget for the period after this call (exact for a one-shard tenant;
otherwise the part the request's shard holds, a lower bound: ``GET /v1/budget`` sums every shard), and the
user's own when a per-user budget applied. Money is integer nano-dollars; surfaces render it with
``nanos_to_usd`` (surfaces/http.py, one place for every surface).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CostBasis(StrEnum):
    SETTLED = "settled"
    ESTIMATED = "estimated"
    HELD = "held"


@dataclass(frozen=True)
class CostReport:
    cost_nanos: int
    basis: CostBasis
    # The tenant's remaining budget for the period once this call is counted.
    remaining_nanos: int
    # The user's remaining budget; None when no per-user budget applied to the call.
    user_remaining_nanos: int | None
    # The budget period the call is counted in ("2026-12", or "2026-12-04" for daily budgets).
    period: str
    # Shadow mode (enforce = false): the limit that would have refused the call, which ran anyway.
    would_deny: str | None = None
