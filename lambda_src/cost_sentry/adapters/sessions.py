"""Per-user Bedrock clients: one STS session per (tenant, end user), cached until shortly before expiry.

Bedrock records the calling IAM principal of every inference in CUR 2.0 (`line_item_iam_principal`), and
the session tags of that principal as cost allocation tags. By assuming the tenant's invoker role with the
end user as RoleSessionName, each user's spend shows up as
`arn:aws:sts::<account>:assumed-role/<invoker-role>/<user>` without any log joining. See docs/attribution.md.

The gateway builds this once per container (`PerUserSessionClients(sts_client)`) and asks it for a client
per request; STS is called at most once per user per credential lifetime, never per request.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from cost_sentry.core.errors import BadRequest, ServiceUnavailable

logger = logging.getLogger(__name__)

# RoleSessionName: 2-64 characters of [\w+=,.@-], ASCII only (STS rejects anything else).
_ROLE_SESSION_NAME = re.compile(r"[A-Za-z0-9_+=,.@-]{2,64}")
# Reserved for calls that carry no end user, so a header cannot pose as the application itself.
APP_SESSION_SUFFIX = "-app"

DEFAULT_SESSION_SECONDS = 3600
DEFAULT_REFRESH_MARGIN_SECONDS = 300
# ~130 KiB per cached session (a bedrock-runtime client): 256 sessions hold ~33 MB of the function.
DEFAULT_MAX_SESSIONS = 256
# After a failed refresh of still-valid credentials, wait this long before asking STS again.
DEFAULT_RETRY_AFTER_FAILURE_SECONDS = 15


class InvalidUserError(BadRequest):
    """The end-user identifier cannot be used as an STS role session name."""

    def __init__(self, message: str) -> None:
        super().__init__("invalid_user", message)


class SessionUnavailableError(ServiceUnavailable):
    """STS refused or failed to issue credentials for the tenant's invoker role."""

    def __init__(self, message: str) -> None:
        super().__init__("session_unavailable", message)


class SessionTenant(Protocol):
    """The fields of cost_sentry.core.tenants.TenantConfig this module reads."""

    @property
    def tenant_id(self) -> str: ...
    @property
    def application_id(self) -> str: ...
    @property
    def cost_center(self) -> str: ...
    @property
    def environment(self) -> str: ...
    @property
    def invoker_role_arn(self) -> str | None: ...


ClientFactory = Callable[[Mapping[str, str]], Any]
"""Builds a bedrock-runtime client from STS credentials (AccessKeyId, SecretAccessKey, SessionToken)."""


def app_session_name(tenant_id: str) -> str:
    return f"{tenant_id}{APP_SESSION_SUFFIX}"


def assumed_role_principal(role_arn: str, session_name: str) -> str:
    """The STS principal of a role session. The role's path is not part of it: only the role name is."""
    partition, account, resource = role_arn.split(":")[1], role_arn.split(":")[4], role_arn.split(":", 5)[5]
    role_name = resource.rsplit("/", 1)[-1]
    return f"arn:{partition}:sts::{account}:assumed-role/{role_name}/{session_name}"


def session_name_for(tenant: SessionTenant, user: str | None) -> str:
    """The RoleSessionName for a call: the end user, or `<tenant>-app` for calls without one.

    A stable per-tenant default (rather than a random or per-request name) keeps one principal, one
    cached session and one CUR line per tenant for application traffic.
    """
    if user is None:
        return app_session_name(tenant.tenant_id)
    if not _ROLE_SESSION_NAME.fullmatch(user):
        raise InvalidUserError(
            "the user must be 2 to 64 characters of letters, digits and _+=,.@- "
            f"(it becomes the STS role session name), got {user!r}"
        )
    if user == app_session_name(tenant.tenant_id):
        raise InvalidUserError(f"the user name {user!r} is reserved for calls without a user")
    return user


def session_tags(tenant: SessionTenant, user: str | None) -> list[dict[str, str]]:
    """Session tags that become the principal's cost allocation tags in CUR 2.0.

    No TransitiveTagKeys: the session calls Bedrock itself and never chains into another role.
    """
    tags = [
        {"Key": "applicationId", "Value": tenant.application_id},
        {"Key": "costCenter", "Value": tenant.cost_center},
        {"Key": "environment", "Value": tenant.environment},
    ]
    if user is not None:
        tags.append({"Key": "user", "Value": user})
    return tags


