variable "name_prefix" {
  type        = string
  description = "Prefix of the alarm and dashboard names."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,31}$", var.name_prefix))
    error_message = "name_prefix must be 1-32 lowercase letters, digits or hyphens."
  }
}

variable "region" {
  type        = string
  description = "Region of the metrics shown on the dashboard."
}

variable "metrics_namespace" {
  type        = string
  description = "Namespace of the gateway's Embedded Metric Format metrics: the gateway module's metrics_namespace output."

  validation {
    condition     = length(var.metrics_namespace) >= 1 && length(var.metrics_namespace) <= 255 && !strcontains(var.metrics_namespace, ":")
    error_message = "metrics_namespace must be 1-255 characters without a colon (CloudWatch's rules)."
  }
}

variable "alarm_topic_arn" {
  type        = string
  description = "SNS topic every alarm notifies (on alarm and when it recovers)."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", var.alarm_topic_arn))
    error_message = "alarm_topic_arn must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)."
  }
}

variable "tenants" {
  type = map(object({
    cost_center = string
    models      = list(string)
    alarms = optional(object({
      denials_per_5_minutes      = optional(number, 10)
      failures_per_5_minutes     = optional(number, 5)
      tokens_per_hour            = optional(number, 1000000)
      bedrock_error_rate_percent = optional(number, 5)
      bedrock_min_invocations    = optional(number, 20)
      underestimated_per_hour    = optional(number, 1)
      # The burn-rate alarm: an hour's spend above this many hours' shares of the budget (2 = a rate
      # that would spend the budget in half its period).
      burn_rate_factor = optional(number, 2)
    }), {})
    # The tenant's budget (limit and period): with it, a burn-rate alarm fires long before the limit does.
    budget = optional(object({
      limit_usd = number
      period    = optional(string, "MONTHLY")
    }))
  }))
  description = "Tenant id -> normalized tenant (the `tenants` output of modules/tenants): the cost center its gateway metrics carry, its models, and optional alarm thresholds."

  validation {
    condition = alltrue([
      for t in values(var.tenants) : t.alarms.burn_rate_factor > 0 && t.alarms.denials_per_5_minutes > 0 && t.alarms.failures_per_5_minutes > 0 && t.alarms.tokens_per_hour > 0 && t.alarms.bedrock_min_invocations > 0 && t.alarms.bedrock_error_rate_percent > 0 && t.alarms.bedrock_error_rate_percent <= 100 && t.alarms.underestimated_per_hour > 0
    ])
    error_message = "Alarm thresholds must be greater than 0 (bedrock_error_rate_percent at most 100)."
  }
}

variable "profile_ids" {
  type        = map(map(string))
  description = "Tenant id -> model -> application inference profile id (the inference-profiles module's profile_ids): the ModelId dimension of AWS/Bedrock metrics."
}

variable "settle_failed_threshold" {
  type        = number
  description = "SettleFailed count in 5 minutes that raises the settle-failed alarm (1: every failed settle pages)."
  default     = 1

  validation {
    condition     = var.settle_failed_threshold >= 1
    error_message = "settle_failed_threshold must be at least 1."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags for every alarm."
  default     = {}
}
