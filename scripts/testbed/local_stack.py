"""The local stack: both deployments of the gateway on emulators, on 127.0.0.1.

``python -m scripts.testbed.local_stack serve --account workload [--port 8080] [--https-port 8443]``
(``make serve``) starts:

- moto in server mode (DynamoDB, API Gateway, STS, IAM) unless ``AWS_ENDPOINT_URL`` is already set;
- the Bedrock runtime stand-in (scripts/testbed/emulators) unless ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` is set;
- on ``port``, plain HTTP/1.1: the emulation of API Gateway + Lambda. Each request becomes an API Gateway
  REST v1 proxy event for the gateway function, called in this process, after the key check the
  deployed authorizer does (cost_sentry.handlers.api_front: the tenant's key, a per-user key or an OIDC
  token from ``x-api-key`` or ``Authorization: Bearer``, refused in the surface's own error shape). It
  answers as the deployed streaming integration does: a streaming surface's chunks as they come.
- with ``https=True`` (``make serve``), on ``https_port``: the container deployment, granian serving
  cost_sentry.handlers.asgi:app in its own process on this stack's environment
  (scripts/testbed/container_front.py), HTTP/2 or HTTP/1.1 by ALPN, with a certificate from a CA the
  stack makes (``LocalStack.ca_file``; SDKs that only send bearer tokens over HTTPS, like botocore,
  trust it through ``AWS_CA_BUNDLE``). Its log lines join the stack's (``lambda_log_lines()``).

Bootstrap does what ``make apply`` does in an account, against the emulators: the ledger and config
tables (``cost_sentry.adapters.tables``), one API Gateway API key per tenant, one (fake) application inference
profile ARN per tenant and model, and the config items: the documents Terraform builds (modules/tenants,
read from the account root's offline plan by scripts/testbed/terraform_offline/outputs.py), completed
with the API key id, the profile ARNs and the invoker role exactly as modules/gateway/tables.tf does.

The gateway's stdout (its JSON logs and EMF metric documents) is what CloudWatch Logs would receive; the
stack keeps those lines (``LocalStack.lambda_log_lines()``) so the demo can aggregate the metrics. (Under
pytest, whose capture replaces ``sys.stdout`` per test, the lines go to the test's capture instead: read
them with ``capsys``.)

Python API (the demo, the benchmark and the integration tests use it)::

    with LocalStack(account="workload") as stack:
        stack.gateway_url, stack.tenants["sales"].api_key, stack.bedrock.inject_fault("throttle")
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import importlib
import io
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

from scripts import REPO_ROOT
from scripts.testbed.emulators.bedrock_runtime import BedrockRuntimeStub
from scripts.testbed.emulators.moto_server import reset_moto, start_moto
from scripts.testbed.terraform_offline.outputs import PlanError, account_root, plan_output_values

LAMBDA_SRC = REPO_ROOT / "lambda_src"
if str(LAMBDA_SRC) not in sys.path:
    sys.path.insert(0, str(LAMBDA_SRC))  # cost_sentry as the Lambda runtime finds it (use_lambda_package)

from cost_sentry.core.tenants import tenant_item_key  # noqa: E402

# What API Gateway and the authorizer do: one definition, shared with the container's ASGI app.
from cost_sentry.handlers.api_front import (  # noqa: E402
    LOCAL_ACCOUNT_ID,
    REGION,
    ApiFront,
    LambdaContext,
    Responder,
)
from cost_sentry.handlers.api_front import proxy_event as proxy_event  # noqa: E402 - for the scripts

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

# The defaults a local run needs that the Terraform module sets on the real function.
GATEWAY_ENVIRONMENT = {
    "LOG_PROMPTS": "false",
    "MAX_REQUEST_SECONDS": "300",
    "BEDROCK_TIMEOUT_SECONDS": "60",
    "CONFIG_REFRESH_SECONDS": "300",
    "PROFILE_RESOLVER": "static",
    "PER_USER_SESSIONS": "false",
    "CALL_RECORD_RETENTION_DAYS": "400",
}


@dataclass(frozen=True)
class TenantAccess:
    """What a tenant's developer gets after an apply: an API key, and which profile serves each model."""

    tenant_id: str
    application_id: str
    cost_center: str
    api_key: str
    api_key_id: str
    # Short model name -> application inference profile ARN; the first model is the default.
    profile_arns: Mapping[str, str]

    @property
    def default_model(self) -> str:
        return next(iter(self.profile_arns))

    def request_body(self, text: str, model: str | None = None, max_tokens: int = 256) -> dict[str, Any]:
        """A gateway request body (docs/design.md section 5) with one user message."""
        return {
            "model": model or self.default_model,
            "prompt": {
                "messages": [{"role": "user", "content": text}],
                "parameters": {"max_tokens": max_tokens},
            },
            "tags": {"applicationId": self.application_id},
        }


