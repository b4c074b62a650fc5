"""Per-user Bedrock clients: one STS session per (tenant, end user), cached until shortly before expiry.

Bedrock records the calling IAM principal of every inference in CUR 2.0 (`line_item_iam_principal`), and
the session tags of that principal as cost allocation tags. By assuming the tenant's invoker role with the
end user as RoleSessionName, each user's spend shows up as
`arn:aws:sts::<account>:assumed-role/<invoker-role>/<user>` without any log joining. See docs/attribution.md.

The gateway builds this once per container (`PerUserSessionClients(sts_client)`) and asks it for a client
per request; STS is called at most once per user per credential lifetime, never per request.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from cost_sentry.adapters.aws import LazyClient
from cost_sentry.core.errors import BadRequest, LimitExceeded, ServiceUnavailable
from cost_sentry.core.log import RequestLogger, default_logger
from cost_sentry.core.tenants import TaggedTenant, allocation_tags
from cost_sentry.core.validation import USER_PATTERN, USER_RULE

# Reserved for calls that carry no end user, so a header cannot pose as the application itself.
APP_SESSION_SUFFIX = "-app"

DEFAULT_SESSION_SECONDS = 3600
DEFAULT_REFRESH_MARGIN_SECONDS = 300
# ~130 KiB per cached session (a bedrock-runtime client). Each tenant has its own slice of the cache,
# so one tenant's many users can never evict another tenant's sessions: 64 per tenant is ~8 MB each.
DEFAULT_MAX_SESSIONS_PER_TENANT = 64
# New sessions (STS AssumeRole calls for a user not cached) one tenant may open per UTC minute: a flood
# of made-up user names is refused with a 429 instead of costing one STS call (and ~9 ms) each.
DEFAULT_NEW_SESSIONS_PER_MINUTE = 60
# After STS failed for a session, wait this long before asking again: a refused user (or a failing
# renewal) costs one STS call per window, not one per request.
DEFAULT_RETRY_AFTER_FAILURE_SECONDS = 15


SESSION_UNAVAILABLE_MESSAGE = "no session of this tenant's invoker role can be opened now; retry shortly"


class InvalidUserError(BadRequest):
    """The end-user identifier cannot be used as an STS role session name."""

    def __init__(self, message: str) -> None:
        super().__init__("invalid_user", message)


class SessionUnavailableError(ServiceUnavailable):
    """STS refused or failed to issue credentials for the tenant's invoker role.

    The message is what the caller reads: it names no role ARN and carries no STS text (those go to
    the log, event ``session_unavailable``)."""

    def __init__(
        self, message: str = "no session for this tenant's invoker role can be opened now; retry shortly"
    ) -> None:
        super().__init__("session_unavailable", message)


class TooManyNewSessionsError(LimitExceeded):
    """The tenant opened its whole minute's allowance of new per-user sessions."""

    def __init__(self, limit: int, retry_after_seconds: int) -> None:
        super().__init__(
            "too_many_new_sessions",
            f"this tenant has opened {limit} new user sessions this minute, its limit; requests for "
            "users already seen still pass, new users can retry after the minute",
            retry_after_seconds=retry_after_seconds,
        )


class SessionTenant(TaggedTenant, Protocol):
    """The fields of cost_sentry.core.tenants.TenantConfig this module reads."""

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
    if not USER_PATTERN.fullmatch(user):
        raise InvalidUserError(f"the user must be {USER_RULE}, got {user!r}")
    if user == app_session_name(tenant.tenant_id):
        raise InvalidUserError(f"the user name {user!r} is reserved for calls without a user")
    return user


def session_tags(tenant: SessionTenant, user: str | None) -> list[dict[str, str]]:
    """Session tags that become the principal's cost allocation tags in CUR 2.0.

    No TransitiveTagKeys: the session calls Bedrock itself and never chains into another role.
    """
    tags = [{"Key": key, "Value": value} for key, value in allocation_tags(tenant).items()]
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
    tags: tuple[str, ...]


