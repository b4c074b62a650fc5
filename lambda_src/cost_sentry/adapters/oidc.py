"""OIDC tokens: verify a JWT against its issuer's signing keys (JWKS), cached, with key rotation.

PyJWT (vendored, cost_sentry/_vendor) parses the token and checks its claims: ``exp`` (required),
``nbf``, ``iat``, ``iss`` and ``aud`` (required, equal to the tenant's). The signature is RS256, checked
by ``Rs256`` below with the JWK's public numbers: the Lambda runtime has no ``cryptography``, and
RSASSA-PKCS1-v1_5 verification is one modular exponentiation and a byte comparison (RFC 8017 8.2.2).
Only RS256 is accepted (the default of every common IdP: Entra ID, Okta, Auth0, Google, Cognito); the
algorithm list is fixed here, never taken from the token.

Keys: the issuer's discovery document (``<issuer>/.well-known/openid-configuration``) names
``jwks_uri`` unless the tenant names it; each issuer's key set is cached for ``JWKS_LIFETIME_SECONDS``.
A token whose ``kid`` the cache does not know (the IdP rotated its keys) triggers one refetch, at most
once per ``REFETCH_INTERVAL_SECONDS`` per issuer, so a stream of forged ``kid`` values costs one fetch
a minute, not one per request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from cost_sentry._vendor import jwt
from cost_sentry._vendor.jwt.algorithms import Algorithm
from cost_sentry._vendor.jwt.utils import base64url_decode
from cost_sentry.core.identity import OidcSettings

JWKS_LIFETIME_SECONDS = 3600
REFETCH_INTERVAL_SECONDS = 60
FETCH_TIMEOUT_SECONDS = 3
MAX_DOCUMENT_BYTES = 512 * 1024
# Clock skew allowed between the IdP and the gateway for exp / nbf / iat.
LEEWAY_SECONDS = 30
MIN_RSA_BITS = 2048
ALGORITHMS = ["RS256"]
# DigestInfo prefix of SHA-256 (RFC 8017 9.2 note 1).
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


class TokenRefused(Exception):
    """The token does not prove a user (the reason is for the log, never for the caller)."""


@dataclass(frozen=True)
class RsaPublicKey:
    n: int
    e: int


class Rs256(Algorithm):
    """RSASSA-PKCS1-v1_5 with SHA-256, verification only, from a JWK's ``n`` and ``e``."""

    def prepare_key(self, key: Any) -> RsaPublicKey:
        if isinstance(key, RsaPublicKey):
            return key
        if not isinstance(key, Mapping) or key.get("kty") != "RSA":
            raise jwt.InvalidKeyError("an RSA JWK is required")
        n = int.from_bytes(base64url_decode(str(key["n"])), "big")
        e = int.from_bytes(base64url_decode(str(key["e"])), "big")
        if n.bit_length() < MIN_RSA_BITS or e < 3 or e % 2 == 0:
            raise jwt.InvalidKeyError(f"RSA keys must have at least {MIN_RSA_BITS} bits and an odd e")
        return RsaPublicKey(n, e)

    def sign(self, msg: bytes, key: Any) -> bytes:
        raise NotImplementedError("the gateway only verifies tokens")

    def verify(self, msg: bytes, key: Any, sig: bytes) -> bool:
        public = self.prepare_key(key)
        size = (public.n.bit_length() + 7) // 8
        if len(sig) != size:
            return False
        signature = int.from_bytes(sig, "big")
        if signature >= public.n:
            return False
        encoded = pow(signature, public.e, public.n).to_bytes(size, "big")
        digest_info = _SHA256_DIGEST_INFO + hashlib.sha256(msg).digest()
        expected = b"\x00\x01" + b"\xff" * (size - len(digest_info) - 3) + b"\x00" + digest_info
        return hmac.compare_digest(encoded, expected)

    @staticmethod
    def to_jwk(key_obj: Any, as_dict: bool = False) -> Any:
        raise NotImplementedError

    @staticmethod
    def from_jwk(jwk: str | dict[str, Any]) -> Any:
        return Rs256().prepare_key(json.loads(jwk) if isinstance(jwk, str) else jwk)


def _signature_checker() -> jwt.PyJWS:
    checker = jwt.PyJWS(algorithms=[])  # nothing PyJWT would pick by itself (no HS*, no "none")
    checker.register_algorithm("RS256", Rs256())
    return checker


def http_fetch(url: str) -> bytes:
    """GET a discovery or key-set document: https only (http for the loopback address, for tests)."""
    import urllib.request

    parts = urlsplit(url)
    if parts.scheme != "https" and not (
        parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost")
    ):
        raise TokenRefused(f"refusing to fetch keys over {parts.scheme}: {url}")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 (scheme checked)
    with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as answer:  # noqa: S310
        body: bytes = answer.read(MAX_DOCUMENT_BYTES + 1)
    if len(body) > MAX_DOCUMENT_BYTES:
        raise TokenRefused(f"{url} answered more than {MAX_DOCUMENT_BYTES} bytes")
    return body


