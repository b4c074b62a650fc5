# The tenant contract, evaluated once: defaults, the names derived from a tenant, and the runtime config
# document the gateway reads (docs/design.md sections 2 and 3). Provider-free: no resources.

locals {
  # The one definition of a tenant id (cost_sentry.core.names.TENANT_ID_PATTERN is tested to equal it).
  tenant_id_pattern = "^[a-z0-9-]{1,32}$"
  # The one definition of an end-user id (cost_sentry.core.validation.USER_PATTERN is tested to equal it):
  # it becomes an STS role session name and the value of the `user` session tag, so only what both accept.
  user_id_pattern = "^[A-Za-z0-9_+=.@-]{2,64}$"

  # A ledger shard absorbs about 100 requests per second (6000 per minute; its partition carries 142,
  # bench_ledger). A tenant without a rate limit gets 16 shards: a modeled 2,285 requests per second.
  requests_per_minute_per_shard = 6000
  max_automatic_shards          = 32
  shards_without_rate_limit     = 16

  tenants = {
    for tenant_id, tenant in var.tenants : tenant_id => {
      tenant_id      = tenant_id
      application_id = tenant.application_id
      cost_center    = tenant.cost_center
      environment    = coalesce(tenant.environment, var.environment)
      models         = tenant.models
      default_model  = tenant.models[0]
      # The cost center is also an alias of the default model; explicit aliases win.
      model_aliases = merge({ (tenant.cost_center) = tenant.models[0] }, tenant.model_aliases)
      budget = {
        name               = "${var.name_prefix}-${tenant_id}"
        limit_usd          = tenant.budget.limit_usd
        period             = tenant.budget.period
        actual_thresholds  = tenant.budget.actual_thresholds
        forecast_threshold = tenant.budget.forecast_threshold
        console_managed    = tenant.budget.console_managed
        block_at_actual    = tenant.budget.block_at_actual
        pace               = tenant.budget.pace
        shards = coalesce(
          tenant.budget.shards,
          tenant.limits.requests_per_minute == null ? local.shards_without_rate_limit : min(local.max_automatic_shards, max(1, ceil(tenant.limits.requests_per_minute / local.requests_per_minute_per_shard))),
        )
      }
      limits = {
        requests_per_minute = tenant.limits.requests_per_minute
        tokens_per_period   = tenant.limits.tokens_per_period
        max_in_flight       = tenant.limits.max_in_flight
      }
      users = {
        default_limit_usd = tenant.users.default_limit_usd
        limits_usd        = tenant.users.limits_usd
        allow_anonymous   = tenant.users.allow_anonymous
        keys              = tenant.users.keys
        pace              = tenant.users.pace
      }
      enforce      = tenant.enforce
      oidc         = tenant.oidc
      alert_emails = tenant.alert_emails
      tags         = tenant.tags
      cost_allocation_tags = {
        applicationId = tenant.application_id
        costCenter    = tenant.cost_center
        environment   = coalesce(tenant.environment, var.environment)
      }
      api_key_name      = "${var.name_prefix}-${tenant_id}"
      usage_plan_name   = "${var.name_prefix}-${tenant_id}"
      invoker_role_name = "${var.name_prefix}-${tenant_id}-invoker"
      profile_names     = { for model in tenant.models : model => "${var.name_prefix}-${tenant_id}-${model}" }
    }
  }

  # The runtime config document of each tenant (docs/design.md section 3) without what only exists
  # after an apply: the gateway module adds apiKeyIds, models (model -> profile ARN) and invokerRoleArn.
  # Decimals travel as strings.
  config_documents = {
    for tenant_id, tenant in local.tenants : tenant_id => {
      tenantId      = tenant_id
      applicationId = tenant.application_id
      costCenter    = tenant.cost_center
      environment   = tenant.environment
      budget = {
        limitUsd             = tostring(tenant.budget.limit_usd)
        period               = tenant.budget.period
        blockAtActualPercent = tenant.budget.block_at_actual == null ? null : tostring(tenant.budget.block_at_actual)
        pace = tenant.budget.pace == null ? null : {
          burstPercent = tostring(tenant.budget.pace.burst_percent)
          burstHours   = tostring(tenant.budget.pace.burst_hours)
        }
      }
      enforce = tenant.enforce
      limits = {
        requestsPerMinute = tenant.limits.requests_per_minute
        tokensPerPeriod   = tenant.limits.tokens_per_period
        maxInFlight       = tenant.limits.max_in_flight
      }
      ledger = {
        shards = tenant.budget.shards
      }
      users = {
        defaultLimitUsd = tenant.users.default_limit_usd == null ? null : tostring(tenant.users.default_limit_usd)
        limitsUsd       = { for user, usd in tenant.users.limits_usd : user => tostring(usd) }
        allowAnonymous  = tenant.users.allow_anonymous
        pace = tenant.users.pace == null ? null : {
          burstPercent = tostring(tenant.users.pace.burst_percent)
          burstHours   = tostring(tenant.users.pace.burst_hours)
        }
        keys = {
          for name, key in tenant.users.keys : name => {
            user     = key.user
            sha256   = key.sha256
            prefix   = key.prefix
            expires  = key.expires
            limitUsd = key.limit_usd == null ? null : tostring(key.limit_usd)
          }
        }
      }
      identity = {
        oidc = tenant.oidc == null ? null : {
          issuer    = tenant.oidc.issuer
          audience  = tenant.oidc.audience
          userClaim = tenant.oidc.user_claim
          jwksUri   = tenant.oidc.jwks_uri
        }
      }
      defaultModel = tenant.default_model
      modelAliases = tenant.model_aliases
    }
  }
}