# --------------------------------------------------------------------------------------------------
# moto, with DynamoDB writes serialized
# --------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------
# The gateway's stdout: CloudWatch Logs of the local stack
# --------------------------------------------------------------------------------------------------


class LambdaLogCapture(io.TextIOBase):
    """Stands in for ``sys.stdout``: lines printed by threads running the handler are kept (and echoed
    to ``echo`` if given); everything else goes to the real stdout untouched."""

    def __init__(self, real: TextIO, echo: TextIO | None = None) -> None:
        self._real = real
        self._echo = echo
        self._local = threading.local()
        self._lines: list[str] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def capturing(self) -> Iterator[None]:
        self._local.active = True
        self._local.partial = ""
        try:
            yield
        finally:
            self._flush_partial()
            self._local.active = False

    def write(self, text: str) -> int:
        if not getattr(self._local, "active", False):
            return self._real.write(text)
        buffered = self._local.partial + text
        *complete, self._local.partial = buffered.split("\n")
        if complete:
            with self._lock:
                self._lines.extend(complete)
            if self._echo is not None:
                for line in complete:
                    self._echo.write(line + "\n")
                self._echo.flush()
        return len(text)

    def _flush_partial(self) -> None:
        if self._local.partial:
            with self._lock:
                self._lines.append(self._local.partial)
            self._local.partial = ""

    def flush(self) -> None:
        if not getattr(self._local, "active", False):
            self._real.flush()

    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)

    def clear(self) -> None:
        with self._lock:
            self._lines.clear()


# --------------------------------------------------------------------------------------------------
# The HTTP front: API Gateway REST API, Lambda proxy integration, event format 1.0
# --------------------------------------------------------------------------------------------------


