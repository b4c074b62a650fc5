"""A schema-only stand-in for `hashicorp/aws`, speaking the Terraform plugin protocol 6 over gRPC.

Terraform starts it (through a `dev_overrides` CLI configuration that only `validate-all` writes) the
way it starts any provider plugin: environment in, one go-plugin handshake line out, then gRPC over
mutual TLS on 127.0.0.1. It serves the AWS schema subset in `aws_schema.json`, plans creates the way
a real provider does (computed attributes the configuration leaves unset become unknown), reads the
few data sources the modules use, and refuses to apply anything.

Run by Terraform as `python -m scripts.testbed.terraform_offline.provider`.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import os
import sys
import threading
from concurrent import futures
from functools import cache
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from scripts.testbed.terraform_offline import values
from scripts.testbed.terraform_offline.data_sources import READERS, DataSourceError, ProviderSettings
from scripts.testbed.terraform_offline.protocol import PROVIDER_SERVICE
from scripts.testbed.terraform_offline.protocol import tfplugin6 as pb

SCHEMA_PATH = Path(__file__).with_name("aws_schema.json")
APPLY_REFUSED = "schema-only stand-in: apply is refused"
# go-plugin's handshake cookie for Terraform providers: a binary started by anything else exits.
MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE_VALUE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
PROTOCOL_VERSION = 6

_BLOCK_NESTING = {
    "single": pb.Schema.NestedBlock.SINGLE,
    "list": pb.Schema.NestedBlock.LIST,
    "set": pb.Schema.NestedBlock.SET,
    "map": pb.Schema.NestedBlock.MAP,
}
_OBJECT_NESTING = {
    "single": pb.Schema.Object.SINGLE,
    "list": pb.Schema.Object.LIST,
    "set": pb.Schema.Object.SET,
    "map": pb.Schema.Object.MAP,
}


@cache
def load_schema(path: Path = SCHEMA_PATH) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


def _attribute_message(name: str, attribute: dict[str, Any]) -> pb.Schema.Attribute:
    message = pb.Schema.Attribute(
        name=name,
        required=bool(attribute.get("required")),
        optional=bool(attribute.get("optional")),
        computed=bool(attribute.get("computed")),
        sensitive=bool(attribute.get("sensitive")),
    )
    if "nested_type" in attribute:
        nested = attribute["nested_type"]
        message.nested_type.CopyFrom(
            pb.Schema.Object(
                attributes=[_attribute_message(n, a) for n, a in nested.get("attributes", {}).items()],
                nesting=_OBJECT_NESTING[nested["nesting_mode"]],
            )
        )
    else:
        message.type = json.dumps(attribute["type"]).encode("utf-8")
    return message


def block_message(block: dict[str, Any], version: int = 0) -> pb.Schema.Block:
    return pb.Schema.Block(
        version=version,
        attributes=[_attribute_message(name, a) for name, a in block.get("attributes", {}).items()],
        block_types=[
            pb.Schema.NestedBlock(
                type_name=name,
                block=block_message(nested["block"]),
                nesting=_BLOCK_NESTING[nested["nesting_mode"]],
                min_items=nested.get("min_items", 0),
                max_items=nested.get("max_items", 0),
            )
            for name, nested in block.get("block_types", {}).items()
        ],
    )


def schema_message(entry: dict[str, Any]) -> pb.Schema:
    return pb.Schema(
        version=entry.get("version", 0), block=block_message(entry["block"], entry.get("version", 0))
    )


def error(summary: str, detail: str = "") -> pb.Diagnostic:
    return pb.Diagnostic(severity=pb.Diagnostic.ERROR, summary=summary, detail=detail)


def _dynamic(value: Any) -> pb.DynamicValue:
    return pb.DynamicValue(msgpack=values.encode(value))


def _decoded(dynamic_value: pb.DynamicValue) -> Any:
    if dynamic_value.json:
        return json.loads(dynamic_value.json)
    return values.decode(dynamic_value.msgpack)


class StandInProvider:
    """The protocol 6 methods Terraform calls for validate, plan and `terraform test` (command = plan)."""

    def __init__(self, schema: dict[str, Any], on_stop: threading.Event | None = None) -> None:
        self.schema = schema
        self.settings = ProviderSettings()
        self.on_stop = on_stop or threading.Event()

    def _resource_block(self, type_name: str) -> dict[str, Any] | None:
        entry = self.schema["resource_schemas"].get(type_name)
        return entry["block"] if entry else None

    def _unsupported(self, type_name: str) -> pb.Diagnostic:
        return error(
            f"{type_name} is not in the offline schema subset",
            "Regenerate scripts/testbed/terraform_offline/aws_schema.json: "
            "python -m scripts.testbed.terraform_offline.gen_schema --python <venv with cdktn-provider-aws>",
        )

    def GetMetadata(self, request: pb.GetMetadata.Request, context: Any) -> pb.GetMetadata.Response:
        return pb.GetMetadata.Response(
            server_capabilities=pb.ServerCapabilities(plan_destroy=True),
            resources=[pb.GetMetadata.ResourceMetadata(type_name=t) for t in self.schema["resource_schemas"]],
            data_sources=[
                pb.GetMetadata.DataSourceMetadata(type_name=t) for t in self.schema["data_source_schemas"]
            ],
        )

    def GetProviderSchema(
        self, request: pb.GetProviderSchema.Request, context: Any
    ) -> pb.GetProviderSchema.Response:
        return pb.GetProviderSchema.Response(
            provider=schema_message(self.schema["provider"]),
            resource_schemas={t: schema_message(e) for t, e in self.schema["resource_schemas"].items()},
            data_source_schemas={t: schema_message(e) for t, e in self.schema["data_source_schemas"].items()},
            server_capabilities=pb.ServerCapabilities(plan_destroy=True),
        )

    def GetResourceIdentitySchemas(
        self, request: pb.GetResourceIdentitySchemas.Request, context: Any
    ) -> pb.GetResourceIdentitySchemas.Response:
        return pb.GetResourceIdentitySchemas.Response()

    def GetFunctions(self, request: pb.GetFunctions.Request, context: Any) -> pb.GetFunctions.Response:
        return pb.GetFunctions.Response()

    def ValidateProviderConfig(
        self, request: pb.ValidateProviderConfig.Request, context: Any
    ) -> pb.ValidateProviderConfig.Response:
        return pb.ValidateProviderConfig.Response()

    def ValidateResourceConfig(
        self, request: pb.ValidateResourceConfig.Request, context: Any
    ) -> pb.ValidateResourceConfig.Response:
        if request.type_name not in self.schema["resource_schemas"]:
            return pb.ValidateResourceConfig.Response(diagnostics=[self._unsupported(request.type_name)])
        return pb.ValidateResourceConfig.Response()

    def ValidateDataResourceConfig(
        self, request: pb.ValidateDataResourceConfig.Request, context: Any
    ) -> pb.ValidateDataResourceConfig.Response:
        if request.type_name not in self.schema["data_source_schemas"]:
            return pb.ValidateDataResourceConfig.Response(diagnostics=[self._unsupported(request.type_name)])
        return pb.ValidateDataResourceConfig.Response()

    def ConfigureProvider(
        self, request: pb.ConfigureProvider.Request, context: Any
    ) -> pb.ConfigureProvider.Response:
        config = _decoded(request.config) or {}
        region = config.get("region")
        if isinstance(region, str) and region:
            self.settings = ProviderSettings(region=region)
        return pb.ConfigureProvider.Response()

    def UpgradeResourceState(
        self, request: pb.UpgradeResourceState.Request, context: Any
    ) -> pb.UpgradeResourceState.Response:
        block = self._resource_block(request.type_name)
        if block is None:
            return pb.UpgradeResourceState.Response(diagnostics=[self._unsupported(request.type_name)])
        state = json.loads(request.raw_state.json) if request.raw_state.json else None
        return pb.UpgradeResourceState.Response(upgraded_state=_dynamic(values.conform(block, state)))

    def ReadResource(self, request: pb.ReadResource.Request, context: Any) -> pb.ReadResource.Response:
        # Nothing to refresh against: the recorded state is the best knowledge there is.
        return pb.ReadResource.Response(new_state=request.current_state, private=request.private)

    def PlanResourceChange(
        self, request: pb.PlanResourceChange.Request, context: Any
    ) -> pb.PlanResourceChange.Response:
        block = self._resource_block(request.type_name)
        if block is None:
            return pb.PlanResourceChange.Response(diagnostics=[self._unsupported(request.type_name)])
        proposed = _decoded(request.proposed_new_state)
        prior = _decoded(request.prior_state)
        # Destroy, or update of an object whose computed values Terraform already carries over, plans
        # as proposed; a create marks the computed attributes unknown.
        fresh = proposed is not None and prior is None
        planned = values.mark_computed_unknown(block, proposed) if fresh else proposed
        return pb.PlanResourceChange.Response(planned_state=_dynamic(planned))

    def ApplyResourceChange(
        self, request: pb.ApplyResourceChange.Request, context: Any
    ) -> pb.ApplyResourceChange.Response:
        return pb.ApplyResourceChange.Response(
            diagnostics=[
                error(
                    APPLY_REFUSED,
                    f"{request.type_name} was not changed. This provider only serves the AWS schema so that "
                    "Terraform can validate and plan offline; apply with the real provider "
                    "(make plan/apply ACCOUNT=...).",
                )
            ]
        )

    def ImportResourceState(
        self, request: pb.ImportResourceState.Request, context: Any
    ) -> pb.ImportResourceState.Response:
        return pb.ImportResourceState.Response(
            diagnostics=[error("schema-only stand-in: import is refused", "There is no AWS account offline.")]
        )

    def ReadDataSource(self, request: pb.ReadDataSource.Request, context: Any) -> pb.ReadDataSource.Response:
        entry = self.schema["data_source_schemas"].get(request.type_name)
        if entry is None:
            return pb.ReadDataSource.Response(diagnostics=[self._unsupported(request.type_name)])
        config = _decoded(request.config) or {}
        reader = READERS.get(request.type_name)
        try:
            read = reader(config, self.settings) if reader else {}
        except DataSourceError as failure:
            return pb.ReadDataSource.Response(diagnostics=[error(f"{request.type_name}: {failure}")])
        state = values.fill_computed(entry["block"], {**config, **read})
        return pb.ReadDataSource.Response(state=_dynamic(state))

    def StopProvider(self, request: pb.StopProvider.Request, context: Any) -> pb.StopProvider.Response:
        return pb.StopProvider.Response()


def provider_handlers(provider: StandInProvider) -> grpc.GenericRpcHandler:
    """gRPC handlers for the methods the stand-in implements; Terraform gets UNIMPLEMENTED for the rest."""
    handlers = {}
    for method in PROVIDER_SERVICE.methods:
        implementation = getattr(provider, method.name, None)
        if implementation is None or method.client_streaming or method.server_streaming:
            continue
        request_class = message_class(method.input_type.full_name)
        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            implementation,
            request_deserializer=request_class.FromString,
            response_serializer=lambda message: message.SerializeToString(),
        )
    return grpc.method_handlers_generic_handler(PROVIDER_SERVICE.full_name, handlers)


def message_class(full_name: str) -> Any:
    """tfplugin6.GetProviderSchema.Request -> pb.GetProviderSchema.Request"""
    target: Any = pb
    for part in full_name.split(".")[1:]:
        target = getattr(target, part)
    return target


def _self_signed_certificate() -> tuple[bytes, bytes, bytes]:
    """Key PEM, certificate PEM and certificate DER, shaped like go-plugin's own AutoMTLS certificates."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "HashiCorp"),
            x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(seconds=30))
        .not_valid_after(now + datetime.timedelta(hours=24))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return (
        key_pem,
        certificate.public_bytes(serialization.Encoding.PEM),
        certificate.public_bytes(serialization.Encoding.DER),
    )


