"""Identity over HTTP, through the local stack with the real SDKs (issue 16).

A per-user key, or an OIDC token from the tenant's identity provider, decides the tenant and the user on
every surface; no header can make it act as anyone else; an invalid, expired or revoked credential is a
401 in each surface's shape that changes nothing; header mode without a user is refused where per-user
budgets are on; GET /v1/budget shows the caller's own figures. The identity provider is a JWKS served on
127.0.0.1 by this module, and the tokens are signed here with RSA keys made here.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anthropic
import boto3
import openai
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import rsa

from cost_sentry._vendor import jwt
from cost_sentry._vendor.jwt.algorithms import RSAAlgorithm
from scripts.testbed.local_stack import LocalStack
from tests.integration.http_helpers import call, call_records, own_stack, period_item

pytestmark = pytest.mark.xdist_group("http_identity")

# A key made with `python -m scripts.cli.keys terraform` for tfvars (its hash only goes to Terraform).
TERRAFORM_KEY = "csk_" + "T" * 43
AUDIENCE = "cost-sentry-team"


class IdentityProvider:
    """An OIDC issuer on 127.0.0.1: discovery document, JWKS (rotatable), and tokens it signs."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        # The gateway's JWKS cache runs on this clock, so the tests can move past its refetch interval.
        self.now = 1_000.0
        self.jwks_requests = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": provider.issuer, "jwks_uri": provider.issuer + "/jwks"}
                elif self.path == "/jwks":
                    provider.jwks_requests += 1
                    body = {"keys": [provider.public_jwk(kid) for kid in provider.keys]}
                else:
                    self.send_error(404)
                    return
                payload = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.add_key("k1")

    def add_key(self, kid: str) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def public_jwk(self, kid: str) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.keys[kid].public_key()))
        return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}

    def token(
        self, email: str, *, kid: str = "k1", expires_in: int = 300, key: Any = None, **claims: Any
    ) -> str:
        now = int(time.time())
        payload = {"iss": self.issuer, "aud": AUDIENCE, "email": email, "iat": now, "exp": now + expires_in}
        return jwt.encode(
            {**payload, **claims}, key or self.keys[kid], algorithm="RS256", headers={"kid": kid}
        )


@pytest.fixture(scope="module")
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    yield provider
    provider.server.shutdown()


@pytest.fixture(scope="module")
def stack(idp: IdentityProvider) -> Iterator[LocalStack]:
    from cost_sentry.core.identity import key_hash

    tfvars = f"""
environment = "test"
tenants = {{
  team = {{
    application_id = "team-app"
    cost_center    = "team"
    models         = ["nova-micro"]
    budget         = {{ limit_usd = 1 }}
    users = {{
      default_limit_usd = 0.5
      keys = {{ carol-ci = {{ user = "carol", sha256 = "{key_hash(TERRAFORM_KEY)}", prefix = "csk_TTTTTTTT" }} }}
    }}
    oidc = {{ issuer = "{idp.issuer}", audience = "{AUDIENCE}", user_claim = "email" }}
  }}
  open = {{
    application_id = "open-app"
    cost_center    = "open"
    models         = ["nova-micro"]
    budget         = {{ limit_usd = 1 }}
    users          = {{ default_limit_usd = 0.5, allow_anonymous = true }}
  }}
}}
"""
    from cost_sentry.adapters.oidc import JwksCache, OidcVerifier

    verifier = OidcVerifier(JwksCache(clock=lambda: idp.now))
    with own_stack(
        tfvars,
        https=True,
        per_user_sessions=True,
        gateway_environment={"CONFIG_REFRESH_SECONDS": "2"},
        oidc_verifier=verifier,
    ) as running:
        yield running


@pytest.fixture(scope="module")
def admin(stack: LocalStack) -> Any:
    from cost_sentry.adapters.user_keys import UserKeyAdmin

    return UserKeyAdmin(stack.client("dynamodb"), stack.config_table)


