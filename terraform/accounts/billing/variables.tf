variable "account_id" {
  type        = string
  description = "The management (payer) account: cost allocation tags, CUR and the organisation-wide monitor live here."

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be 12 digits."
  }
}

variable "region" {
  type        = string
  description = "Region of the export bucket, Glue and Athena. Billing APIs (Data Exports, Cost Explorer) answer in us-east-1."
  default     = "us-east-1"

  validation {
    condition     = var.region == "us-east-1"
    error_message = "The billing account root runs in us-east-1: Data Exports and Cost Explorer only exist there."
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

variable "alert_emails" {
  type        = list(string)
  description = "FinOps addresses for organisation-wide anomaly alerts."

  validation {
    condition     = length(var.alert_emails) > 0 && alltrue([for e in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alert_emails needs at least one e-mail address."
  }
}

variable "extra_cost_allocation_tag_keys" {
  type        = set(string)
  description = "Tag keys to activate for cost allocation besides applicationId, costCenter and environment (e.g. the per-user session tag user)."
  default     = []
}

variable "cur_time_granularity" {
  type        = string
  description = "CUR 2.0 line item granularity: HOURLY, DAILY or MONTHLY."
  default     = "HOURLY"
}

variable "first_billing_period" {
  type        = string
  description = "First month (YYYY-MM) the Athena table exposes."
  default     = "2025-01"
}

variable "org_anomaly_threshold_usd" {
  type        = number
  description = "Organisation-wide service anomaly alert threshold in USD of total impact."
  default     = 100
}

variable "org_anomaly_threshold_percentage" {
  type        = number
  description = "... and in percent over expected spend (both must be reached)."
  default     = 20
}
