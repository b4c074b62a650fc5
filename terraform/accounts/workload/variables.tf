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
