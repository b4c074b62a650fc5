"""Bedrock model invocation logs for the local stack: what Bedrock would deliver to the invocation-logging
bucket for the calls the Bedrock stand-in answered.

One ``ModelInvocationLog`` 1.0 record per successful call (text delivery off: no bodies), carrying the
``requestMetadata`` the gateway sent, gzipped JSON lines under Bedrock's key layout
``AWSLogs/<account>/BedrockModelInvocationLogs/<region>/yyyy/MM/dd/HH/``. Feeds
``python -m scripts.cli.reports requests --logs <dir>`` in tests and on a laptop.

The record's ``identity`` is whoever signed the call, as Bedrock records it: the stand-in logs the
signing access key, and ``sts_identity_resolver`` asks the STS emulator whose key it is (the per-user
session the gateway assumed, or its own credentials), so no role name is derived here.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

IdentityResolver = Callable[[str | None], str]


def sts_identity_resolver(sts_endpoint_url: str, region: str = "us-east-1") -> IdentityResolver:
    """The ARN behind an access key id, from the STS emulator: moto answers GetCallerIdentity for the key
    that signs, without checking the secret. One call per key."""
    import boto3

    known: dict[str | None, str] = {}

    def identity_of(access_key_id: str | None) -> str:
        if access_key_id not in known:
            sts = boto3.session.Session(
                aws_access_key_id=access_key_id or "unknown",
                aws_secret_access_key="unused-by-the-emulator",  # noqa: S106 (moto checks no signature)
                region_name=region,
            ).client("sts", endpoint_url=sts_endpoint_url)
            known[access_key_id] = str(sts.get_caller_identity()["Arn"])
        return known[access_key_id]

    return identity_of


def invocation_record(
    entry: Mapping[str, Any], account_id: str, region: str, identity: str
) -> dict[str, Any]:
    """The record Bedrock logs for one answered call of the stand-in's request log, signed by ``identity``."""
    body = entry.get("body") or {}
    usage = entry.get("usage") or {}
    metadata = body.get("requestMetadata") or {}
    record: dict[str, Any] = {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": datetime.fromtimestamp(float(entry["receivedAt"]), tz=UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        ),
        "accountId": account_id,
        "identity": {"arn": identity},
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
    identity_of: IdentityResolver,
    account_id: str = "123456789012",
    region: str = "us-east-1",
) -> list[Path]:
    """One gzipped JSON-lines file per delivery hour for the answered (status 200) calls; returns the files.
    ``identity_of`` names the signer of each call's access key (``sts_identity_resolver``)."""
    by_hour: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in requests:
        if entry.get("status") != 200:
            continue  # Bedrock logs invocations it ran; a refused call bills nothing
        record = invocation_record(entry, account_id, region, identity_of(entry.get("accessKeyId")))
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
