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
  default     = "cost-sentry" # validated by modules/tenants, which derives the tenants' names from it
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

# The tenants map. Its type, defaults and every rule live in modules/tenants/variables.tf (the one
# evaluator of the tenant contract); `any` here so they are written once.
variable "tenants" {
  type        = any
  description = "Tenants keyed by a stable id; the contract (types, defaults, validation) is modules/tenants' tenants variable and docs/design.md section 2."
}