class _FrontServer(ThreadingHTTPServer):
    """The plain-HTTP front (HTTP/1.1): API Gateway + the Lambda function, in this process. The HTTPS
    front is the container's server instead (scripts/testbed/container_front.py: granian, HTTP/2 and 1.1)."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A caller that hung up before its answer was written: nothing to report.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    # Bursts of concurrent clients (the 64-request test) must queue, not be refused.
    request_queue_size = 256
    handler: Handler
    api_front: ApiFront  # the key check, the proxy event, the gateway function (handlers/api_front.py)
    log_capture: LambdaLogCapture


class _FrontHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes; with Nagle on, the client's delayed ACK adds ~40 ms.
    disable_nagle_algorithm = True
    server: _FrontServer

    def log_message(self, format: str, *args: Any) -> None:
        """Access lines would drown the gateway's own JSON logs; those are the record."""

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        # API Gateway lower-cases nothing, but HTTP headers are case-insensitive; lower case is what
        # the REST API's proxy event carries for HTTP/2 clients, so the handler must cope with it anyway.
        headers = {name.lower(): value for name, value in self.headers.items()}
        with self.server.log_capture.capturing():
            answer = self.server.api_front.answer(
                self.command, self.path, headers, body, self.client_address[0]
            )
            if answer.chunks is None:
                self._send(answer.status, answer.headers, answer.body, answer.request_id)
            else:
                self._send_stream(answer, answer.request_id)

    def _send_stream(self, response: Any, request_id: str) -> None:
        """Each chunk as the surface yields it. A caller that hangs up does not stop the call: the rest
        is read (and dropped) so the service settles the usage Bedrock reports, as the deployed
        streaming runtime does."""
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() not in {"content-length", "transfer-encoding", "connection"}:
                self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        if "x-amzn-requestid" not in {name.lower() for name in response.headers}:
            self.send_header("x-amzn-RequestId", request_id)
        connected = True
        try:
            self.end_headers()
        except OSError:
            connected = False
        chunks = response.chunks
        try:
            for chunk in chunks:
                if not connected or not chunk:
                    continue
                try:
                    self.wfile.write(f"{len(chunk):X}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
                except OSError:
                    connected = False  # the caller went away: keep draining for an exact settle
            if connected:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
        except OSError:
            pass
        finally:
            chunks.close()
        if not connected:
            self.close_connection = True

    def _send(self, status: int, headers: Mapping[str, str], payload: bytes, request_id: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in {"content-length", "transfer-encoding", "connection"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        if "x-amzn-requestid" not in {name.lower() for name in headers}:
            self.send_header("x-amzn-RequestId", request_id)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


def _http_response(response: Mapping[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """Validate the proxy response like API Gateway does (a malformed one is a 502)."""
    status = response.get("statusCode")
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError(f"malformed Lambda proxy response: statusCode {status!r}")
    headers = {str(k): str(v) for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[str(name)] = ", ".join(str(v) for v in values)
    body = response.get("body") or ""
    if not isinstance(body, str):
        raise ValueError("malformed Lambda proxy response: body must be a string")
    payload = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode("utf-8")
    return status, headers, payload


# --------------------------------------------------------------------------------------------------
# Bootstrap and the stack
# --------------------------------------------------------------------------------------------------


def account_outputs(account: str = "workload", *, tfvars_text: str | None = None) -> dict[str, Any]:
    """An account root's planned output values (tenants, per_user_sessions, ...): its terraform.tfvars,
    or ``tfvars_text`` instead (tests), evaluated by Terraform (cached; see terraform_offline/outputs.py).
    Text that leaves out account_id and region gets the local stack's (moto's account)."""
    return plan_output_values(
        account_root(account),
        tfvars_text=tfvars_text,
        defaults={"account_id": LOCAL_ACCOUNT_ID, "region": REGION},
    )


def deployed_config(
    tenant: Mapping[str, Any],
    api_key_ids: list[str],
    profile_arns: Mapping[str, str],
    invoker_role_arn: str | None,
) -> dict[str, Any]:
    """The config document as modules/gateway/tables.tf writes it: Terraform's document (the tenant's
    ``config``) plus what only exists after an apply."""
    return {
        **tenant["config"],
        "apiKeyIds": list(api_key_ids),
        "models": {model: profile_arns[model] for model in tenant["models"]},
        "invokerRoleArn": invoker_role_arn,
    }


def config_item(tenant_id: str, document: Mapping[str, Any]) -> dict[str, Any]:
    """The ``tenant#<id>`` item (DynamoDB attribute values) holding one config document."""
    return {**tenant_item_key(tenant_id), "config": {"S": json.dumps(document, sort_keys=True)}}


def fake_profile_arn(tenant_id: str, model: str) -> str:
    """A stable, realistic application inference profile ARN for (tenant, model)."""
    profile_id = hashlib.sha256(f"{tenant_id}/{model}".encode()).hexdigest()[:12]
    return f"arn:aws:bedrock:{REGION}:{LOCAL_ACCOUNT_ID}:application-inference-profile/{profile_id}"


class PortUnavailable(OSError):
    """A front's port is taken: the message names it and how to choose another."""

    def __init__(self, port: int, option: str, make_variable: str, cause: OSError) -> None:
        super().__init__(
            cause.errno,
            f"cannot listen on 127.0.0.1:{port} ({cause.strerror or cause}): the port is taken; stop what "
            f"holds it or choose another with {option} (make serve {make_variable}=...)",
        )
        self.port = port


def _bind_front(port: int, option: str, make_variable: str) -> _FrontServer:
    try:
        return _FrontServer(("127.0.0.1", port), _FrontHandler)
    except OSError as error:
        raise PortUnavailable(port, option, make_variable, error) from error


def _bind_socket(port: int, option: str, make_variable: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the stdlib server does
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as error:
        sock.close()
        raise PortUnavailable(port, option, make_variable, error) from error
    return sock


def _stop_server(server: ThreadingHTTPServer, thread: threading.Thread) -> None:
    server.shutdown()
    thread.join()
    server.server_close()


def _buffered_responder(handler: Handler) -> Responder:
    """A plain proxy handler (a test's own) as a responder: its whole body at once."""
    from cost_sentry.surfaces.http import HttpResponse

    def respond(event: dict[str, Any], context: Any) -> Any:
        status, headers, payload = _http_response(handler(event, context))
        return HttpResponse(status, headers, payload)

    return respond


def make_tls(directory: str) -> tuple[str, str, str]:
    """A CA and a certificate for 127.0.0.1 / localhost signed by it, in ``directory``; returns the CA
    file clients trust, and the server's certificate and key files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Cost Sentry local CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = os.path.join(directory, "ca.pem")
    cert_file = os.path.join(directory, "server.pem")
    key_file = os.path.join(directory, "server.key")
    with open(ca_file, "wb") as out:
        out.write(ca_cert.public_bytes(serialization.Encoding.PEM))
    with open(cert_file, "wb") as out:
        out.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_file, "wb") as out:
        out.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return ca_file, cert_file, key_file


def load_gateway_responder() -> Responder:
    """The gateway module's streaming entry point (loaded after load_gateway_handler's cold start)."""
    return sys.modules["cost_sentry.handlers.gateway"].respond


def use_lambda_package() -> None:
    """Make ``cost_sentry`` importable the way the Lambda runtime does: lambda_src/ is the package root."""
    if str(LAMBDA_SRC) not in sys.path:
        sys.path.insert(0, str(LAMBDA_SRC))


def load_gateway_handler() -> Handler:
    """A cold start: (re)import the gateway so it reads this stack's environment and builds its clients."""
    use_lambda_package()
    module_name = "cost_sentry.handlers.gateway"
    if module_name in sys.modules:
        module = importlib.reload(sys.modules[module_name])
    else:
        module = importlib.import_module(module_name)
    return module.handler


@dataclass
class LocalStack:
    """moto + the Bedrock stand-in + the HTTP front, bootstrapped from an account root's planned outputs.

    ``outputs`` (output name -> value, as ``account_outputs`` returns) replaces the account's own (tests
    plan small budgets with ``account_outputs(tfvars_text=...)``). ``gateway_environment``
    overrides the gateway's environment (e.g. ``BEDROCK_TIMEOUT_SECONDS``). The handler reads the
    process environment, as on Lambda, so the stack sets its variables in ``os.environ`` and restores them
    on exit: one stack per process at a time.
    """

    account: str = "workload"
    port: int = 0
    outputs: Mapping[str, Any] | None = None
    gateway_environment: Mapping[str, str] = field(default_factory=dict)
    bedrock_reply_tokens: int | None = None
    bedrock_latency_ms: int = 0
    # A stand-in that streams like a model: first token after this long, then one token per interval.
    bedrock_first_token_ms: int = 0
    bedrock_token_interval_ms: int = 0
    echo_lambda_logs: TextIO | None = None
    # As the Terraform module deploys it; False lets requests without a valid key reach the handler.
    api_key_required: bool = True
    # PER_USER_SESSIONS=true plus an invoker role per tenant in moto's IAM: Bedrock calls carry per-user STS
    # credentials. None: as the account's per_user_sessions says, like Terraform.
    per_user_sessions: bool | None = None
    handler_loader: Callable[[], Handler] = load_gateway_handler
    # Also serve HTTPS (a second front, same handler) with a certificate from a CA made for this run.
    https: bool = False
    https_port: int = 0
    # The authorizer's OIDC verifier (None: the default, fetching each issuer's keys over HTTPS).
    oidc_verifier: Any = None

    # Filled in by start().
    moto_url: str = field(init=False, default="")
    bedrock_url: str = field(init=False, default="")
    gateway_url: str = field(init=False, default="")
    gateway_https_url: str = field(init=False, default="")
    ca_file: str = field(init=False, default="")
    ledger_table: str = field(init=False, default="")
    config_table: str = field(init=False, default="")
    bedrock: BedrockRuntimeStub | None = field(init=False, default=None)
    tenants: dict[str, TenantAccess] = field(init=False, default_factory=dict)
    api_keys: Any = field(init=False, default=None)  # the authorizer's ApiKeyDirectory
    config_store: Any = field(init=False, default=None)  # the authorizer's view of the config table
    credentials: Any = field(init=False, default=None)  # the authorizer's CredentialChecker
    # The HTTPS front (https=True): scripts/testbed/container_front.ContainerFront, granian's process.
    container_front: Any = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._exit = contextlib.ExitStack()
        self._log_capture: LambdaLogCapture | None = None
        self._handler: Handler | None = None

    # -- lifecycle -----------------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        try:
            self._start()
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._exit.close()

    def _set_env(self, name: str, value: str, respect_existing: bool = False) -> str:
        """Set one variable for the stack's lifetime; with ``respect_existing`` a preset value wins."""
        previous = os.environ.get(name)
        if respect_existing and previous:
            return previous
        os.environ[name] = value

        def restore() -> None:
            if previous is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = previous

        self._exit.callback(restore)
        return value

    def _start(self) -> None:
        # The fronts' ports first: a taken one is an error naming it before anything else starts.
        front = _bind_front(self.port, "--port", "PORT")
        self._exit.callback(front.server_close)
        tls_socket = _bind_socket(self.https_port, "--https-port", "HTTPS_PORT") if self.https else None
        if tls_socket is not None:
            self._exit.callback(tls_socket.close)  # a no-op once the container front has its port
        account = self.outputs if self.outputs is not None else account_outputs(self.account)
        if not account.get("tenants"):
            raise PlanError(
                f"account {self.account!r} has no tenants output: the local stack serves the workload"
            )
        if self.per_user_sessions is None:
            self.per_user_sessions = bool(account.get("per_user_sessions", False))
        # Never let a local run reach a real account: credentials are fake unless the caller set some.
        for name, value in (
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
            ("AWS_DEFAULT_REGION", REGION),
        ):
            self._set_env(name, value, respect_existing=True)

        if os.environ.get("AWS_ENDPOINT_URL"):
            self.moto_url = os.environ["AWS_ENDPOINT_URL"]
        else:
            moto, url = start_moto()
            self._exit.callback(moto.stop)
            # moto keeps its backends in module globals, so they outlive the server: drop this stack's data
            # (only ever on a server this stack started) so a long demo does not leave it all to exit.
            self._exit.callback(reset_moto, url)
            self.moto_url = self._set_env("AWS_ENDPOINT_URL", url)

        if os.environ.get("AWS_ENDPOINT_URL_BEDROCK_RUNTIME"):
            self.bedrock_url = os.environ["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"]
        else:
            stub = BedrockRuntimeStub(
                reply_tokens=self.bedrock_reply_tokens,
                latency_ms=self.bedrock_latency_ms,
                first_token_ms=self.bedrock_first_token_ms,
                token_interval_ms=self.bedrock_token_interval_ms,
            )
            self._exit.enter_context(stub)
            self.bedrock = stub
            self.bedrock_url = self._set_env("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", stub.url)

        # Unique names, so stacks sharing one moto server (a preset AWS_ENDPOINT_URL) never collide.
        suffix = uuid.uuid4().hex[:8]
        self.ledger_table = f"cost-sentry-ledger-{suffix}"
        self.config_table = f"cost-sentry-config-{suffix}"
        per_user = {"PER_USER_SESSIONS": "true"} if self.per_user_sessions else {}
        planned = {
            "METRICS_NAMESPACE": account["metrics_namespace"],
            # As Terraform sets it: the principal of the gateway's own role session (call records).
            "OWN_PRINCIPAL": account["gateway_principals"]["gateway"],
        }
        for name, value in {**GATEWAY_ENVIRONMENT, **planned, **per_user, **self.gateway_environment}.items():
            self._set_env(name, value)
        self._set_env("LEDGER_TABLE", self.ledger_table)
        self._set_env("CONFIG_TABLE", self.config_table)

        self._bootstrap(account)

        capture = LambdaLogCapture(sys.stdout, echo=self.echo_lambda_logs)
        self._log_capture = capture
        original_stdout = sys.stdout
        sys.stdout = capture

        def restore_stdout() -> None:
            # Someone else (pytest's capture) may have swapped stdout since; then it is theirs to restore.
            if sys.stdout is capture:
                sys.stdout = original_stdout

        self._exit.callback(restore_stdout)

        handler = self.handler_loader()
        self._handler = handler
        responder = load_gateway_responder() if self.handler_loader is load_gateway_handler else None
        from cost_sentry.adapters.api_keys import ApiKeyDirectory
        from cost_sentry.adapters.config_store import ConfigStore
        from cost_sentry.adapters.credentials import CredentialChecker

        self.api_keys = ApiKeyDirectory(self.client("apigateway"))
        self.config_store = ConfigStore(
            self.client("dynamodb"), self.config_table, int(os.environ.get("CONFIG_REFRESH_SECONDS", "300"))
        )
        self.credentials = CredentialChecker(self.api_keys, self.config_store, oidc=self.oidc_verifier)
        front.handler = handler
        front.api_front = ApiFront(
            self.credentials,
            responder or _buffered_responder(handler),
            api_key_required=self.api_key_required,
            timeout_seconds=int(os.environ.get("MAX_REQUEST_SECONDS", "300")),
        )
        front.log_capture = capture
        thread = threading.Thread(target=front.serve_forever, name="gateway-front", daemon=True)
        thread.start()
        self._exit.callback(_stop_server, front, thread)
        host, bound = front.server_address[:2]
        self.gateway_url = f"http://{host}:{bound}"
        if tls_socket is not None:
            self._start_container_front(tls_socket, capture)

    def _start_container_front(self, reserved: socket.socket, capture: LambdaLogCapture) -> None:
        """The HTTPS front: the container's server (granian + cost_sentry.handlers.asgi:app) in its own
        process, on this stack's environment, with a certificate from a CA made for this run."""
        from scripts.testbed.container_front import ContainerFront, FrontNotReady, address_in_use

        directory = tempfile.mkdtemp(prefix="cost-sentry-tls-")
        self._exit.callback(shutil.rmtree, directory, True)
        self.ca_file, cert_file, key_file = make_tls(directory)

        def keep(line: str) -> None:
            # As the in-process function's output: the stack's capture (or the test's, under pytest).
            with capture.capturing():
                sys.stdout.write(line)

        # The port was held until now so that a taken one failed first, naming it; granian binds it.
        port = reserved.getsockname()[1]
        reserved.close()
        server = ContainerFront(
            port,
            cert_file=cert_file,
            key_file=key_file,
            ca_file=self.ca_file,
            log_sink=keep,
            error_stream=sys.stderr,
        )
        try:
            server.start()
        except FrontNotReady as error:
            if address_in_use(server):
                raise PortUnavailable(
                    port, "--https-port", "HTTPS_PORT", OSError(98, "Address already in use")
                ) from error
            raise
        self._exit.callback(server.stop)
        self.container_front = server
        self.gateway_https_url = server.url

    def _bootstrap(self, account: Mapping[str, Any]) -> None:
        use_lambda_package()
        from cost_sentry.adapters import tables
        from cost_sentry.core.catalog import default_catalog

        tables.create_tables(self.client("dynamodb"), self.ledger_table, self.config_table)
        apigateway = self.client("apigateway")
        catalog = default_catalog()
        dynamodb = self.client("dynamodb")
        tenants: Mapping[str, Mapping[str, Any]] = account["tenants"]
        for tenant_id, tenant in tenants.items():
            key = apigateway.create_api_key(
                name=f"{tenant['api_key_name']}-{self.ledger_table[-8:]}",
                enabled=True,
                tags={"tenant": tenant_id, "costCenter": tenant["cost_center"]},
            )
            profile_arns = {model: fake_profile_arn(tenant_id, model) for model in tenant["models"]}
            self.tenants[tenant_id] = TenantAccess(
                tenant_id=tenant_id,
                application_id=tenant["application_id"],
                cost_center=tenant["cost_center"],
                api_key=key["value"],
                api_key_id=key["id"],
                profile_arns=profile_arns,
            )
            if self.bedrock is not None:
                # The stand-in then refuses anything but the tenants' profiles: the gateway must send those.
                for model, arn in profile_arns.items():
                    self.bedrock.register_model(arn, catalog.get(model).max_output_tokens)
            invoker = self._invoker_role(tenant["invoker_role_name"]) if self.per_user_sessions else None
            document = deployed_config(tenant, [key["id"]], profile_arns, invoker)
            dynamodb.put_item(TableName=self.config_table, Item=config_item(tenant_id, document))

    def _invoker_role(self, role_name: str) -> str:
        """A tenant's invoker role, named as Terraform names it, in moto's IAM (reused if it exists)."""
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{LOCAL_ACCOUNT_ID}:root"},
                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                }
            ],
        }
        iam = self.client("iam")
        try:
            role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))
        except iam.exceptions.EntityAlreadyExistsException:
            role = iam.get_role(RoleName=role_name)
        return str(role["Role"]["Arn"])

    # -- helpers for callers -------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` on the stack's emulators (for bootstrap, tests and reports).

        Its endpoint comes from the same settings the gateway's clients read (``AWS_ENDPOINT_URL_<SERVICE>``,
        then ``AWS_ENDPOINT_URL``), so both always see the same tables.
        """
        import boto3

        # A session per client: creating clients from boto3's default session is not thread-safe.
        return boto3.session.Session().client(service, region_name=REGION)

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        """Call the handler directly (no HTTP), as Lambda would, with its output kept like the front's."""
        if self._handler is None or self._log_capture is None:
            raise RuntimeError("the stack is not running")
        context = LambdaContext(
            aws_request_id=str(uuid.uuid4()), deadline_epoch_ms=int(time.time() * 1000) + 120_000
        )
        with self._log_capture.capturing():
            return self._handler(event, context)

    def lambda_log_lines(self) -> list[str]:
        return self._log_capture.lines() if self._log_capture else []

    def emf_documents(self) -> list[dict[str, Any]]:
        """The EMF metric documents the gateway printed (the lines CloudWatch would turn into metrics)."""
        documents = []
        for line in self.lambda_log_lines():
            if line.startswith("{") and '"_aws"' in line:
                with contextlib.suppress(ValueError):
                    documents.append(json.loads(line))
        return documents

    def curl_examples(self) -> list[str]:
        examples = []
        for tenant in self.tenants.values():
            body = json.dumps(tenant.request_body(f"Hello from {tenant.tenant_id}", max_tokens=64))
            examples.append(
                f"curl -s {self.gateway_url}/v1/converse -H 'x-api-key: {tenant.api_key}' "
                f"-H 'content-type: application/json' -d '{body}'"
            )
        return examples