def _raw_handlers(service: str, methods: dict[str, Any]) -> grpc.GenericRpcHandler:
    """Handlers for go-plugin's own small services, whose messages are empty or trivial."""
    return grpc.method_handlers_generic_handler(
        service,
        {
            name: grpc.unary_unary_rpc_method_handler(
                function, request_deserializer=lambda data: data, response_serializer=lambda data: data
            )
            for name, function in methods.items()
        },
    )


def serve(handshake_out: Any = None) -> int:
    if os.environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        print(
            "This binary is a plugin. These are not meant to be executed directly.\n"
            "Terraform starts it through a dev_overrides CLI configuration (see docs/offline-terraform.md).",
            file=sys.stderr,
        )
        return 1
    stop = threading.Event()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers([provider_handlers(StandInProvider(load_schema(), stop))])

    def shutdown(request: bytes, context: Any) -> bytes:
        stop.set()
        return b""

    # grpc.health.v1 Check -> HealthCheckResponse{status: SERVING}
    server.add_generic_rpc_handlers(
        [
            _raw_handlers("plugin.GRPCController", {"Shutdown": shutdown}),
            _raw_handlers("grpc.health.v1.Health", {"Check": lambda request, context: b"\x08\x01"}),
        ]
    )
    client_certificate = os.environ.get("PLUGIN_CLIENT_CERT")
    certificate_field = ""
    if client_certificate:
        key_pem, certificate_pem, certificate_der = _self_signed_certificate()
        # Terraform pins our certificate from the handshake line. We do not ask for its client
        # certificate in return: go-plugin's is ECDSA P-521, which the TLS stack in grpcio does not
        # accept for client authentication by default, and the listener is bound to 127.0.0.1 anyway.
        credentials = grpc.ssl_server_credentials([(key_pem, certificate_pem)], require_client_auth=False)
        port = server.add_secure_port("127.0.0.1:0", credentials)
        certificate_field = base64.b64encode(certificate_der).decode("ascii").rstrip("=")
    else:
        port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    out = handshake_out or sys.stdout
    out.write(f"1|{PROTOCOL_VERSION}|tcp|127.0.0.1:{port}|grpc|{certificate_field}\n")
    out.flush()
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    server.stop(grace=0.5)
    return 0


if __name__ == "__main__":
    raise SystemExit(serve())
