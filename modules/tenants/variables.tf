variable "name_prefix" {
  type        = string
  description = "Prefix of every name derived from a tenant: <name_prefix>-<tenant> (budget, API key, usage plan), <name_prefix>-<tenant>-invoker, <name_prefix>-<tenant>-<model>."
  default     = "cost-sentry"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,15}$", var.name_prefix))
    error_message = "name_prefix must be 1-16 lowercase letters, digits or hyphens, starting with a letter or digit."
  }
}

variable "environment" {
  type        = string
  description = "Environment (cost allocation tag value) of tenants that do not set their own."

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_.:/=+@-]{0,63}$", var.environment))
    error_message = "environment must be 1-64 letters, digits or _.:/=+@- (a cost allocation tag value)."
  }
}

variable "known_models" {
  type        = list(string)
  description = "Short model names a tenant may use: the keys of lambda_src/cost_sentry/data/models.json's models (keys(jsondecode(file(...)).models))."

  validation {
    condition     = length(var.known_models) > 0
    error_message = "known_models must name at least one model."
  }
}

# The tenant contract (docs/design.md section 2). Every default and every rule lives here: the account
# root and the other modules take this module's normalized `tenants` output.
variable "tenants" {
  type = map(object({
    application_id = string
    cost_center    = string
    environment    = optional(string)
    models         = list(string)
    model_aliases  = optional(map(string), {})
    budget = object({
      limit_usd          = number
      period             = optional(string, "MONTHLY")
      actual_thresholds  = optional(list(number), [50, 80, 100])
      forecast_threshold = optional(number, 100) # 0 = none (an explicit null becomes the default)
      console_managed    = optional(bool, false)
      block_at_actual    = optional(number)
      shards             = optional(number) # null = automatic (outputs.tf)
      # A pace: by any moment the period's spend and holds stay within the elapsed share of the limit
      # plus a burst (a percentage of the limit and/or that many hours' share of it). null = unpaced.
      pace = optional(object({
        burst_percent = optional(number, 0)
        burst_hours   = optional(number, 0)
      }))
    })
    # false = shadow mode: reserve, settle, meter and log as enforced, record would-be denials
    # (metric WouldDeny, log line, x-cost-sentry-would-deny header), refuse nothing for budget, pace or rate.
    enforce = optional(bool, true)
    limits = optional(object({
      requests_per_minute = optional(number)
      tokens_per_period   = optional(number)
      max_in_flight       = optional(number) # null = unlimited
    }), {})
    users = optional(object({
      default_limit_usd = optional(number)          # per end user per budget period; null = none
      limits_usd        = optional(map(number), {}) # user id -> USD
      allow_anonymous   = optional(bool, false)     # with per-user budgets: admit header-mode requests without a user
      pace = optional(object({                      # each per-user budget's pace, as budget.pace
        burst_percent = optional(number, 0)
        burst_hours   = optional(number, 0)
      }))
      # Per-user keys that must exist at apply: name -> the hash `python -m scripts.cli.keys terraform` printed.
      keys = optional(map(object({
        user      = string
        sha256    = string
        prefix    = optional(string, "")
        expires   = optional(string) # RFC 3339 instant, e.g. 2027-03-31T00:00:00Z
        limit_usd = optional(number)
      })), {})
    }), {})
    # The tenant's identity provider: OIDC tokens from issuer for audience name a user (user_claim).
    oidc = optional(object({
      issuer     = string
      audience   = string
      user_claim = optional(string, "email")
      jwks_uri   = optional(string) # null = the issuer's discovery document says
    }))
    alert_emails = optional(list(string), [])
    tags         = optional(map(string), {})
  }))
  description = "Tenants keyed by a stable id (1-32 lowercase letters, digits or hyphens; it names every resource of the tenant). See docs/design.md section 2."

  validation {
    condition     = length(var.tenants) > 0
    error_message = "Define at least one tenant."
  }

  validation {
    condition     = alltrue([for id in keys(var.tenants) : can(regex(local.tenant_id_pattern, id))])
    error_message = "Tenant ids must be 1-32 lowercase letters, digits or hyphens: they name resources and must never change. Not: ${join(", ", [for id in keys(var.tenants) : jsonencode(id) if !can(regex(local.tenant_id_pattern, id))])}."
  }

  validation {
    condition     = alltrue([for t in values(var.tenants) : t.budget.limit_usd > 0])
    error_message = "budget.limit_usd must be greater than 0 for every tenant: ${join("; ", [for id, t in var.tenants : "${id} has budget.limit_usd = ${t.budget.limit_usd}" if !(t.budget.limit_usd > 0)])}."
  }

  validation {
    condition     = alltrue([for t in values(var.tenants) : contains(["MONTHLY", "DAILY"], t.budget.period)])
    error_message = "budget.period must be MONTHLY or DAILY: ${join("; ", [for id, t in var.tenants : "${id} has budget.period = ${jsonencode(t.budget.period)}" if !contains(["MONTHLY", "DAILY"], t.budget.period)])}."
  }

  validation {
    condition = alltrue(flatten([
      for t in values(var.tenants) : [
        for p in concat(
          t.budget.actual_thresholds,
          t.budget.forecast_threshold == 0 ? [] : [t.budget.forecast_threshold],
          t.budget.block_at_actual == null ? [] : [t.budget.block_at_actual],
        ) : p >= 1 && p <= 1000
      ]
    ]))
    error_message = "Budget thresholds (actual_thresholds, forecast_threshold, block_at_actual) are percentages between 1 and 1000; forecast_threshold = 0 turns the forecast alert off: ${join("; ", [for id, t in var.tenants : "${id} has ${join(", ", [for p in concat(t.budget.actual_thresholds, t.budget.forecast_threshold == 0 ? [] : [t.budget.forecast_threshold], t.budget.block_at_actual == null ? [] : [t.budget.block_at_actual]) : tostring(p) if !(p >= 1 && p <= 1000)])}" if !alltrue([for p in concat(t.budget.actual_thresholds, t.budget.forecast_threshold == 0 ? [] : [t.budget.forecast_threshold], t.budget.block_at_actual == null ? [] : [t.budget.block_at_actual]) : p >= 1 && p <= 1000])])}."
  }

  validation {
    condition     = alltrue([for t in values(var.tenants) : t.budget.shards == null || try(t.budget.shards >= 1 && t.budget.shards <= 64 && floor(t.budget.shards) == t.budget.shards, false)])
    error_message = "budget.shards must be a whole number between 1 and 64 (leave it out for automatic): ${join("; ", [for id, t in var.tenants : "${id} has budget.shards = ${t.budget.shards}" if !(t.budget.shards == null || try(t.budget.shards >= 1 && t.budget.shards <= 64 && floor(t.budget.shards) == t.budget.shards, false))])}."
  }

  validation {
    condition = alltrue(flatten([
      for t in values(var.tenants) : [
        for p in [t.budget.pace, t.users.pace] : try(
          p.burst_percent >= 0 && p.burst_percent <= 100 && p.burst_hours >= 0 && p.burst_hours <= 744 && p.burst_percent + p.burst_hours > 0 && floor(p.burst_percent * 10000) == p.burst_percent * 10000 && floor(p.burst_hours * 3600) == p.burst_hours * 3600,
          false,
        ) if p != null
      ]
    ]))
    error_message = "budget.pace and users.pace need a burst: burst_percent 0-100 (at most 4 decimals) and/or burst_hours 0-744 (whole seconds), not both 0 (a pace without a burst refuses the period's first request): ${join("; ", [for id, t in var.tenants : "${id} has budget.pace = ${jsonencode(t.budget.pace)}, users.pace = ${jsonencode(t.users.pace)}" if t.budget.pace != null || t.users.pace != null])}."
  }

  validation {
    condition     = alltrue([for t in values(var.tenants) : length(t.alert_emails) <= 10])
    error_message = "AWS Budgets accepts at most 10 e-mail subscribers per notification: a tenant's alert_emails may list at most 10 addresses: ${join("; ", [for id, t in var.tenants : "${id} lists ${length(t.alert_emails)}" if length(t.alert_emails) > 10])}."
  }

  validation {
    condition     = alltrue([for t in values(var.tenants) : length(t.models) > 0 && length(distinct(t.models)) == length(t.models)])
    error_message = "Every tenant needs at least one model, each listed once (the first is the default): ${join("; ", [for id, t in var.tenants : "${id} has models = ${jsonencode(t.models)}" if !(length(t.models) > 0 && length(distinct(t.models)) == length(t.models))])}."
  }

  validation {
    condition     = alltrue(flatten([for t in values(var.tenants) : [for m in t.models : contains(var.known_models, m)]]))
    error_message = "Unknown model: every name in models must be a key of lambda_src/cost_sentry/data/models.json (${join(", ", sort(var.known_models))}): ${join("; ", [for id, t in var.tenants : "${id} has ${join(", ", [for m in t.models : jsonencode(m) if !contains(var.known_models, m)])}" if !alltrue([for m in t.models : contains(var.known_models, m)])])}."
  }

  validation {
    condition     = alltrue([for t in values(var.tenants) : alltrue([for target in values(t.model_aliases) : contains(t.models, target)])])
    error_message = "model_aliases may only point at one of the tenant's own models: ${join("; ", [for id, t in var.tenants : "${id} has ${join(", ", [for alias, target in t.model_aliases : "${alias} = ${jsonencode(target)}" if !contains(t.models, target)])}" if !alltrue([for target in values(t.model_aliases) : contains(t.models, target)])])}."
  }

  validation {
    condition = alltrue(flatten([
      for t in values(var.tenants) : [
        for value in compact([t.application_id, t.cost_center, t.environment]) : can(regex("^[A-Za-z0-9][A-Za-z0-9_.:/=+@-]{0,127}$", value))
      ]
    ]))
    error_message = "application_id, cost_center and environment are cost allocation tag values: 1-128 letters, digits or _.:/=+@-, starting with a letter or digit: ${join("; ", [for id, t in var.tenants : "${id} has ${join(", ", [for value in compact([t.application_id, t.cost_center, t.environment]) : jsonencode(value) if !can(regex("^[A-Za-z0-9][A-Za-z0-9_.:/=+@-]{0,127}$", value))])}" if !alltrue([for value in compact([t.application_id, t.cost_center, t.environment]) : can(regex("^[A-Za-z0-9][A-Za-z0-9_.:/=+@-]{0,127}$", value))])])}."
  }

  validation {
    condition = alltrue(flatten([
      for t in values(var.tenants) : [
        for key, value in t.tags : can(regex("^[\\p{L}\\p{Z}\\p{N}_.:/=+@-]{1,128}$", key)) && !startswith(key, "aws:") && can(regex("^[\\p{L}\\p{Z}\\p{N}_.:/=+@-]{0,256}$", value))
      ]
    ]))
    error_message = "tags: keys are 1-128 and values 0-256 letters, digits, spaces or _.:/=+@-, and keys cannot start with aws:. ${join("; ", [for id, t in var.tenants : "${id} has ${join(", ", [for key, value in t.tags : "${jsonencode(key)} = ${jsonencode(value)}" if !(can(regex("^[\\p{L}\\p{Z}\\p{N}_.:/=+@-]{1,128}$", key)) && !startswith(key, "aws:") && can(regex("^[\\p{L}\\p{Z}\\p{N}_.:/=+@-]{0,256}$", value)))])}" if length([for key, value in t.tags : key if !(can(regex("^[\\p{L}\\p{Z}\\p{N}_.:/=+@-]{1,128}$", key)) && !startswith(key, "aws:") && can(regex("^[\\p{L}\\p{Z}\\p{N}_.:/=+@-]{0,256}$", value)))]) > 0])}."
  }

  validation {
    condition     = length(distinct([for t in values(var.tenants) : t.application_id])) == length(var.tenants)
    error_message = "Each tenant needs its own application_id: budgets and anomaly monitors tell tenants apart by it: ${join("; ", [for app in distinct([for t in values(var.tenants) : t.application_id]) : "${join(" and ", sort([for id, t in var.tenants : id if t.application_id == app]))} share ${jsonencode(app)}" if length([for t in values(var.tenants) : t if t.application_id == app]) > 1])}."
  }

  validation {
    condition = alltrue(flatten([
      for t in values(var.tenants) : [
        for n in [t.limits.requests_per_minute, t.limits.tokens_per_period, t.limits.max_in_flight] : n == null || try(n > 0 && floor(n) == n, false)
      ]
    ]))
    error_message = "limits.requests_per_minute, limits.tokens_per_period and limits.max_in_flight must be whole numbers greater than 0 (leave them out for unlimited): ${join("; ", [for id, t in var.tenants : "${id} has limits = ${jsonencode(t.limits)}" if !alltrue([for n in [t.limits.requests_per_minute, t.limits.tokens_per_period, t.limits.max_in_flight] : n == null || try(n > 0 && floor(n) == n, false)])])}."
  }

  validation {
    condition = alltrue(flatten([
      for t in values(var.tenants) : [
        for usd in concat(t.users.default_limit_usd == null ? [] : [t.users.default_limit_usd], values(t.users.limits_usd)) : usd > 0
      ]
    ]))
    error_message = "users.default_limit_usd and every users.limits_usd amount must be greater than 0 (leave default_limit_usd out for no per-user limit): ${join("; ", [for id, t in var.tenants : "${id} has users = ${jsonencode(t.users)}" if !alltrue([for usd in concat(t.users.default_limit_usd == null ? [] : [t.users.default_limit_usd], values(t.users.limits_usd)) : usd > 0])])}."
  }

  validation {
    condition     = alltrue(flatten([for t in values(var.tenants) : [for user in keys(t.users.limits_usd) : can(regex(local.user_id_pattern, user))]]))
    error_message = "users.limits_usd keys are end-user ids as the x-cost-sentry-user header sends them: 2-64 letters, digits or _+=.@- (an STS role session name and session tag): ${join("; ", [for id, t in var.tenants : "${id} has ${join(", ", [for user in keys(t.users.limits_usd) : jsonencode(user) if !can(regex(local.user_id_pattern, user))])}" if !alltrue([for user in keys(t.users.limits_usd) : can(regex(local.user_id_pattern, user))])])}."
  }

  validation {
    condition = alltrue(flatten([for t in values(var.tenants) : [
      for k in values(t.users.keys) : can(regex(local.user_id_pattern, k.user)) && can(regex("^[0-9a-f]{64}$", k.sha256)) && (k.expires == null || can(timeadd(k.expires, "0s"))) && (k.limit_usd == null || try(k.limit_usd > 0, false))
    ]]))
    error_message = "users.keys entries need user (an end-user id: 2-64 letters, digits or _+=.@-), sha256 (64 lowercase hex digits, from python -m scripts.cli.keys terraform), an RFC 3339 expires if any, and a limit_usd above 0 if any."
  }

  validation {
    condition     = length(flatten([for t in values(var.tenants) : [for k in values(t.users.keys) : k.sha256]])) == length(distinct(flatten([for t in values(var.tenants) : [for k in values(t.users.keys) : k.sha256]])))
    error_message = "users.keys: one key hash may belong to one user of one tenant only."
  }

  validation {
    condition = alltrue([for t in values(var.tenants) : t.oidc == null || (
      can(regex("^(https://[^\\s/?#]+|http://(127\\.0\\.0\\.1|localhost)(:[0-9]+)?)", t.oidc.issuer)) && length(t.oidc.audience) > 0 && contains(["email", "sub", "preferred_username", "upn"], t.oidc.user_claim) && (t.oidc.jwks_uri == null || can(regex("^(https://|http://(127\\.0\\.0\\.1|localhost)[:/])", t.oidc.jwks_uri)))
    )])
    error_message = "oidc needs an https issuer (http only on the loopback address, for tests), an audience, a user_claim among email, sub, preferred_username, upn, and an https jwks_uri if any."
  }

  validation {
    condition     = length([for t in values(var.tenants) : t.oidc if t.oidc != null]) == length(distinct([for t in values(var.tenants) : "${t.oidc.issuer} ${t.oidc.audience}" if t.oidc != null]))
    error_message = "oidc: two tenants cannot share one issuer and audience (a token would choose between them)."
  }

  validation {
    condition     = alltrue(flatten([for t in values(var.tenants) : [for e in t.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))]]))
    error_message = "alert_emails must be e-mail addresses: ${join("; ", [for id, t in var.tenants : "${id} has ${join(", ", [for e in t.alert_emails : jsonencode(e) if !can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])}" if !alltrue([for e in t.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])])}."
  }
}
