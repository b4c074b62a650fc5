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
      name               = string
      limit_usd          = number
      period             = string
      actual_thresholds  = list(number)
      forecast_threshold = number # 0 = no forecast notification
      console_managed    = bool
      block_at_actual    = number
    })
    alert_emails = list(string)
    tags         = map(string)
  }))
  description = "Tenant id -> normalized tenant (the `tenants` output of modules/tenants, which applies the contract's defaults and validation): one AWS Budget each, named budget.name."
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