@dataclass
class _KeySet:
    keys: dict[str, dict[str, Any]]
    fetched_at: float
    attempted_at: float


class JwksCache:
    """Each issuer's signing keys by ``kid``, fetched with ``fetch`` (injected; ``http_fetch`` in AWS)."""

    def __init__(
        self,
        fetch: Callable[[str], bytes] = http_fetch,
        clock: Callable[[], float] = time.monotonic,
        lifetime_seconds: float = JWKS_LIFETIME_SECONDS,
        refetch_interval_seconds: float = REFETCH_INTERVAL_SECONDS,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._lifetime = lifetime_seconds
        self._interval = refetch_interval_seconds
        self._sets: dict[str, _KeySet] = {}
        self._jwks_uris: dict[str, str] = {}
        self._lock = threading.Lock()
        self.fetches = 0

    def key(self, settings: OidcSettings, kid: str | None) -> dict[str, Any]:
        with self._lock:
            now = self._clock()
            cached = self._sets.get(settings.issuer)
            stale = cached is None or now - cached.fetched_at >= self._lifetime
            unknown = cached is not None and _find(cached.keys, kid) is None
            may_fetch = cached is None or now - cached.attempted_at >= self._interval
            if (stale or unknown) and may_fetch:
                attempted = now
                try:
                    keys = self._load(settings)
                except Exception as exc:
                    if cached is None:
                        self._sets[settings.issuer] = _KeySet({}, float("-inf"), attempted)
                        raise TokenRefused(f"the issuer's keys cannot be read: {exc}") from exc
                    cached.attempted_at = attempted  # keep serving the keys we have
                else:
                    cached = self._sets[settings.issuer] = _KeySet(keys, now, attempted)
            if cached is None:
                raise TokenRefused("the issuer's keys cannot be read (retrying later)")
            found = _find(cached.keys, kid)
            if found is None:
                raise TokenRefused(f"no signing key {kid!r} in the issuer's key set")
            return found

    def _load(self, settings: OidcSettings) -> dict[str, dict[str, Any]]:
        uri = settings.jwks_uri or self._jwks_uris.get(settings.issuer)
        if uri is None:
            discovery = json.loads(
                self._fetch(settings.issuer.rstrip("/") + "/.well-known/openid-configuration")
            )
            uri = str(discovery["jwks_uri"])
            self._jwks_uris[settings.issuer] = uri
        self.fetches += 1
        document = json.loads(self._fetch(uri))
        keys = {}
        for number, key in enumerate(document.get("keys") or []):
            if isinstance(key, dict) and key.get("kty") == "RSA" and key.get("use", "sig") == "sig":
                keys[str(key.get("kid", f"#{number}"))] = key
        return keys


def _find(keys: Mapping[str, dict[str, Any]], kid: str | None) -> dict[str, Any] | None:
    if kid is not None:
        return keys.get(kid)
    # A token without kid is accepted only from an issuer with exactly one key.
    return next(iter(keys.values())) if len(keys) == 1 else None


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


def unverified_issuer_and_audiences(token: str) -> tuple[str, list[str]]:
    """Which tenant a token claims to be for (checked afterwards against that tenant's settings)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise TokenRefused(f"unreadable token: {exc}") from exc
    issuer = claims.get("iss")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else list(audience or [])
    if not isinstance(issuer, str):
        raise TokenRefused("the token has no issuer")
    return issuer, [a for a in audiences if isinstance(a, str)]


class OidcVerifier:
    def __init__(self, jwks: JwksCache | None = None) -> None:
        self.jwks = jwks or JwksCache()
        self._signatures = _signature_checker()

    def user_of(self, token: str, settings: OidcSettings) -> str:
        """The user the token names (``settings.user_claim``), or TokenRefused."""
        try:
            header = self._signatures.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenRefused(f"unreadable token: {exc}") from exc
        if header.get("alg") not in ALGORITHMS:
            raise TokenRefused(f"algorithm {header.get('alg')!r} is not accepted")
        key = self.jwks.key(settings, header.get("kid"))
        try:
            # The vendored PyJWT verifies RS256 with a JWK (our pure-Python RSA), which its hints omit.
            self._signatures.decode_complete(token, key=cast(Any, key), algorithms=ALGORITHMS)
            claims = jwt.PyJWT().decode(
                token,
                options={
                    "verify_signature": False,  # checked just above, by the RS256 here
                    "verify_exp": True,
                    "verify_nbf": True,
                    "verify_iat": True,
                    "verify_aud": True,
                    "verify_iss": True,
                    "require": ["exp", "iss", "aud"],
                },
                audience=settings.audience,
                issuer=settings.issuer,
                leeway=LEEWAY_SECONDS,
            )
        except jwt.PyJWTError as exc:
            raise TokenRefused(f"{type(exc).__name__}: {exc}") from exc
        user = claims.get(settings.user_claim)
        if not isinstance(user, str) or not user:
            raise TokenRefused(f"the token has no {settings.user_claim} claim")
        return user