def sdk_exports(stack: LocalStack) -> list[str]:
    """The shell lines the README's SDK snippets read: the HTTPS front (botocore sends a bearer token over
    HTTPS only), the first tenant's key, and trust in the stack's CA for Python and Node."""
    tenant = next(iter(stack.tenants.values()))
    models = ", ".join(tenant.profile_arns)
    ca = stack.ca_file
    return [
        f"export COST_SENTRY_URL={stack.gateway_https_url}",
        f"export COST_SENTRY_KEY={tenant.api_key}  # tenant {tenant.tenant_id}: {models}",
        f"export AWS_BEARER_TOKEN_BEDROCK={tenant.api_key}",
        f"export AWS_CA_BUNDLE={ca} SSL_CERT_FILE={ca} NODE_EXTRA_CA_CERTS={ca}",
    ]


def serve(account: str, port: int, per_user_sessions: bool | None = None, https_port: int = 8443) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with LocalStack(
        account=account,
        port=port,
        echo_lambda_logs=sys.stderr,
        per_user_sessions=per_user_sessions,
        https=True,
        https_port=https_port,
    ) as stack:
        print(f"Cost Sentry gateway for account {account!r}:")
        print(f"  {stack.gateway_url:<26} API Gateway + Lambda, emulated in this process (HTTP/1.1)")
        print(
            f"  {stack.gateway_https_url:<26} the container: granian serving cost_sentry.handlers.asgi:app "
            f"(HTTP/2 or 1.1; trust the CA in {stack.ca_file})"
        )
        print(f"  moto (DynamoDB, API Gateway, STS): {stack.moto_url}")
        print(f"  Bedrock runtime stand-in:          {stack.bedrock_url}")
        print(f"  tables: {stack.ledger_table}, {stack.config_table}")
        sessions = (
            "on: each x-cost-sentry-user gets its own STS session" if stack.per_user_sessions else "off"
        )
        print(f"  per-user sessions: {sessions}")
        print("\nAPI keys:")
        for tenant in stack.tenants.values():
            print(f"  {tenant.tenant_id:<10} {tenant.api_key}")
        print("\nFor the README's SDK snippets, paste into your shell:")
        for line in sdk_exports(stack):
            print(f"  {line}")
        print("\nTry:")
        for example in stack.curl_examples():
            print(f"  {example}")
        tenant = next(iter(stack.tenants.values()))
        print(f"  curl -s {stack.gateway_url}/v1/budget -H 'x-api-key: {tenant.api_key}'")
        print(
            f"\nPer-user keys: AWS_ENDPOINT_URL={stack.moto_url} AWS_DEFAULT_REGION={REGION} AWS_ACCESS_KEY_ID=testing "
            f"AWS_SECRET_ACCESS_KEY=testing CONFIG_TABLE={stack.config_table} "
            'make keys ARGS="issue --tenant <tenant> --user <user>"'
        )
        print("\nGateway logs go to stderr. Ctrl-C stops everything.", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        print("\nstopping", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the gateway locally on emulators.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="start the stack and serve until Ctrl-C")
    serve_parser.add_argument("--account", default="workload")
    serve_parser.add_argument("--port", type=int, default=8080)
    serve_parser.add_argument("--https-port", type=int, default=8443)
    serve_parser.add_argument(
        "--per-user-sessions",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="an STS session per x-cost-sentry-user (moto STS); default: the account's per_user_sessions",
    )
    args = parser.parse_args(argv)
    try:
        return serve(args.account, args.port, args.per_user_sessions, args.https_port)
    except PlanError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: cannot start the local stack: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
