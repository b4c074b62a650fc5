"""OIDC token checks (adapters/oidc.py): the pure-Python RS256, the JWKS cache and its rotation rule.

The tokens are signed here with RSA keys made here (cryptography, a dev dependency); the gateway
verifies them without it.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from cost_sentry._vendor import jwt
from cost_sentry._vendor.jwt.algorithms import RSAAlgorithm
from cost_sentry.adapters.oidc import JwksCache, OidcVerifier, Rs256, TokenRefused
from cost_sentry.core.identity import OidcSettings

ISSUER = "https://idp.example"
SETTINGS = OidcSettings(issuer=ISSUER, audience="app", user_claim="email")


def make_key() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


KEYS = {"k1": make_key()}


def jwk(kid: str, private: Any) -> dict[str, Any]:
    return {**json.loads(RSAAlgorithm.to_jwk(private.public_key())), "kid": kid, "use": "sig"}


class Idp:
    def __init__(self) -> None:
        self.keys = dict(KEYS)
        self.fetched: list[str] = []
        self.now = 0.0

    def fetch(self, url: str) -> bytes:
        self.fetched.append(url)
        if url.endswith("/.well-known/openid-configuration"):
            return json.dumps({"issuer": ISSUER, "jwks_uri": ISSUER + "/keys"}).encode()
        return json.dumps({"keys": [jwk(kid, key) for kid, key in self.keys.items()]}).encode()

    def verifier(self) -> OidcVerifier:
        return OidcVerifier(JwksCache(fetch=self.fetch, clock=lambda: self.now))


def token(kid: str = "k1", key: Any = None, **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": "app", "email": "jo@example.com", "iat": now, "exp": now + 60, **claims}
    return jwt.encode(payload, key or KEYS[kid], algorithm="RS256", headers={"kid": kid})


def test_rs256_accepts_exactly_what_cryptography_signed() -> None:
    key = KEYS["k1"]
    message = b"header.payload"
    signature = RSAAlgorithm(RSAAlgorithm.SHA256).sign(message, key)
    public = jwk("k1", key)
    assert Rs256().verify(message, public, signature)
    assert not Rs256().verify(message + b"x", public, signature)
    assert not Rs256().verify(message, public, signature[:-1] + bytes([signature[-1] ^ 1]))
    assert not Rs256().verify(message, jwk("k2", make_key()), signature)


def test_a_small_rsa_key_is_refused() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - on purpose
    with pytest.raises(jwt.InvalidKeyError):
        Rs256().prepare_key(jwk("k", small))


def test_a_valid_token_names_its_user_and_the_keys_are_fetched_once() -> None:
    idp = Idp()
    verifier = idp.verifier()
    assert verifier.user_of(token(), SETTINGS) == "jo@example.com"
    assert verifier.user_of(token(email="al@example.com"), SETTINGS) == "al@example.com"
    assert idp.fetched == [ISSUER + "/.well-known/openid-configuration", ISSUER + "/keys"]


@pytest.mark.parametrize(
    "claims",
    [
        # Times are offsets from the moment the test runs (not from collection, which may be minutes
        # earlier in a long run).
        {"exp": -120},  # expired beyond the 30 s leeway
        {"nbf": +600},
        {"aud": "other"},
        {"iss": "https://evil.example"},
        {"email": None},
    ],
)
def test_claims_that_do_not_hold_are_refused(claims: dict[str, Any]) -> None:
    payload = {k: v for k, v in claims.items() if v is not None}
    payload.update({k: int(time.time()) + v for k, v in payload.items() if k in {"exp", "nbf"}})
    issued = token(**payload)
    if "email" in claims:
        now = int(time.time())
        issued = jwt.encode(
            {"iss": ISSUER, "aud": "app", "sub": "x", "exp": now + 60},
            KEYS["k1"],
            algorithm="RS256",
            headers={"kid": "k1"},
        )
    with pytest.raises(TokenRefused):
        Idp().verifier().user_of(issued, SETTINGS)


def test_a_token_signed_by_another_key_or_with_hs256_or_none_is_refused() -> None:
    verifier = Idp().verifier()
    with pytest.raises(TokenRefused):
        verifier.user_of(token(key=make_key()), SETTINGS)
    public_pem = jwk("k1", KEYS["k1"])["n"]  # the classic confusion: the public key as an HMAC secret
    hs = jwt.encode({"iss": ISSUER, "aud": "app", "email": "x@y.z", "exp": int(time.time()) + 60}, public_pem)
    for forged in (hs, jwt.encode({"iss": ISSUER, "aud": "app", "email": "x@y.z"}, None, algorithm="none")):
        with pytest.raises(TokenRefused):
            verifier.user_of(forged, SETTINGS)


def test_an_unknown_kid_refetches_once_a_minute_and_a_rotated_key_works() -> None:
    idp = Idp()
    verifier = idp.verifier()
    verifier.user_of(token(), SETTINGS)
    idp.keys["k2"] = make_key()
    rotated = token(kid="k2", key=idp.keys["k2"])
    with pytest.raises(TokenRefused):  # fetched less than a minute ago: no refetch yet
        verifier.user_of(rotated, SETTINGS)
    idp.now += 61
    assert verifier.user_of(rotated, SETTINGS) == "jo@example.com"
    fetches = len(idp.fetched)
    for _ in range(5):  # forged kids after that: refused without a fetch
        with pytest.raises(TokenRefused):
            verifier.user_of(token(kid="k9", key=make_key()), SETTINGS)
    assert len(idp.fetched) == fetches


def test_an_unreachable_issuer_refuses_and_is_retried_after_the_interval() -> None:
    idp = Idp()
    calls = []

    def down(url: str) -> bytes:
        calls.append(url)
        raise OSError("connection refused")

    verifier = OidcVerifier(JwksCache(fetch=down, clock=lambda: idp.now))
    for _ in range(3):
        with pytest.raises(TokenRefused):
            verifier.user_of(token(), SETTINGS)
    assert len(calls) == 1
    idp.now += 61
    with pytest.raises(TokenRefused):
        verifier.user_of(token(), SETTINGS)
    assert len(calls) == 2
