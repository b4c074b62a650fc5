variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,31}$", var.name_prefix))
    error_message = "name_prefix must be 1-32 lowercase letters, digits or hyphens."
  }
}

variable "account_id" {
  type        = string
  description = "The account whose Bedrock invocations are logged."

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be 12 digits."
  }
}

variable "region" {
  type        = string
  description = "Region of the Bedrock invocations (invocation logging is one setting per account and Region)."
}

variable "partition" {
  type        = string
  description = "AWS partition of the ARNs."
  default     = "aws"
}

variable "destinations" {
  type = object({
    s3         = optional(bool, true)
    cloudwatch = optional(bool, false)
  })
  description = "Where Bedrock delivers the invocation logs: the module's encrypted S3 bucket (queried by Athena and the requests report) and/or an encrypted CloudWatch Logs group."
  default     = {}

  validation {
    condition     = var.destinations.s3 || var.destinations.cloudwatch
    error_message = "destinations needs s3, cloudwatch or both (to stop logging, leave the module out)."
  }
}

variable "deliver_text" {
  type        = bool
  description = "Deliver prompt and completion text in the logs. Off: prompts can hold personal data; the records still carry model, tokens, identity and requestMetadata."
  default     = false
}

variable "deliver_images" {
  type        = bool
  description = "Deliver image inputs and outputs in the logs."
  default     = false
}

variable "retention_days" {
  type        = number
  description = "Days invocation logs (and CloudTrail files) are kept, in S3 and in CloudWatch Logs."
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.retention_days)
    error_message = "retention_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, ..., 365, ..., 3653)."
  }
}

variable "cloudtrail" {
  type = object({
    enabled                  = optional(bool, true)
    bedrock_data_event_types = optional(list(string), [])
  })
  description = "A trail of the account's management events (Bedrock Converse/InvokeModel calls, sts:AssumeRole of the invoker roles, IAM and Bedrock configuration) into the same encrypted bucket. enabled = false where an organization trail already records the account. bedrock_data_event_types adds data events, e.g. AWS::Bedrock::Guardrail."
  default     = {}

  validation {
    condition     = alltrue([for t in var.cloudtrail.bedrock_data_event_types : startswith(t, "AWS::Bedrock::")])
    error_message = "cloudtrail.bedrock_data_event_types must be Bedrock resource types (AWS::Bedrock::...)."
  }
}

variable "manage_catalog_encryption" {
  type        = bool
  description = "Encrypt the account's Glue Data Catalog (where the invocation log table lives) with the module's KMS key. One setting per account and Region: turn off if something else manages it."
  default     = true
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}
