variable "name_prefix" {
  type        = string
  description = "Prefix of every profile name: <name_prefix>-<tenant>-<model>."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,15}$", var.name_prefix))
    error_message = "name_prefix must be 1-16 lowercase letters, digits or hyphens, starting with a letter or digit."
  }
}

variable "region" {
  type        = string
  description = "Region of the profiles and of the foundation models / system profiles they copy from."
}

variable "account_id" {
  type        = string
  description = "Account that owns the system-defined inference profiles copied from."

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

variable "model_catalog" {
  type = map(object({
    modelId = string
    copyFrom = object({
      kind = string
      id   = string
    })
  }))
  description = "The `models` map of lambda_src/cost_sentry/data/models.json (pass jsondecode(file(...)).models): which foundation model or system-defined inference profile each short name copies from."

  validation {
    condition     = alltrue([for m in values(var.model_catalog) : contains(["foundation-model", "inference-profile"], m.copyFrom.kind)])
    error_message = "Every model's copyFrom.kind must be foundation-model or inference-profile."
  }
}

variable "tenants" {
  type = map(object({
    application_id = string
    cost_center    = string
    environment    = string
    models         = list(string)
    tags           = map(string)
    profile_names  = map(string)
  }))
  description = "Tenant id -> normalized tenant (the `tenants` output of modules/tenants, which applies the contract's defaults and validation): one profile per tenant and allowed model, named profile_names[model]."
}

variable "tags" {
  type        = map(string)
  description = "Tags for every profile."
  default     = {}
}