def default_bedrock_client_factory(client_config: Any = None) -> ClientFactory:
    """A factory of bedrock-runtime clients; the endpoint comes from the SDK's standard settings.

    All clients come from one boto3 Session, so botocore's service model and endpoint data are loaded
    once and shared: a Session per client would cost ~0.8 s and ~8 MB per new user
    (tests/attribution/bench_attribution.py). Creating clients is serialized because a Session is not
    thread-safe; the clients themselves are, and creation only happens for a new or renewed session.
    """
    lock = threading.Lock()
    shared: list[Any] = []

    def build(credentials: Mapping[str, str]) -> Any:
        with lock:
            if not shared:
                import boto3

                shared.append(boto3.session.Session())
            return shared[0].client(
                "bedrock-runtime",
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
                config=client_config,
            )

    return build


class _SessionKey(NamedTuple):
    tenant_id: str
    role_arn: str
    session_name: str
    tags: tuple[str, str, str]


@dataclass
class _Session:
    client: Any
    expires_at: float
    refresh_at: float


@dataclass
class _Flight:
    """One STS call in progress for a key; concurrent callers wait for its outcome instead of calling."""

    done: threading.Event = field(default_factory=threading.Event)
    session: _Session | None = None
    error: BaseException | None = None


class PerUserSessionClients:
    """BedrockClients whose clients run as `assumed-role/<tenant invoker role>/<user>`.

    Thread-safe. Sessions are cached per (tenant, role, session name) in a bounded LRU; a session is
    refreshed `refresh_margin_seconds` before its credentials expire, while callers keep using the
    still-valid one. Concurrent first calls for one key make a single STS call.

    A tenant without `invoker_role_arn` is served by `fallback` (the gateway's shared client: spend is
    then attributed to the gateway's own role); without a fallback such a tenant is a configuration error.
    """

    def __init__(
        self,
        sts_client: Any = None,
        *,
        client_factory: ClientFactory | None = None,
        fallback: Any = None,
        clock: Callable[[], float] = time.time,
        session_seconds: int = DEFAULT_SESSION_SECONDS,
        refresh_margin_seconds: float = DEFAULT_REFRESH_MARGIN_SECONDS,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        retry_after_failure_seconds: float = DEFAULT_RETRY_AFTER_FAILURE_SECONDS,
    ) -> None:
        if not 900 <= session_seconds <= 43200:
            raise ValueError(f"session_seconds must be within STS's 900..43200, got {session_seconds}")
        if not 0 <= refresh_margin_seconds < session_seconds:
            raise ValueError("refresh_margin_seconds must be >= 0 and shorter than session_seconds")
        if max_sessions < 1:
            raise ValueError(f"max_sessions must be at least 1, got {max_sessions}")
        self._sts_client = sts_client
        self._client_factory = client_factory or default_bedrock_client_factory()
        self._fallback = fallback
        self._clock = clock
        self._session_seconds = session_seconds
        self._refresh_margin = refresh_margin_seconds
        self._max_sessions = max_sessions
        self._retry_after_failure = retry_after_failure_seconds
        self._lock = threading.Lock()
        self._sessions: OrderedDict[_SessionKey, _Session] = OrderedDict()
        self._in_flight: dict[_SessionKey, _Flight] = {}

    @property
    def sts_client(self) -> Any:
        if self._sts_client is None:
            import boto3

            self._sts_client = boto3.session.Session().client("sts")
        return self._sts_client

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def principal_for(self, tenant: SessionTenant, user: str | None) -> str | None:
        """`arn:<partition>:sts::<account>:assumed-role/<role name>/<session name>`: what CUR 2.0 names."""
        role_arn = tenant.invoker_role_arn
        if not role_arn:
            return self._fallback.principal_for(tenant, user) if self._fallback is not None else None
        return assumed_role_principal(role_arn, session_name_for(tenant, user))

    def client_for(self, tenant: SessionTenant, user: str | None) -> Any:
        session_name = session_name_for(tenant, user)
        role_arn = tenant.invoker_role_arn
        if not role_arn:
            if self._fallback is None:
                raise SessionUnavailableError(
                    f"tenant {tenant.tenant_id!r} has no invoker role: per-user sessions need one"
                )
            return self._fallback.client_for(tenant, user)

        # The tags are part of the key: a tenant whose tags change gets a new session with the new tags
        # (the invoker role's trust policy pins them) instead of keeping the old ones up to an hour.
        key = _SessionKey(
            tenant.tenant_id,
            role_arn,
            session_name,
            (tenant.application_id, tenant.cost_center, tenant.environment),
        )
        now = self._clock()
        with self._lock:
            cached = self._sessions.get(key)
            if cached is not None and now < cached.refresh_at:
                self._sessions.move_to_end(key)
                return cached.client
            flight = self._in_flight.get(key)
            leader = flight is None
            if flight is None:
                flight = self._in_flight[key] = _Flight()

        if not leader:
            # Still-valid credentials are good enough while another thread refreshes them.
            if cached is not None and now < cached.expires_at:
                return cached.client
            flight.done.wait()
            if flight.session is None:
                assert flight.error is not None
                raise flight.error
            return flight.session.client

        return self._lead_refresh(key, tenant, user, cached, flight)

    def _lead_refresh(
        self,
        key: _SessionKey,
        tenant: SessionTenant,
        user: str | None,
        cached: _Session | None,
        flight: _Flight,
    ) -> Any:
        role_arn, session_name = key.role_arn, key.session_name
        try:
            session = self._open_session(tenant, user, role_arn, session_name)
        except SessionUnavailableError as exc:
            now = self._clock()
            with self._lock:
                self._in_flight.pop(key, None)
                if cached is not None and now < cached.expires_at:
                    # Keep serving the old credentials; do not ask STS on every request meanwhile.
                    cached.refresh_at = min(cached.expires_at, now + self._retry_after_failure)
                    flight.session = cached
                else:
                    flight.error = exc
            flight.done.set()
            if flight.session is None:
                raise
            logger.warning(
                json.dumps(
                    {
                        "event": "session_refresh_failed",
                        "tenant": tenant.tenant_id,
                        "session": session_name,
                        "servingCurrentCredentials": True,
                        "error": str(exc),
                    }
                )
            )
            return flight.session.client
        except BaseException as exc:
            with self._lock:
                self._in_flight.pop(key, None)
                flight.error = exc
            flight.done.set()
            raise

        with self._lock:
            self._sessions[key] = session
            self._sessions.move_to_end(key)
            while len(self._sessions) > self._max_sessions:
                self._sessions.popitem(last=False)
            self._in_flight.pop(key, None)
            flight.session = session
        flight.done.set()
        return session.client

    def _open_session(
        self, tenant: SessionTenant, user: str | None, role_arn: str, session_name: str
    ) -> _Session:
        from botocore.exceptions import BotoCoreError, ClientError

        requested_at = self._clock()
        try:
            answer = self.sts_client.assume_role(
                RoleArn=role_arn,
                RoleSessionName=session_name,
                DurationSeconds=self._session_seconds,
                Tags=session_tags(tenant, user),
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise SessionUnavailableError(
                f"STS AssumeRole of {role_arn} for tenant {tenant.tenant_id!r} failed: "
                f"{error.get('Code', 'Unknown')}: {error.get('Message', '')}"
            ) from exc
        except BotoCoreError as exc:
            raise SessionUnavailableError(
                f"STS AssumeRole of {role_arn} for tenant {tenant.tenant_id!r} failed: {exc}"
            ) from exc
        credentials = answer["Credentials"]
        # Our own clock bounds the lifetime too, so a skewed STS clock cannot stretch it.
        expires_at = min(credentials["Expiration"].timestamp(), requested_at + self._session_seconds)
        client = self._client_factory(credentials)
        logger.info(
            json.dumps(
                {
                    "event": "session_opened",
                    "tenant": tenant.tenant_id,
                    "principal": answer.get("AssumedRoleUser", {}).get("Arn"),
                    "expiresAt": expires_at,
                }
            )
        )
        return _Session(client=client, expires_at=expires_at, refresh_at=expires_at - self._refresh_margin)
