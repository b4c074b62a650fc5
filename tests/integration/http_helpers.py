"""Helpers for the HTTP integration tests: plain HTTP calls to the local stack and ledger reads."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from scripts.testbed.local_stack import LocalStack, account_outputs

_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class HttpResult:
    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def error_code(self) -> str | None:
        try:
            return self.json().get("error", {}).get("code")
        except ValueError:
            return None

    def sse_events(self) -> list[dict[str, Any]]:
        """The ``data:`` payloads of a text/event-stream body."""
        return [
            json.loads(line[len("data: ") :]) for line in self.text.splitlines() if line.startswith("data: ")
        ]


@contextmanager
def own_stack(tfvars: str, **options: Any) -> Iterator[LocalStack]:
    """A local stack with its own emulators, whatever another test left in the environment."""
    with pytest.MonkeyPatch.context() as env:
        env.delenv("AWS_ENDPOINT_URL", raising=False)
        env.delenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", raising=False)
        outputs = account_outputs(tfvars_text=tfvars)  # Terraform evaluates the tenants (cached plan)
        with LocalStack(outputs=outputs, **options) as stack:
            yield stack


def call(
    stack: LocalStack,
    path: str,
    *,
    api_key: str | None = None,
    body: Any = None,
    raw_body: bytes | None = None,
    method: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> HttpResult:
    data = raw_body if raw_body is not None else (None if body is None else json.dumps(body).encode())
    all_headers = {"content-type": "application/json", **(headers or {})}
    if api_key is not None:
        all_headers["x-api-key"] = api_key
    request = urllib.request.Request(  # noqa: S310 - the local stack's http://127.0.0.1 URL
        stack.gateway_url + path,
        data=data,
        headers=all_headers,
        method=method or ("POST" if data is not None else "GET"),
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - local URL
            return HttpResult(response.status, dict(response.headers), response.read().decode())
    except urllib.error.HTTPError as error:
        return HttpResult(error.code, dict(error.headers), error.read().decode())


def raw_ledger_items(stack: LocalStack, tenant_id: str, prefix: str) -> list[dict[str, Any]]:
    from cost_sentry.adapters.ledger import read_tenant_items

    return read_tenant_items(stack.client("dynamodb"), stack.ledger_table, tenant_id, prefix)


def ledger_items(stack: LocalStack, tenant_id: str, prefix: str) -> list[dict[str, Any]]:
    return [_plain(item) for item in raw_ledger_items(stack, tenant_id, prefix)]


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def period_item(stack: LocalStack, tenant_id: str) -> dict[str, Any]:
    """The tenant's current period: its head and shards summed, its holds as ``hold_<id>`` (see
    tests.service.conftest.period_view); empty before its first reservation."""
    from cost_sentry.adapters.ledger import read_tenant_holds
    from tests.service.conftest import period_view

    holds = read_tenant_holds(stack.client("dynamodb"), stack.ledger_table, tenant_id)
    return _plain(period_view(raw_ledger_items(stack, tenant_id, "PERIOD#") + holds))


def call_records(stack: LocalStack, tenant_id: str) -> list[dict[str, Any]]:
    from cost_sentry.adapters.ledger import read_tenant_calls

    return [
        _plain(item) for item in read_tenant_calls(stack.client("dynamodb"), stack.ledger_table, tenant_id)
    ]


def holds(item: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in item.items() if name.startswith("hold_")}


def usd_to_nanos(text: str) -> int:
    from decimal import Decimal

    return int(Decimal(text) * 1_000_000_000)