@dataclass
class _Session:
    client: Any
    expires_at: float
    refresh_at: float


@dataclass
class _Failure:
    """A recent STS failure for a key: answered from here, without STS, until ``until``."""

    until: float


@dataclass
class _TenantSlice:
    """One tenant's part of the cache: its sessions (LRU), recent failures, and new-session count."""

    sessions: OrderedDict[_SessionKey, _Session] = field(default_factory=OrderedDict)
    failures: OrderedDict[_SessionKey, _Failure] = field(default_factory=OrderedDict)
    minute: int = -1
    opened_this_minute: int = 0


@dataclass
class _Flight:
    """One STS call in progress for a key; concurrent callers wait for its outcome instead of calling."""

    done: threading.Event = field(default_factory=threading.Event)
    session: _Session | None = None
    error: BaseException | None = None


class PerUserSessionClients:
    """BedrockClients whose clients run as `assumed-role/<tenant invoker role>/<user>`.

    Thread-safe. Sessions are cached per (tenant, role, session name) in a bounded LRU per tenant (a
    tenant only ever evicts its own sessions); a session is refreshed `refresh_margin_seconds` before
    its credentials expire, while callers keep using the still-valid one. Concurrent first calls for
    one key make a single STS call. A tenant opens at most `new_sessions_per_minute` new sessions per
    UTC minute (429 `too_many_new_sessions` beyond), and an STS failure is remembered for
    `retry_after_failure_seconds` so a refused user costs one STS call per window.

    A tenant without `invoker_role_arn` is served by `fallback` (the gateway's shared client: spend is
    then attributed to the gateway's own role); without a fallback such a tenant is a configuration error.
    """

    sts_client = LazyClient("sts")

    def __init__(
        self,
        sts_client: Any = None,
        *,
        client_factory: ClientFactory | None = None,
        fallback: Any = None,
        clock: Callable[[], float] = time.time,
        session_seconds: int = DEFAULT_SESSION_SECONDS,
        refresh_margin_seconds: float = DEFAULT_REFRESH_MARGIN_SECONDS,
        max_sessions_per_tenant: int = DEFAULT_MAX_SESSIONS_PER_TENANT,
        new_sessions_per_minute: int = DEFAULT_NEW_SESSIONS_PER_MINUTE,
        retry_after_failure_seconds: float = DEFAULT_RETRY_AFTER_FAILURE_SECONDS,
        warn: Callable[..., None] | None = None,
    ) -> None:
        if not 900 <= session_seconds <= 43200:
            raise ValueError(f"session_seconds must be within STS's 900..43200, got {session_seconds}")
        if not 0 <= refresh_margin_seconds < session_seconds:
            raise ValueError("refresh_margin_seconds must be >= 0 and shorter than session_seconds")
        if max_sessions_per_tenant < 1:
            raise ValueError(f"max_sessions_per_tenant must be at least 1, got {max_sessions_per_tenant}")
        if new_sessions_per_minute < 1:
            raise ValueError(f"new_sessions_per_minute must be at least 1, got {new_sessions_per_minute}")
        self.sts_client = sts_client
        self._client_factory = client_factory or default_bedrock_client_factory()
        self._fallback = fallback
        self._clock = clock
        self._session_seconds = session_seconds
        self._refresh_margin = refresh_margin_seconds
        self._max_sessions = max_sessions_per_tenant
        self._new_per_minute = new_sessions_per_minute
        self._retry_after_failure = retry_after_failure_seconds
        self._warn = warn or RequestLogger(log_prompts=False).warn
        self._lock = threading.Lock()
        self._slices: dict[str, _TenantSlice] = {}
        self._in_flight: dict[_SessionKey, _Flight] = {}

    def __len__(self) -> int:
        with self._lock:
            return sum(len(part.sessions) for part in self._slices.values())

    def sessions_of(self, tenant_id: str) -> int:
        with self._lock:
            part = self._slices.get(tenant_id)
            return len(part.sessions) if part else 0

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
            tuple(allocation_tags(tenant).values()),
        )
        now = self._clock()
        with self._lock:
            part = self._slices.setdefault(tenant.tenant_id, _TenantSlice())
            cached = part.sessions.get(key)
            if cached is not None and now < cached.refresh_at:
                part.sessions.move_to_end(key)
                return cached.client
            flight = self._in_flight.get(key)
            leader = flight is None
            if leader:
                valid = cached is not None and now < cached.expires_at
                failure = part.failures.get(key)
                if not valid and failure is not None and now < failure.until:
                    raise SessionUnavailableError()  # STS failed moments ago: do not ask it again yet
                if cached is None:
                    self._count_new_session(part, now)
                flight = self._in_flight[key] = _Flight()
            assert flight is not None

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

    def _count_new_session(self, part: _TenantSlice, now: float) -> None:
        """Under the lock: one more new session this minute for the tenant, or a 429."""
        minute = int(now // 60)
        if part.minute != minute:
            part.minute, part.opened_this_minute = minute, 0
        if part.opened_this_minute >= self._new_per_minute:
            raise TooManyNewSessionsError(self._new_per_minute, max(1, 60 - int(now % 60)))
        part.opened_this_minute += 1

    def _remember_failure(self, part: _TenantSlice, key: _SessionKey, now: float) -> None:
        """Under the lock: answer this key from the failure until the back-off ends (bounded per tenant)."""
        part.failures[key] = _Failure(until=now + self._retry_after_failure)
        part.failures.move_to_end(key)
        while len(part.failures) > self._max_sessions:
            part.failures.popitem(last=False)

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
                part = self._slices.setdefault(tenant.tenant_id, _TenantSlice())
                if cached is not None and now < cached.expires_at:
                    # Keep serving the old credentials; do not ask STS on every request meanwhile.
                    cached.refresh_at = min(cached.expires_at, now + self._retry_after_failure)
                    flight.session = cached
                else:
                    self._remember_failure(part, key, now)
                    flight.error = exc
            flight.done.set()
            if flight.session is None:
                raise
            self._warn(
                "session_refresh_failed",
                tenant=tenant.tenant_id,
                session=session_name,
                servingCurrentCredentials=True,
            )
            return flight.session.client
        except BaseException as exc:
            with self._lock:
                self._in_flight.pop(key, None)
                flight.error = exc
            flight.done.set()
            raise

        with self._lock:
            part = self._slices.setdefault(tenant.tenant_id, _TenantSlice())
            part.sessions[key] = session
            part.sessions.move_to_end(key)
            part.failures.pop(key, None)
            while len(part.sessions) > self._max_sessions:
                part.sessions.popitem(last=False)
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
        except (BotoCoreError, ClientError) as exc:
            # The detail (role ARN, STS's own words) is for the operator's log, never the caller's body.
            error = exc.response.get("Error", {}) if isinstance(exc, ClientError) else {}
            self._warn(
                "session_unavailable",
                tenant=tenant.tenant_id,
                session=session_name,
                roleArn=role_arn,
                code=error.get("Code", type(exc).__name__),
                detail=error.get("Message", str(exc)),
            )
            raise SessionUnavailableError() from exc
        credentials = answer["Credentials"]
        # Our own clock bounds the lifetime too, so a skewed STS clock cannot stretch it.
        expires_at = min(credentials["Expiration"].timestamp(), requested_at + self._session_seconds)
        client = self._client_factory(credentials)
        default_logger().debug(
            "session_opened",
            tenant=tenant.tenant_id,
            principal=answer.get("AssumedRoleUser", {}).get("Arn"),
            expiresAt=expires_at,
        )
        return _Session(client=client, expires_at=expires_at, refresh_at=expires_at - self._refresh_margin)
