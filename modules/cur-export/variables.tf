variable "name_prefix" {
  type        = string
  description = "Prefix of the bucket, export, Glue database and Athena workgroup names."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,31}$", var.name_prefix))
    error_message = "name_prefix must be 1-32 lowercase letters, digits or hyphens."
  }
}

variable "account_id" {
  type        = string
  description = "The billing (management) account that owns the export."

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be 12 digits."
  }
}

variable "region" {
  type        = string
  description = "Region of the bucket, Glue catalog and Athena workgroup. Data Exports itself lives in us-east-1."
}

variable "partition" {
  type        = string
  description = "AWS partition of the ARNs."
  default     = "aws"
}

variable "bucket_name" {
  type        = string
  description = "Bucket the export is delivered to; null derives <name_prefix>-cur-<account_id>."
  default     = null
}

variable "s3_prefix" {
  type        = string
  description = "Key prefix of the export inside the bucket."
  default     = "cur2"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$", var.s3_prefix))
    error_message = "s3_prefix must be a plain key prefix without leading or trailing slashes."
  }
}

variable "time_granularity" {
  type        = string
  description = "CUR 2.0 line item granularity."
  default     = "HOURLY"

  validation {
    condition     = contains(["HOURLY", "DAILY", "MONTHLY"], var.time_granularity)
    error_message = "time_granularity must be HOURLY, DAILY or MONTHLY."
  }
}

variable "include_resources" {
  type        = bool
  description = "Include resource ids (line_item_resource_id): the profile ARN of each Bedrock line."
  default     = true
}

variable "include_split_cost_allocation_data" {
  type        = bool
  description = "Include split cost allocation data (ECS/EKS); Cost Sentry does not need it."
  default     = false
}

variable "include_manual_discount_compatibility" {
  type        = bool
  description = "Present discounts the way the legacy CUR did."
  default     = false
}

variable "first_billing_period" {
  type        = string
  description = "First billing period (YYYY-MM) the Glue table's partition projection covers."
  default     = "2025-01"

  validation {
    condition     = can(regex("^20[0-9]{2}-(0[1-9]|1[0-2])$", var.first_billing_period))
    error_message = "first_billing_period must look like 2025-01."
  }
}

variable "query_results_retention_days" {
  type        = number
  description = "Days Athena query results are kept."
  default     = 30

  validation {
    condition     = var.query_results_retention_days >= 1
    error_message = "query_results_retention_days must be at least 1."
  }
}

variable "noncurrent_version_retention_days" {
  type        = number
  description = "Days overwritten export files are kept as noncurrent versions (OVERWRITE_REPORT replaces a month's files on every refresh)."
  default     = 90

  validation {
    condition     = var.noncurrent_version_retention_days >= 1
    error_message = "noncurrent_version_retention_days must be at least 1."
  }
}

variable "manage_catalog_encryption" {
  type        = bool
  description = "Encrypt the account's Glue Data Catalog (metadata and connection passwords) with the module's KMS key. One setting per account and Region: turn off if something else manages it."
  default     = true
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}
