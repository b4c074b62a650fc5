"""Find a tenant's application inference profiles by their tags (Resource Groups Tagging API).

`PROFILE_RESOLVER=dynamic`: instead of the ARNs Terraform wrote into the tenant config, the gateway asks
GetResources for the `bedrock:application-inference-profile` resources tagged with the tenant's
applicationId / costCenter / environment; the `model` tag of each profile carries the catalog's short model
name (models.json). Profiles created or replaced outside Terraform are picked up without a config change.

The whole map of a tenant (short name -> profile ARN) is cached for `ttl_seconds`. Once warm, a request
never waits for the API: a stale map is refreshed by one background thread while requests keep using it,
and a failed refresh (throttling, outage) keeps the last good map, logged and counted in a metric.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from cost_sentry.adapters.aws import LazyClient
from cost_sentry.core.errors import ServiceUnavailable
from cost_sentry.core.log import default_logger
from cost_sentry.core.metrics import emf_metadata
from cost_sentry.core.metrics import stdout_sink as metrics_stdout
from cost_sentry.core.names import DEFAULT_METRICS_NAMESPACE
from cost_sentry.core.tenants import TaggedTenant, allocation_tags

PROFILE_RESOURCE_TYPE = "bedrock:application-inference-profile"
MODEL_TAG_KEY = "model"
DEFAULT_TTL_SECONDS = 300.0
# After a failed refresh, wait this long before asking the API again.
DEFAULT_RETRY_AFTER_FAILURE_SECONDS = 30.0
# An unknown model triggers a refresh (a profile may just have been created), at most this often.
DEFAULT_MISS_REFRESH_SECONDS = 30.0


class ProfilesUnavailableError(ServiceUnavailable):
    """The tagging API failed and no earlier answer exists for the tenant."""

    def __init__(self, message: str) -> None:
        super().__init__("profiles_unavailable", message)


class NoProfileForModelError(ServiceUnavailable):
    """The model is enabled for the tenant, but no application inference profile is tagged for it (yet):
    a deployment problem, not the caller's, and one a later retry may not see."""

    def __init__(self, message: str) -> None:
        super().__init__("profile_not_found", message)


MetricSink = Callable[[str, str], None]
"""(metric name, tenant id) -> emits a count of 1."""


def emf_metric_sink(namespace: str = DEFAULT_METRICS_NAMESPACE) -> MetricSink:
    """Counts as Embedded Metric Format lines on stdout (no API call)."""

    def emit(name: str, tenant_id: str) -> None:
        document = {
            "_aws": emf_metadata(namespace, [["Tenant"]], {name: "Count"}, int(time.time() * 1000)),
            "Tenant": tenant_id,
            name: 1,
        }
        metrics_stdout(json.dumps(document))

    return emit


@dataclass
class _TenantProfiles:
    tags: tuple[str, ...]
    profiles: Mapping[str, str] | None = None
    fetched_at: float = 0.0
    next_refresh_at: float = 0.0
    refreshing: bool = False
    ready: threading.Event = field(default_factory=threading.Event)
    last_error: Exception | None = None


