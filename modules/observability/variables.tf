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
  description = "Namespace of the gateway's Embedded Metric Format metrics (METRICS_NAMESPACE)."
  default     = "GenAIRateLimiting"
}

variable "alarm_topic_arn" {
  type        = string
  description = "SNS topic every alarm notifies (on alarm and when it recovers)."
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
    }), {})
  }))
  description = "Tenants keyed by stable tenant id: the cost center their gateway metrics carry, their models, and optional alarm thresholds."

  validation {
    condition     = alltrue([for id in keys(var.tenants) : can(regex("^[a-z0-9-]{1,32}$", id))])
    error_message = "Tenant ids must be 1-32 lowercase letters, digits or hyphens."
  }

  validation {
    condition = alltrue([
      for t in values(var.tenants) : t.alarms.denials_per_5_minutes > 0 && t.alarms.failures_per_5_minutes > 0 && t.alarms.tokens_per_hour > 0 && t.alarms.bedrock_min_invocations > 0 && t.alarms.bedrock_error_rate_percent > 0 && t.alarms.bedrock_error_rate_percent <= 100 && t.alarms.underestimated_per_hour > 0
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
