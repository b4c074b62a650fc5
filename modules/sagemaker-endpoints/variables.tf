variable "name_prefix" {
  type        = string
  description = "Prefix of the endpoint names."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,19}$", var.name_prefix))
    error_message = "name_prefix must be 1-20 lowercase letters, digits or hyphens (SageMaker endpoint names are at most 63 characters)."
  }
}

variable "account_id" {
  type        = string
  description = "The workload account."

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be 12 digits."
  }
}

variable "region" {
  type        = string
  description = "Region of the endpoints."
}

variable "partition" {
  type        = string
  description = "AWS partition of the ARNs."
  default     = "aws"
}

variable "tenants" {
  type = map(object({
    application_id = string
    cost_center    = string
    environment    = string
  }))
  description = "Tenants (environment resolved) whose cost allocation tags a dedicated endpoint carries, like their inference profiles."
}

variable "dedicated_endpoints" {
  type = map(object({
    tenant         = string
    model_name     = string
    instance_type  = string
    instance_count = optional(number, 1)
  }))
  description = "Endpoints one tenant owns, keyed by a short name: tagged applicationId/costCenter/environment of the tenant, so their instance-hours land on the tenant in Cost Explorer and CUR 2.0. model_name is an existing SageMaker model."
  default     = {}

  validation {
    condition     = alltrue([for e in values(var.dedicated_endpoints) : contains(keys(var.tenants), e.tenant) && e.instance_count >= 1])
    error_message = "Each dedicated endpoint names one of the tenants and at least one instance."
  }
}

variable "shared_endpoints" {
  type = map(object({
    model_name             = string
    instance_type          = string
    instance_count         = optional(number, 1)
    tenants                = list(string)
    input_per_million_usd  = string
    output_per_million_usd = string
    max_output_tokens      = number
    served_model           = optional(string)
  }))
  description = "Endpoints several tenants share through the gateway (an OpenAI-style chat server), keyed by the model name tenants use. The gateway charges the per-million-token rates against the tenants' budgets; the chargeback report splits the real instance-hour cost by token share."
  default     = {}

  validation {
    condition     = alltrue([for e in values(var.shared_endpoints) : length(e.tenants) > 0 && alltrue([for t in e.tenants : contains(keys(var.tenants), t)])])
    error_message = "Each shared endpoint lists at least one tenant, all of them in tenants."
  }

  validation {
    condition     = alltrue([for e in values(var.shared_endpoints) : can(regex("^[0-9]+(\\.[0-9]+)?$", e.input_per_million_usd)) && can(regex("^[0-9]+(\\.[0-9]+)?$", e.output_per_million_usd)) && e.max_output_tokens >= 1])
    error_message = "Rates are decimal strings of USD per million tokens (e.g. \"0.20\"); max_output_tokens at least 1."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}
