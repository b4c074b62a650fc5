"""Bedrock model invocation logs for the local stack: what Bedrock would deliver to the invocation-logging
bucket for the calls the Bedrock stand-in answered.

One ``ModelInvocationLog`` 1.0 record per successful call (text delivery off: no bodies), carrying the
``requestMetadata`` the gateway sent, gzipped JSON lines under Bedrock's key layout
``AWSLogs/<account>/BedrockModelInvocationLogs/<region>/yyyy/MM/dd/HH/``. Feeds
``python -m scripts.cli.reports requests --logs <dir>`` in tests and on a laptop.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def invocation_record(entry: Mapping[str, Any], account_id: str, region: str) -> dict[str, Any]:
    """The record Bedrock logs for one answered call of the stand-in's request log."""
    body = entry.get("body") or {}
    usage = entry.get("usage") or {}
    metadata = body.get("requestMetadata") or {}
    user = metadata.get("userId")
    tenant = metadata.get("tenantId")
    # The caller Bedrock records: the tenant's invoker session (per-user sessions) as CUR 2.0 names it.
    principal = (
        f"arn:aws:sts::{account_id}:assumed-role/cost-sentry-{tenant}-invoker/{user or f'{tenant}-app'}"
        if tenant
        else f"arn:aws:iam::{account_id}:user/unknown"
    )
    record: dict[str, Any] = {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": datetime.fromtimestamp(float(entry["receivedAt"]), tz=UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        ),
        "accountId": account_id,
        "identity": {"arn": principal},
        "region": region,
        "requestId": str(uuid.uuid5(uuid.NAMESPACE_URL, json.dumps(entry, sort_keys=True, default=str))),
        "operation": entry.get("operation", "Converse"),
        "modelId": entry["modelId"],
        "input": {
            "inputContentType": "application/json",
            "inputTokenCount": int(usage.get("inputTokens", 0)),
        },
        "output": {
            "outputContentType": "application/json",
            "outputTokenCount": int(usage.get("outputTokens", 0)),
        },
    }
    if metadata:
        record["requestMetadata"] = dict(metadata)
    return record


def write_invocation_logs(
    requests: Iterable[Mapping[str, Any]],
    out_dir: Path,
    account_id: str = "123456789012",
    region: str = "us-east-1",
) -> list[Path]:
    """One gzipped JSON-lines file per delivery hour for the answered (status 200) calls; returns the files."""
    by_hour: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in requests:
        if entry.get("status") != 200:
            continue  # Bedrock logs invocations it ran; a refused call bills nothing
        record = invocation_record(entry, account_id, region)
        hour = record["timestamp"][:13].replace("-", "/").replace("T", "/")
        by_hour[hour].append(record)
    files = []
    for hour, records in sorted(by_hour.items()):
        folder = Path(out_dir) / "AWSLogs" / account_id / "BedrockModelInvocationLogs" / region / hour
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{hour.replace('/', '')}_{uuid.uuid4().hex[:8]}.json.gz"
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.writelines(json.dumps(record) + "\n" for record in records)
        files.append(path)
    return files
