variable "name" {
  type        = string
  description = "Name of the monitor and subscription (and of the topic when frequency is IMMEDIATE)."

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,100}$", var.name))
    error_message = "name must be 1-100 letters, digits, hyphens or underscores."
  }
}

variable "account_id" {
  type        = string
  description = "Account that owns the monitor and the topic."

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be 12 digits."
  }
}

variable "partition" {
  type        = string
  description = "AWS partition of the ARNs."
  default     = "aws"
}

variable "monitor" {
  type = object({
    kind       = string
    tag_key    = optional(string)
    tag_values = optional(list(string), [])
  })
  description = "What to watch: kind = \"cost_allocation_tag\" (CUSTOM monitor on tag_key = one of tag_values, e.g. the tenants' applicationId values) or \"service\" (DIMENSIONAL monitor of every AWS service; in the management account it covers the organisation)."

  validation {
    condition     = contains(["cost_allocation_tag", "service"], var.monitor.kind)
    error_message = "monitor.kind must be cost_allocation_tag or service."
  }

  validation {
    condition     = var.monitor.kind != "cost_allocation_tag" || (var.monitor.tag_key != null && length(var.monitor.tag_values) > 0)
    error_message = "A cost_allocation_tag monitor needs tag_key and at least one tag value."
  }
}

variable "frequency" {
  type        = string
  description = "DAILY or WEEKLY (e-mail digests) or IMMEDIATE (each anomaly, through an SNS topic)."
  default     = "IMMEDIATE"

  validation {
    condition     = contains(["DAILY", "WEEKLY", "IMMEDIATE"], var.frequency)
    error_message = "frequency must be DAILY, WEEKLY or IMMEDIATE."
  }
}

variable "threshold" {
  type = object({
    absolute_usd = optional(number)
    percentage   = optional(number)
    combine      = optional(string, "AND")
  })
  description = "Alert when an anomaly's total impact is at least absolute_usd and/or percentage (% over expected spend). With both set, combine = AND (both, the console's default: quiet for tiny tenants) or OR (either)."
  default     = { absolute_usd = 10 }

  validation {
    condition     = var.threshold.absolute_usd != null || var.threshold.percentage != null
    error_message = "Set threshold.absolute_usd, threshold.percentage, or both."
  }

  validation {
    condition     = (var.threshold.absolute_usd == null || try(var.threshold.absolute_usd > 0, false)) && (var.threshold.percentage == null || try(var.threshold.percentage > 0, false))
    error_message = "Anomaly thresholds must be greater than 0."
  }

  validation {
    condition     = contains(["AND", "OR"], var.threshold.combine)
    error_message = "threshold.combine must be AND or OR."
  }
}

variable "email_subscribers" {
  type        = list(string)
  description = "E-mail addresses: direct subscribers for DAILY/WEEKLY, topic subscribers for IMMEDIATE."
  default     = []

  validation {
    condition     = length(var.email_subscribers) <= 10
    error_message = "Cost Anomaly Detection accepts at most 10 e-mail subscribers."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}