class TaggingApiResolver:
    """cost_sentry.core.resolvers.ProfileResolver backed by the Resource Groups Tagging API; thread-safe."""

    tagging_client = LazyClient("resourcegroupstaggingapi")

    def __init__(
        self,
        tagging_client: Any = None,
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        retry_after_failure_seconds: float = DEFAULT_RETRY_AFTER_FAILURE_SECONDS,
        miss_refresh_seconds: float = DEFAULT_MISS_REFRESH_SECONDS,
        model_tag_key: str = MODEL_TAG_KEY,
        clock: Callable[[], float] = time.monotonic,
        refresh_in_background: bool = True,
        metric_sink: MetricSink | None = None,
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds}")
        self.tagging_client = tagging_client
        self._ttl = ttl_seconds
        self._retry_after_failure = retry_after_failure_seconds
        self._miss_refresh = miss_refresh_seconds
        self._model_tag_key = model_tag_key
        self._clock = clock
        self._background = refresh_in_background
        self._metric = metric_sink or emf_metric_sink()
        self._lock = threading.Lock()
        self._tenants: dict[str, _TenantProfiles] = {}

    def profile_arn(self, tenant: TaggedTenant, model: str) -> str:
        """The ARN of the tenant's application inference profile for `model` (a catalog short name)."""
        profiles = self.profiles_for(tenant)
        arn = profiles.get(model)
        if arn is not None:
            return arn
        entry = self._entry(tenant)
        now = self._clock()
        with self._lock:
            may_refresh = now - entry.fetched_at >= self._miss_refresh and (
                entry.last_error is None or now >= entry.next_refresh_at
            )
        if may_refresh:
            # A profile created since the last look-up would otherwise stay invisible for a whole TTL.
            arn = self._refresh_now(tenant, entry, force=True).get(model)
            if arn is not None:
                return arn
        raise NoProfileForModelError(
            f"tenant {tenant.tenant_id!r} has no application inference profile tagged "
            f"{self._model_tag_key}={model!r}"
        )

    def profiles_for(self, tenant: TaggedTenant) -> Mapping[str, str]:
        """The tenant's whole map short name -> profile ARN; calls the API only when cold."""
        entry = self._entry(tenant)
        now = self._clock()
        with self._lock:
            profiles = entry.profiles
            stale = profiles is not None and now >= entry.next_refresh_at
            start_refresh = stale and not entry.refreshing
            if start_refresh:
                entry.refreshing = True
                entry.ready.clear()
            cold_and_backing_off = (
                profiles is None and entry.last_error is not None and now < entry.next_refresh_at
            )
            error = entry.last_error
        if cold_and_backing_off:
            # No answer yet and the API just failed: do not hammer it with every request meanwhile.
            raise ProfilesUnavailableError(
                f"the inference profiles of tenant {tenant.tenant_id!r} cannot be listed: {error}"
            )
        if profiles is None:
            return self._refresh_now(tenant, entry, force=False)
        if start_refresh:
            if self._background:
                worker = threading.Thread(
                    target=self._refresh, args=(tenant, entry), name="profile-refresh", daemon=True
                )
                worker.start()
            else:
                self._refresh(tenant, entry)
                return entry.profiles or profiles
        return profiles

    def _entry(self, tenant: TaggedTenant) -> _TenantProfiles:
        tags = tuple(allocation_tags(tenant).values())
        with self._lock:
            entry = self._tenants.get(tenant.tenant_id)
            if entry is None or entry.tags != tags:
                # A tenant whose tags changed is a different set of profiles: start cold.
                entry = self._tenants[tenant.tenant_id] = _TenantProfiles(tags=tags)
            return entry

    def _refresh_now(self, tenant: TaggedTenant, entry: _TenantProfiles, *, force: bool) -> Mapping[str, str]:
        """Synchronous refresh, single-flight: one caller asks the API, concurrent callers wait for it.

        Without `force`, a map another thread published meanwhile is answer enough.
        """
        with self._lock:
            if not force and entry.profiles is not None:
                return entry.profiles
            leader = not entry.refreshing
            if leader:
                entry.refreshing = True
                entry.ready.clear()
        if leader:
            self._refresh(tenant, entry)
        else:
            entry.ready.wait()
        with self._lock:
            if entry.profiles is not None:
                return entry.profiles
            error = entry.last_error
        raise ProfilesUnavailableError(
            f"the inference profiles of tenant {tenant.tenant_id!r} cannot be listed: {error}"
        ) from error

    def _refresh(self, tenant: TaggedTenant, entry: _TenantProfiles) -> None:
        """Fetch and publish the tenant's map; only ever run by the one thread that set `refreshing`."""
        try:
            profiles = self._fetch(tenant)
        except Exception as exc:
            now = self._clock()
            with self._lock:
                entry.last_error = exc
                entry.next_refresh_at = now + self._retry_after_failure
                entry.refreshing = False
                serving = entry.profiles is not None
            entry.ready.set()
            self._metric("ProfileResolverRefreshFailed", tenant.tenant_id)
            default_logger().warning(
                "profile_refresh_failed",
                event="profile_refresh_failed",
                tenant=tenant.tenant_id,
                servingLastGood=serving,
                error=str(exc),
            )
            return
        now = self._clock()
        with self._lock:
            entry.profiles = profiles
            entry.fetched_at = now
            entry.next_refresh_at = now + self._ttl
            entry.last_error = None
            entry.refreshing = False
        entry.ready.set()

    def _fetch(self, tenant: TaggedTenant) -> Mapping[str, str]:
        found: dict[str, str] = {}
        paginator = self.tagging_client.get_paginator("get_resources")
        pages = paginator.paginate(
            ResourceTypeFilters=[PROFILE_RESOURCE_TYPE],
            TagFilters=[{"Key": key, "Values": [value]} for key, value in allocation_tags(tenant).items()],
        )
        for page in pages:
            for resource in page.get("ResourceTagMappingList", []):
                arn = resource["ResourceARN"]
                tags = {tag["Key"]: tag["Value"] for tag in resource.get("Tags", [])}
                model = tags.get(self._model_tag_key)
                if not model:
                    default_logger().warning(
                        "profile_without_model_tag",
                        event="profile_without_model_tag",
                        tenant=tenant.tenant_id,
                        arn=arn,
                    )
                    continue
                if model in found and found[model] != arn:
                    # Two profiles claim one model: pick deterministically so every container agrees.
                    default_logger().warning(
                        "profile_model_ambiguous",
                        event="profile_model_ambiguous",
                        tenant=tenant.tenant_id,
                        model=model,
                        arns=sorted([found[model], arn]),
                    )
                    arn = min(found[model], arn)
                found[model] = arn
        return MappingProxyType(found)