@pytest.fixture
def tls(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    monkeypatch.setenv("AWS_CA_BUNDLE", stack.ca_file)
    monkeypatch.setenv("SSL_CERT_FILE", stack.ca_file)
    return stack


def body(stack: LocalStack) -> dict[str, Any]:
    return stack.tenants["team"].request_body("hello", max_tokens=64)


def users_of(stack: LocalStack, tenant: str = "team") -> list[str | None]:
    return sorted(str(record.get("user")) for record in call_records(stack, tenant))


def openai_client(stack: LocalStack, key: str, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=stack.gateway_https_url + "/v1", api_key=key, default_headers=headers, max_retries=0
    )


def anthropic_client(stack: LocalStack, key: str, **headers: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=stack.gateway_https_url, api_key=key, default_headers=headers, max_retries=0
    )


def bedrock_client(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch, key: str, user: str | None = None
) -> Any:
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", key)
    client = boto3.session.Session().client(
        "bedrock-runtime", region_name="us-east-1", endpoint_url=stack.gateway_https_url
    )
    if user is not None:

        def add_header(request: Any, **_: Any) -> None:
            request.headers["x-cost-sentry-user"] = user

        client.meta.events.register("before-send.bedrock-runtime.*", add_header)
    return client


def ask_openai(client: openai.OpenAI) -> Any:
    return client.chat.completions.create(
        model="nova-micro", max_tokens=32, messages=[{"role": "user", "content": "hi"}]
    )


def ask_anthropic(client: anthropic.Anthropic) -> Any:
    return client.messages.create(
        model="nova-micro", max_tokens=32, messages=[{"role": "user", "content": "hi"}]
    )


def ask_bedrock(client: Any) -> Any:
    return client.converse(
        modelId="nova-micro",
        messages=[{"role": "user", "content": [{"text": "hi"}]}],
        inferenceConfig={"maxTokens": 32},
    )


# -- per-user keys -------------------------------------------------------------------------------------


def test_a_user_key_acts_as_its_owner_on_every_surface_and_no_header_changes_that(
    tls: LocalStack, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, _ = admin.issue("team", "alice", name="laptop")
    before = len(call_records(tls, "team"))

    # Native: the key alone; the same name in the header; another name is 403 and changes nothing.
    assert call(tls, "/v1/converse", api_key=key, body=body(tls)).status == 200
    ok = call(tls, "/v1/converse", api_key=key, body=body(tls), headers={"x-cost-sentry-user": "alice"})
    assert ok.status == 200
    other = call(tls, "/v1/converse", api_key=key, body=body(tls), headers={"x-cost-sentry-user": "bob"})
    assert (other.status, other.error_code) == (403, "user_mismatch")
    # OpenAI, Anthropic, boto3 (AWS_BEARER_TOKEN_BEDROCK), each also tried with a header naming bob.
    assert ask_openai(openai_client(tls, key)).choices[0].message.content
    with pytest.raises(openai.PermissionDeniedError):
        ask_openai(openai_client(tls, key, **{"x-cost-sentry-user": "bob"}))
    assert ask_anthropic(anthropic_client(tls, key)).content
    with pytest.raises(anthropic.PermissionDeniedError):
        ask_anthropic(anthropic_client(tls, key, **{"x-cost-sentry-user": "bob"}))
    assert ask_bedrock(bedrock_client(tls, monkeypatch, key))["output"]
    with pytest.raises(ClientError) as caught:
        ask_bedrock(bedrock_client(tls, monkeypatch, key, user="bob"))
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    records = call_records(tls, "team")
    assert len(records) - before == 5
    assert {record["user"] for record in records[before:]} == {"alice"}
    # The per-user STS session is the proven user's (CUR 2.0's line_item_iam_principal names alice).
    assert all(record["principal"].endswith("/alice") for record in records[before:]), records[before:]


def test_a_key_from_terraform_works_like_an_issued_one(tls: LocalStack) -> None:
    result = call(tls, "/v1/converse", api_key=TERRAFORM_KEY, body=body(tls))
    assert result.status == 200, result.text
    assert result.json()["tags"]["user"] == "carol"


def credential_refused_everywhere(stack: LocalStack, monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    """Every surface answers 401 in its own shape, and the ledger does not move."""
    before = period_item(stack, "team")
    native = call(stack, "/v1/converse", api_key=key, body=body(stack))
    assert native.status == 401 and "error" in native.json()
    with pytest.raises(openai.AuthenticationError) as refused_openai:
        ask_openai(openai_client(stack, key))
    assert refused_openai.value.body["code"] == "invalid_api_key"
    with pytest.raises(anthropic.AuthenticationError) as refused_anthropic:
        ask_anthropic(anthropic_client(stack, key))
    assert refused_anthropic.value.body["error"]["type"] == "authentication_error"
    with pytest.raises(ClientError) as refused_bedrock:
        ask_bedrock(bedrock_client(stack, monkeypatch, key))
    assert refused_bedrock.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert period_item(stack, "team") == before


def test_a_revoked_key_is_refused_at_once_when_the_cache_never_saw_it(
    tls: LocalStack, admin: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key, issued = admin.issue("team", "dave")
    admin.revoke("team", issued.prefix)
    capsys.readouterr()
    credential_refused_everywhere(tls, monkeypatch, key)
    logged = capsys.readouterr()
    refusals = [line for line in logged.out.splitlines() if '"credential_refused"' in line]
    assert refusals and all('"revoked_user_key"' in line and issued.prefix in line for line in refusals)
    assert key not in logged.out + logged.err and key[12:] not in logged.out  # no secret, only the prefix


def test_a_used_key_revoked_stops_within_the_refresh_window(
    tls: LocalStack, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, issued = admin.issue("team", "erin")
    assert call(tls, "/v1/converse", api_key=key, body=body(tls)).status == 200
    admin.revoke("team", issued.prefix)
    time.sleep(2.2)  # CONFIG_REFRESH_SECONDS of this stack
    credential_refused_everywhere(tls, monkeypatch, key)


def test_an_expired_or_unknown_key_is_refused(
    tls: LocalStack, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two seconds ahead, so the issuing side's own clock (read a round trip later) never sees the
    # expiry as already past; then wait until the server's clock has passed it.
    expires_at = int(time.time()) + 2
    key, _ = admin.issue("team", "frank", expires_at=expires_at)
    time.sleep(max(0.0, expires_at - time.time()) + 0.1)
    credential_refused_everywhere(tls, monkeypatch, key)
    credential_refused_everywhere(tls, monkeypatch, "csk_" + "x" * 43)


def test_rotation_gives_a_working_key_and_retires_the_old_one(
    tls: LocalStack, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, issued = admin.issue("team", "gina")
    new, _, _ = admin.rotate("team", issued.prefix)
    assert call(tls, "/v1/converse", api_key=new, body=body(tls)).json()["tags"]["user"] == "gina"
    credential_refused_everywhere(tls, monkeypatch, old)


# -- header mode ---------------------------------------------------------------------------------------


def test_header_mode_without_a_user_is_refused_where_per_user_budgets_are_on(tls: LocalStack) -> None:
    team, open_ = tls.tenants["team"], tls.tenants["open"]
    before = period_item(tls, "team")
    refused = call(tls, "/v1/converse", api_key=team.api_key, body=body(tls))
    assert (refused.status, refused.error_code) == (403, "user_required")
    assert period_item(tls, "team") == before
    with pytest.raises(openai.PermissionDeniedError):
        ask_openai(openai_client(tls, team.api_key))
    named = call(
        tls, "/v1/converse", api_key=team.api_key, body=body(tls), headers={"x-cost-sentry-user": "henry"}
    )
    assert named.status == 200
    # The tenant that opted in (users.allow_anonymous) admits a request without a user.
    assert (
        call(tls, "/v1/converse", api_key=open_.api_key, body=open_.request_body("hi", max_tokens=64)).status
        == 200
    )
    # The user pattern stays strict.
    bad = call(
        tls, "/v1/converse", api_key=team.api_key, body=body(tls), headers={"x-cost-sentry-user": "a,b"}
    )
    assert (bad.status, bad.error_code) == (400, "invalid_user")


# -- the user's own budget -----------------------------------------------------------------------------


def test_the_budget_route_shows_the_callers_own_figures(tls: LocalStack, admin: Any) -> None:
    key, _ = admin.issue("team", "ivy", limit_nanos=200_000_000)  # USD 0.20, below the tenant's 0.50
    costs = [call(tls, "/v1/converse", api_key=key, body=body(tls)).json()["cost"]["usd"] for _ in range(2)]
    budget = call(tls, "/v1/budget", api_key=key).json()
    from decimal import Decimal

    spent = sum(Decimal(cost) for cost in costs)
    assert budget["user"]["id"] == "ivy"
    assert Decimal(budget["user"]["limitUsd"]) == Decimal("0.2")
    assert Decimal(budget["user"]["spentUsd"]) == spent
    assert Decimal(budget["user"]["heldUsd"]) == 0
    assert Decimal(budget["user"]["remainingUsd"]) == Decimal("0.2") - spent
    assert budget["tenantId"] == "team"


# -- OIDC ----------------------------------------------------------------------------------------------


def test_a_token_from_the_tenants_idp_names_the_user_on_every_surface(
    tls: LocalStack, idp: IdentityProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = idp.token("jo@example.com")
    result = call(tls, "/v1/converse", body=body(tls), headers={"authorization": f"Bearer {token}"})
    assert result.status == 200, result.text
    assert result.json()["tags"]["user"] == "jo@example.com"
    assert ask_openai(openai_client(tls, token)).choices
    assert ask_anthropic(anthropic_client(tls, token)).content
    assert ask_bedrock(bedrock_client(tls, monkeypatch, token))["output"]
    other = call(
        tls,
        "/v1/converse",
        body=body(tls),
        headers={"authorization": f"Bearer {token}", "x-cost-sentry-user": "bob"},
    )
    assert (other.status, other.error_code) == (403, "user_mismatch")


@pytest.mark.parametrize("which", ["forged", "expired", "wrong audience", "other issuer", "alg none"])
def test_a_forged_or_expired_token_is_refused_in_each_surfaces_shape(
    tls: LocalStack,
    idp: IdentityProvider,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    which: str,
) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = {
        "forged": lambda: idp.token("jo@example.com", key=stranger),
        "expired": lambda: idp.token("jo@example.com", expires_in=-120),
        "wrong audience": lambda: idp.token("jo@example.com", aud="another-app"),
        "other issuer": lambda: idp.token("jo@example.com", iss="https://evil.example"),
        "alg none": lambda: jwt.encode(
            {"iss": idp.issuer, "aud": AUDIENCE, "email": "jo@example.com", "exp": int(time.time()) + 60},
            None,
            algorithm="none",
        ),
    }[which]()
    capsys.readouterr()
    credential_refused_everywhere(tls, monkeypatch, token)
    logged = capsys.readouterr()
    signature = token.split(".")[2] or token  # no token, nor its signature, in any log line
    assert token not in logged.out + logged.err and signature not in logged.out + logged.err


def test_a_rotated_signing_key_is_fetched_once(tls: LocalStack, idp: IdentityProvider) -> None:
    assert (
        call(
            tls,
            "/v1/converse",
            body=body(tls),
            headers={"authorization": f"Bearer {idp.token('kim@example.com')}"},
        ).status
        == 200
    )
    fetched = idp.jwks_requests
    idp.add_key("k2")
    idp.now += 61  # past the refetch interval since the last fetch (one a minute per issuer)
    rotated = idp.token("kim@example.com", kid="k2")
    assert (
        call(tls, "/v1/converse", body=body(tls), headers={"authorization": f"Bearer {rotated}"}).status
        == 200
    )
    assert idp.jwks_requests == fetched + 1
    # An unknown kid right after: refused without another fetch (one refetch per minute per issuer).
    unknown = idp.token("kim@example.com", kid="k1")
    forged_kid = unknown.replace(
        unknown.split(".")[0], jwt.utils.base64url_encode(b'{"alg":"RS256","kid":"k9","typ":"JWT"}').decode()
    )
    assert (
        call(tls, "/v1/converse", body=body(tls), headers={"authorization": f"Bearer {forged_kid}"}).status
        == 401
    )
    assert idp.jwks_requests == fetched + 1


def test_the_users_report_lists_spend_per_user_with_the_principal_billed(
    tls: LocalStack, admin: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from scripts.cli.reports.__main__ import main as reports

    key, _ = admin.issue("team", "lena")
    assert call(tls, "/v1/converse", api_key=key, body=body(tls)).status == 200
    capsys.readouterr()
    assert reports(["users", "--ledger-table", tls.ledger_table, "--tenant", "team"]) == 0
    lines = capsys.readouterr().out.splitlines()
    [lena] = [line.split() for line in lines if " lena " in line]
    assert lena[0] == "team" and lena[2].endswith("/lena") and ":assumed-role/" in lena[2] and lena[3] == "1"


def test_streams_run_as_the_keys_owner_too(tls: LocalStack, admin: Any) -> None:
    key, _ = admin.issue("team", "mona")
    streamed = call(tls, "/v1/converse-stream", api_key=key, body=body(tls))
    assert streamed.status == 200 and streamed.sse_events()[-1]["tags"]["user"] == "mona"
    refused = call(
        tls, "/v1/converse-stream", api_key=key, body=body(tls), headers={"x-cost-sentry-user": "bob"}
    )
    assert (refused.status, refused.error_code) == (403, "user_mismatch")
    chunks = list(
        openai_client(tls, key).chat.completions.create(
            model="nova-micro", max_tokens=32, stream=True, messages=[{"role": "user", "content": "hi"}]
        )
    )
    assert chunks
    assert [r["user"] for r in call_records(tls, "team")].count("mona") == 2
