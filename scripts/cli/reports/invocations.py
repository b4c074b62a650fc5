"""Which requests made a tenant's spend: Bedrock model invocation logs (modules/invocation-logging)
joined, through the gateway's `requestMetadata`, to the tenant, the end user and the gateway's request id
(the ledger's call record key, `CALL#<time>#<requestId>`).

Reads the log files as Bedrock delivers them (JSON lines, gzipped or not, under
`AWSLogs/<account>/BedrockModelInvocationLogs/<region>/yyyy/MM/dd/HH/`) with DuckDB. Each record is
priced from the model catalog with exact decimals, the way AWS prices tokens; records that carry no
gateway metadata (calls that bypassed the gateway) are reported as `(no gateway metadata)`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from scripts.cli.reports.engines import QueryError, sql_string
from scripts.cli.reports.money import ZERO, plain
from scripts.cli.reports.synth import load_prices

NO_METADATA = "(no gateway metadata)"

# The record fields the report reads (Bedrock's schemaType ModelInvocationLog, schemaVersion 1.0);
# every other field, text bodies included, is never read.
_COLUMNS = {
    "timestamp": "VARCHAR",
    "requestId": "VARCHAR",
    "operation": "VARCHAR",
    "modelId": "VARCHAR",
    "identity": "STRUCT(arn VARCHAR)",
    "input": "STRUCT(inputTokenCount BIGINT)",
    "output": "STRUCT(outputTokenCount BIGINT)",
    "requestMetadata": "MAP(VARCHAR, VARCHAR)",
}


@dataclass(frozen=True)
class Invocation:
    timestamp: str
    tenant: str
    user: str | None
    request_id: str | None  # the gateway's (requestMetadata.requestId); None outside the gateway
    bedrock_request_id: str
    operation: str
    model: str | None
    model_id: str
    principal: str
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal | None  # None when the model is not in the catalog (cannot be priced)


def read_invocations(logs: Path, connection: Any = None) -> list[Invocation]:
    """Every invocation record under `logs` (a directory of delivered files, or one file)."""
    import duckdb

    logs = Path(logs)
    if logs.is_dir():
        files = [
            p
            for p in logs.rglob("*")
            if p.is_file() and (p.name.endswith(".json") or p.name.endswith(".json.gz"))
        ]
        if not files:
            raise QueryError(f"no .json or .json.gz invocation log files under {logs}")
        pattern = str(logs / "**" / "*.json*")
    elif logs.is_file():
        pattern = str(logs)
    else:
        raise QueryError(f"no such invocation log directory or file: {logs}")
    columns = "{" + ", ".join(f"{sql_string(k)}: {sql_string(v)}" for k, v in _COLUMNS.items()) + "}"
    sql = f"""
        SELECT timestamp, requestId, operation, modelId, identity.arn AS principal,
               coalesce(input.inputTokenCount, 0) AS input_tokens,
               coalesce(output.outputTokenCount, 0) AS output_tokens,
               requestMetadata['tenantId'] AS tenant, requestMetadata['userId'] AS user_name,
               requestMetadata['requestId'] AS gateway_request_id, requestMetadata['model'] AS model
        FROM read_json({sql_string(pattern)}, format = 'newline_delimited', columns = {columns})
        ORDER BY timestamp, requestId
    """  # noqa: S608 - only SQL string literals built by sql_string are inlined
    db = connection or duckdb.connect()
    try:
        rows = db.sql(sql).fetchall()
    except duckdb.Error as error:
        raise QueryError(f"reading invocation logs under {logs}: {error}") from error
    prices = load_prices()
    invocations = []
    for (
        timestamp,
        bedrock_id,
        operation,
        model_id,
        principal,
        tokens_in,
        tokens_out,
        tenant,
        user,
        gateway_id,
        model,
    ) in rows:
        price = prices.get(model) if model else None
        cost = None if price is None else price[0] * int(tokens_in) + price[1] * int(tokens_out)
        invocations.append(
            Invocation(
                timestamp=str(timestamp or ""),
                tenant=tenant or NO_METADATA,
                user=user,
                request_id=gateway_id,
                bedrock_request_id=str(bedrock_id or ""),
                operation=str(operation or ""),
                model=model,
                model_id=str(model_id or ""),
                principal=str(principal or ""),
                input_tokens=int(tokens_in),
                output_tokens=int(tokens_out),
                cost_usd=cost,
            )
        )
    return invocations


def tenant_requests(
    invocations: Iterable[Invocation], tenant: str, period: str | None = None
) -> list[Invocation]:
    """The tenant's requests (of one UTC month `YYYY-MM`, when given), dearest first."""
    chosen = [
        inv
        for inv in invocations
        if inv.tenant == tenant and (period is None or inv.timestamp.startswith(period))
    ]
    return sorted(chosen, key=lambda inv: (-(inv.cost_usd or ZERO), inv.timestamp, inv.bedrock_request_id))


def spend_by_user(requests: Sequence[Invocation]) -> list[tuple[str, int, Decimal]]:
    """(user, requests, cost) of the given requests, dearest first; `(application)` for calls without one."""
    totals: dict[str, tuple[int, Decimal]] = {}
    for inv in requests:
        key = inv.user or "(application)"
        count, cost = totals.get(key, (0, ZERO))
        totals[key] = (count + 1, cost + (inv.cost_usd or ZERO))
    return sorted(((user, n, cost) for user, (n, cost) in totals.items()), key=lambda row: (-row[2], row[0]))


CSV_COLUMNS = (
    "timestamp", "tenant", "user", "request_id", "bedrock_request_id", "operation", "model", "model_id",
    "principal", "input_tokens", "output_tokens", "cost_usd",
)  # fmt: skip


def write_requests_csv(requests: Sequence[Invocation], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for inv in requests:
            writer.writerow(
                [
                    inv.timestamp, inv.tenant, inv.user or "", inv.request_id or "", inv.bedrock_request_id,
                    inv.operation, inv.model or "", inv.model_id, inv.principal, inv.input_tokens,
                    inv.output_tokens, "" if inv.cost_usd is None else plain(inv.cost_usd),
                ]
            )  # fmt: skip
    return path
