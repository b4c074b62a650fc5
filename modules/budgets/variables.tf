variable "name_prefix" {
  type        = string
  description = "Prefix of the budget names (<name_prefix>-<tenant>) and of the alert topic."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,31}$", var.name_prefix))
    error_message = "name_prefix must be 1-32 lowercase letters, digits or hyphens."
  }
}

variable "account_id" {
  type        = string
  description = "Account that owns the budgets and the topic."

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

variable "cost_allocation_tag_key" {
  type        = string
  description = "The activated cost allocation tag whose value identifies a tenant's spend (the budget's TagKeyValue filter)."
  default     = "applicationId"
}

variable "tenants" {
  type = map(object({
    application_id = string
    budget = object({
      limit_usd          = number
      period             = optional(string, "MONTHLY")
      actual_thresholds  = optional(list(number), [50, 80, 100])
      forecast_threshold = optional(number, 100) # 0 = no forecast notification
      console_managed    = optional(bool, false)
      block_at_actual    = optional(number)
    })
    alert_emails = optional(list(string), [])
    tags         = optional(map(string), {})
  }))
  description = "Tenants keyed by stable tenant id (docs/design.md section 2): one AWS Budget each."

  validation {
    condition     = alltrue([for id in keys(var.tenants) : can(regex("^[a-z0-9-]{1,32}$", id))])
    error_message = "Tenant ids must be 1-32 lowercase letters, digits or hyphens."
  }

  validation {
    condition     = alltrue([for t in values(var.tenants) : t.budget.limit_usd > 0])
    error_message = "Every tenant's budget.limit_usd must be greater than 0."
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
    error_message = "Budget thresholds (actual_thresholds, forecast_threshold, block_at_actual) are percentages between 1 and 1000 (forecast_threshold = 0 turns the forecast alert off)."
  }

  validation {
    condition     = alltrue([for t in values(var.tenants) : length(t.alert_emails) <= 10])
    error_message = "AWS Budgets accepts at most 10 e-mail subscribers per notification."
  }
}

variable "alert_emails" {
  type        = list(string)
  description = "Addresses subscribed to the shared budget topic: they hear about every tenant (tenant alert_emails only hear about their own budget)."
  default     = []
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}
