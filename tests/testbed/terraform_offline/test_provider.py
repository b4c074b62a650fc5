"""The stand-in over real gRPC on 127.0.0.1: schema, plan, data sources, refused apply, handshake."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest

from scripts.testbed.terraform_offline import values
from scripts.testbed.terraform_offline.hcl_scan import REPO_ROOT
from scripts.testbed.terraform_offline.protocol import PROVIDER_SERVICE
from scripts.testbed.terraform_offline.protocol import tfplugin6 as pb
from scripts.testbed.terraform_offline.provider import (
    APPLY_REFUSED,
    MAGIC_COOKIE_KEY,
    MAGIC_COOKIE_VALUE,
    StandInProvider,
    load_schema,
    message_class,
    provider_handlers,
)


class ProviderClient:
    """Calls the Provider service by method name, the way Terraform's gRPC client does."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.channel = channel

    def call(self, method: str, request: Any) -> Any:
        response_class = message_class(PROVIDER_SERVICE.methods_by_name[method].output_type.full_name)
        stub = self.channel.unary_unary(
            f"/{PROVIDER_SERVICE.full_name}/{method}",
            request_serializer=lambda message: message.SerializeToString(),
            response_deserializer=response_class.FromString,
        )
        return stub(request, timeout=10)


@pytest.fixture(scope="module")
def client() -> Iterator[ProviderClient]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers([provider_handlers(StandInProvider(load_schema()))])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield ProviderClient(channel)
    finally:
        channel.close()
        server.stop(grace=None)


def dynamic(value: Any) -> pb.DynamicValue:
    return pb.DynamicValue(msgpack=values.encode(value))


def test_serves_the_schema_subset(client: ProviderClient) -> None:
    response = client.call("GetProviderSchema", pb.GetProviderSchema.Request())

    assert not response.diagnostics
    topic = response.resource_schemas["aws_sns_topic"].block
    arn = next(a for a in topic.attributes if a.name == "arn")
    assert arn.computed and not arn.optional
    assert json.loads(arn.type) == "string"
    policy_document = response.data_source_schemas["aws_iam_policy_document"].block
    statement = next(b for b in policy_document.block_types if b.type_name == "statement")
    assert statement.nesting == pb.Schema.NestedBlock.LIST
    assert {b.type_name for b in statement.block.block_types} >= {"principals", "condition"}
    assert any(a.name == "region" for a in response.provider.block.attributes)


def test_plans_a_create_with_unknown_computed_attributes(client: ProviderClient) -> None:
    block = load_schema()["resource_schemas"]["aws_sns_topic"]["block"]
    proposed = values.conform(block, {"name": "alerts", "tags": {"costCenter": "sales"}})

    response = client.call(
        "PlanResourceChange",
        pb.PlanResourceChange.Request(
            type_name="aws_sns_topic",
            prior_state=dynamic(None),
            proposed_new_state=dynamic(proposed),
            config=dynamic(proposed),
        ),
    )

    planned = values.decode(response.planned_state.msgpack)
    assert not response.diagnostics
    assert planned["name"] == "alerts"
    assert planned["tags"] == {"costCenter": "sales"}
    assert values.is_unknown(planned["arn"])
    assert values.is_unknown(planned["tags_all"])
    assert planned["display_name"] is None


def test_apply_is_refused(client: ProviderClient) -> None:
    response = client.call(
        "ApplyResourceChange",
        pb.ApplyResourceChange.Request(type_name="aws_sns_topic", prior_state=dynamic(None)),
    )

    assert [d.summary for d in response.diagnostics] == [APPLY_REFUSED]
    assert response.diagnostics[0].severity == pb.Diagnostic.ERROR


def test_reads_a_policy_document(client: ProviderClient) -> None:
    block = load_schema()["data_source_schemas"]["aws_iam_policy_document"]["block"]
    config = values.conform(
        block,
        {
            "statement": [
                {"actions": ["sqs:SendMessage"], "resources": ["arn:aws:sqs:us-east-1:111111111111:q"]}
            ]
        },
    )

    response = client.call(
        "ReadDataSource",
        pb.ReadDataSource.Request(type_name="aws_iam_policy_document", config=dynamic(config)),
    )

    state = values.decode(response.state.msgpack)
    assert not response.diagnostics
    assert json.loads(state["json"])["Statement"][0]["Action"] == "sqs:SendMessage"
    assert values.is_wholly_known(state)


def test_a_type_outside_the_subset_gets_a_clear_error(client: ProviderClient) -> None:
    response = client.call(
        "ValidateResourceConfig",
        pb.ValidateResourceConfig.Request(type_name="aws_instance", config=dynamic(None)),
    )

    assert "aws_instance is not in the offline schema subset" in response.diagnostics[0].summary
    assert "gen_schema" in response.diagnostics[0].detail


def _plugin_environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (MAGIC_COOKIE_KEY, "PLUGIN_CLIENT_CERT")}
    return {**env, "PYTHONPATH": str(REPO_ROOT), **extra}


def test_refuses_to_run_outside_terraform() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "scripts.testbed.terraform_offline.provider"],
        env=_plugin_environment(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert completed.returncode == 1
    assert "This binary is a plugin" in completed.stderr


def test_go_plugin_handshake_then_shutdown_through_the_controller() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.testbed.terraform_offline.provider"],
        env=_plugin_environment(**{MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        core_version, protocol, network, address, wire, _certificate = (
            process.stdout.readline().strip().split("|")
        )
        assert (core_version, protocol, network, wire) == ("1", "6", "tcp", "grpc")
        assert address.startswith("127.0.0.1:")
        with grpc.insecure_channel(address) as channel:
            schema = ProviderClient(channel).call("GetProviderSchema", pb.GetProviderSchema.Request())
            assert "aws_budgets_budget" in schema.resource_schemas
            shutdown = channel.unary_unary(
                "/plugin.GRPCController/Shutdown",
                request_serializer=lambda data: data,
                response_deserializer=lambda data: data,
            )
            shutdown(b"", timeout=10)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
