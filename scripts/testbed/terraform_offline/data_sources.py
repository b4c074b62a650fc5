"""What the stand-in answers when Terraform reads a data source at plan time.

Identity and location data sources get fixed, plausible values (the offline world has one account).
`aws_iam_policy_document` is rendered for real, following the AWS provider's own rendering, so that
`terraform test` can assert on the policies the modules write.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

OFFLINE_ACCOUNT_ID = "111111111111"
DEFAULT_REGION = "us-east-1"
DEFAULT_POLICY_VERSION = "2012-10-17"


@dataclass(frozen=True)
class ProviderSettings:
    region: str = DEFAULT_REGION


class DataSourceError(Exception):
    """The configuration cannot be read; the message becomes a Terraform error diagnostic."""


def read_caller_identity(config: dict[str, Any], settings: ProviderSettings) -> dict[str, Any]:
    return {
        "account_id": OFFLINE_ACCOUNT_ID,
        "arn": f"arn:aws:iam::{OFFLINE_ACCOUNT_ID}:user/offline-validation",
        "id": OFFLINE_ACCOUNT_ID,
        "user_id": "AIDAOFFLINEVALIDATION",
    }


def read_region(config: dict[str, Any], settings: ProviderSettings) -> dict[str, Any]:
    region = config.get("region") or config.get("name") or settings.region
    return {
        "description": f"Offline stand-in for {region}",
        "endpoint": f"ec2.{region}.amazonaws.com",
        "id": region,
        "name": region,
        "region": region,
    }


def read_partition(config: dict[str, Any], settings: ProviderSettings) -> dict[str, Any]:
    return {
        "dns_suffix": "amazonaws.com",
        "id": "aws",
        "partition": "aws",
        "reverse_dns_prefix": "com.amazonaws",
    }


def _string_or_list(values: list[str]) -> str | list[str]:
    """The provider writes a one-element list as a bare string, and sorts longer ones in reverse."""
    if len(values) == 1:
        return values[0]
    return sorted(values, reverse=True)


def _principals(blocks: list[dict[str, Any]] | None) -> Any:
    if not blocks:
        return None
    by_type: dict[str, list[str]] = {}
    for block in blocks:
        by_type.setdefault(block["type"], []).extend(block.get("identifiers") or [])
    if list(by_type) == ["*"] and by_type["*"] == ["*"]:
        return "*"
    return {kind: _string_or_list(sorted(set(ids))) for kind, ids in sorted(by_type.items())}


def _conditions(blocks: list[dict[str, Any]] | None) -> Any:
    if not blocks:
        return None
    rendered: dict[str, dict[str, Any]] = {}
    for block in blocks:
        rendered.setdefault(block["test"], {})[block["variable"]] = _string_or_list(list(block["values"]))
    return {test: dict(sorted(variables.items())) for test, variables in sorted(rendered.items())}


def render_statement(statement: dict[str, Any]) -> dict[str, Any]:
    rendered: dict[str, Any] = {}
    if statement.get("sid"):
        rendered["Sid"] = statement["sid"]
    rendered["Effect"] = statement.get("effect") or "Allow"
    for key, field in (
        ("Action", "actions"),
        ("NotAction", "not_actions"),
        ("Resource", "resources"),
        ("NotResource", "not_resources"),
    ):
        values = statement.get(field)
        if values:
            rendered[key] = _string_or_list(list(values))
    for key, field in (("Principal", "principals"), ("NotPrincipal", "not_principals")):
        principals = _principals(statement.get(field))
        if principals is not None:
            rendered[key] = principals
    conditions = _conditions(statement.get("condition"))
    if conditions is not None:
        rendered["Condition"] = conditions
    return rendered


def _parse_policy(text: str, origin: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataSourceError(f"{origin} is not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise DataSourceError(f"{origin} is not a JSON object")
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    return {**document, "Statement": list(statements)}


def _merge_statements(base: list[dict[str, Any]], overrides: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Statements with a Sid replace the base statement with the same Sid; the rest are appended."""
    merged = list(base)
    for statement in overrides:
        sid = statement.get("Sid")
        position = next((i for i, s in enumerate(merged) if sid and s.get("Sid") == sid), None)
        if position is None:
            merged.append(statement)
        else:
            merged[position] = statement
    return merged


def go_json(value: Any, *, indent: int | None) -> str:
    """JSON as Go's encoding/json writes it, HTML-safe escapes included."""
    separators = (",", ": ") if indent is not None else (",", ":")
    text = json.dumps(value, indent=indent, separators=separators, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def read_iam_policy_document(config: dict[str, Any], settings: ProviderSettings) -> dict[str, Any]:
    version = config.get("version") or None
    statements: list[dict[str, Any]] = []
    policy_id = config.get("policy_id") or None
    for index, text in enumerate(config.get("source_policy_documents") or []):
        source = _parse_policy(text, f"source_policy_documents[{index}]")
        version = version or source.get("Version")
        statements = _merge_statements(statements, source["Statement"])
    own_statements = [render_statement(s) for s in config.get("statement") or []]
    sids = [s["Sid"] for s in own_statements if s.get("Sid")]
    duplicates = sorted({sid for sid in sids if sids.count(sid) > 1})
    if duplicates:
        raise DataSourceError(f"duplicate statement Sid in the policy document: {', '.join(duplicates)}")
    statements = _merge_statements(statements, own_statements)
    for index, text in enumerate(config.get("override_policy_documents") or []):
        override = _parse_policy(text, f"override_policy_documents[{index}]")
        statements = _merge_statements(statements, override["Statement"])
    document: dict[str, Any] = {"Version": version or DEFAULT_POLICY_VERSION}
    if policy_id:
        document["Id"] = policy_id
    if statements:
        document["Statement"] = statements
    rendered = go_json(document, indent=2)
    return {
        "id": str(zlib.crc32(rendered.encode("utf-8"))),  # the provider's schema.HashString
        "json": rendered,
        "minified_json": go_json(document, indent=None),
        "version": document["Version"],
    }


READERS: dict[str, Callable[[dict[str, Any], ProviderSettings], dict[str, Any]]] = {
    "aws_caller_identity": read_caller_identity,
    "aws_region": read_region,
    "aws_partition": read_partition,
    "aws_iam_policy_document": read_iam_policy_document,
}
