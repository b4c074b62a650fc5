variable "account_id" {
  type        = string
  description = "The workload account: Terraform refuses to run against any other (allowed_account_ids)."

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be 12 digits."
  }
}

variable "region" {
  type        = string
  description = "Region of the gateway and the inference profiles."

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS Region name such as us-east-1."
  }
}

variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name."
  default     = "cost-sentry"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,15}$", var.name_prefix))
    error_message = "name_prefix must be 1-16 lowercase letters, digits or hyphens."
  }
}

variable "environment" {
  type        = string
  description = "Default environment tag of tenants that do not set one."

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_.:/=+@-]{0,63}$", var.environment))
    error_message = "environment must be 1-64 letters, digits or _.:/=+@- (a cost allocation tag value)."
  }
}

variable "alert_emails" {
  type        = list(string)
  description = "FinOps addresses: every budget, anomaly and alarm notification."
  default     = []

  validation {
    condition     = alltrue([for e in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alert_emails must be e-mail addresses."
  }
}

variable "per_user_sessions" {
  type        = bool
  description = "Assume a per-tenant invoker role per end user so CUR 2.0 attributes Bedrock spend to users."
  default     = false
}

variable "profile_resolver" {
  type        = string
  description = "static: profile ARNs come from the config item; dynamic: the gateway finds them by tags."
  default     = "static"
}

variable "anomaly_threshold_usd" {
  type        = number
  description = "Alert on a tenant cost anomaly whose total impact reaches this many USD."
  default     = 10
}

variable "lambda_zip_path" {
  type        = string
  description = "The Lambda package built by `make lambda-zip`; null uses build/lambda/cost_sentry.zip in this repository."
  default     = null
}

# The tenants map: the contract of docs/design.md section 2. scripts/testbed/tfvars.py applies the same defaults
# and rules for the local stack; keep the two in step.
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
    })
    limits = optional(object({
      requests_per_minute = optional(number)
      tokens_per_period   = optional(number)
    }), {})
    alert_emails = optional(list(string), [])
    tags         = optional(map(string), {})
  }))
  description = "Tenants keyed by a stable id ([a-z0-9-]{1,32}); see docs/design.md section 2."

  validation {
    condition     = length(var.tenants) > 0
    error_message = "Define at least one tenant."
  }

  validation {
    condition     = alltrue([for id in keys(var.tenants) : can(regex("^[a-z0-9-]{1,32}$", id))])
    error_message = "Tenant ids must be 1-32 lowercase letters, digits or hyphens: they name resources and must never change."
  }

  validation {
    condition     = alltrue([for t in values(var.tenants) : t.budget.limit_usd > 0])
    error_message = "budget.limit_usd must be greater than 0 for every tenant."
  }

  validation {
    condition     = alltrue([for t in values(var.tenants) : contains(["MONTHLY", "DAILY"], t.budget.period)])
    error_message = "budget.period must be MONTHLY or DAILY."
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
    error_message = "Budget thresholds (actual_thresholds, forecast_threshold, block_at_actual) are percentages between 1 and 1000; forecast_threshold = 0 turns the forecast alert off."
  }

  validation {
    condition     = alltrue([for t in values(var.tenants) : length(t.models) > 0 && length(distinct(t.models)) == length(t.models)])
    error_message = "Every tenant needs at least one model, each listed once (the first is the default)."
  }

  validation {
    condition     = alltrue(flatten([for t in values(var.tenants) : [for m in t.models : contains(keys(local.model_catalog), m)]]))
    error_message = "Unknown model: every name in models must be a key of lambda_src/cost_sentry/data/models.json (${join(", ", sort(keys(local.model_catalog)))})."
  }

  validation {
    condition     = alltrue([for t in values(var.tenants) : alltrue([for target in values(t.model_aliases) : contains(t.models, target)])])
    error_message = "model_aliases may only point at one of the tenant's own models."
  }

  validation {
    condition = alltrue(flatten([
      for t in values(var.tenants) : [
        for value in compact([t.application_id, t.cost_center, t.environment]) : can(regex("^[A-Za-z0-9][A-Za-z0-9_.:/=+@-]{0,127}$", value))
      ]
    ]))
    error_message = "application_id, cost_center and environment are cost allocation tag values: 1-128 letters, digits or _.:/=+@-, starting with a letter or digit."
  }

  validation {
    condition = alltrue(flatten([
      for t in values(var.tenants) : [
        for key, value in t.tags : can(regex("^[\\p{L}\\p{Z}\\p{N}_.:/=+@-]{1,128}$", key)) && !startswith(key, "aws:") && can(regex("^[\\p{L}\\p{Z}\\p{N}_.:/=+@-]{0,256}$", value))
      ]
    ]))
    error_message = "tags: keys are 1-128 and values 0-256 letters, digits, spaces or _.:/=+@-, and keys cannot start with aws:."
  }

  validation {
    condition     = length(distinct([for t in values(var.tenants) : t.application_id])) == length(var.tenants)
    error_message = "Each tenant needs its own application_id: budgets and anomaly monitors tell tenants apart by it."
  }

  validation {
    condition     = alltrue([for t in values(var.tenants) : try(t.limits.requests_per_minute > 0, true) && try(t.limits.tokens_per_period > 0, true)])
    error_message = "limits.requests_per_minute and limits.tokens_per_period must be greater than 0 (leave them out for unlimited)."
  }

  validation {
    condition     = alltrue(flatten([for t in values(var.tenants) : [for e in t.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))]]))
    error_message = "alert_emails must be e-mail addresses."
  }
}

# -- Audit, hardening and private access (design branch) ------------------------------------------------

variable "invocation_logging" {
  type = object({
    enabled = optional(bool, true)
    destinations = optional(object({
      s3         = optional(bool, true)
      cloudwatch = optional(bool, false)
    }), {})
    deliver_text   = optional(bool, false)
    retention_days = optional(number, 365)
    cloudtrail     = optional(bool, true)
  })
  description = "Bedrock model invocation logs of this account (modules/invocation-logging): S3 and/or CloudWatch, prompt text only with deliver_text, retention; cloudtrail = false where an organization trail already records the account."
  default     = {}
}

variable "waf_rate_rule" {
  type = object({
    enabled                = optional(bool, true)
    requests_per_5_minutes = optional(number, 3000)
  })
  description = "The gateway's WAF rate rule per client IP (on by default; enabled = false switches it off)."
  default     = {}
}

variable "private_access" {
  type = object({
    vpc_id             = string
    subnet_ids         = list(string)
    route_table_ids    = list(string)
    client_cidr_blocks = list(string)
    sagemaker_runtime  = optional(bool, false)
  })
  description = "null: a public REGIONAL API. Set: the API is PRIVATE behind an execute-api VPC endpoint, the functions run in subnet_ids and reach AWS through VPC endpoints (modules/private-access)."
  default     = null
}

variable "sagemaker" {
  type = object({
    dedicated_endpoints = optional(map(object({
      tenant         = string
      model_name     = string
      instance_type  = string
      instance_count = optional(number, 1)
    })), {})
    shared_endpoints = optional(map(object({
      model_name             = string
      instance_type          = string
      instance_count         = optional(number, 1)
      tenants                = list(string)
      input_per_million_usd  = string
      output_per_million_usd = string
      max_output_tokens      = number
      served_model           = optional(string)
    })), {})
  })
  description = "SageMaker endpoints (modules/sagemaker-endpoints): dedicated ones tagged like their tenant's profiles, shared ones routed by the gateway at a per-token rate and split by the chargeback report."
  default     = {}
}
