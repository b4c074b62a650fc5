variable "name" {
  type        = string
  description = "Bucket name (globally unique)."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.name)) && !strcontains(var.name, "..")
    error_message = "name must be an S3 bucket name: 3-63 lowercase letters, digits, dots or hyphens, starting and ending with a letter or digit."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the caller's KMS key that encrypts every object (SSE-KMS, bucket key on). Its key policy must let the writing services use it."

  validation {
    condition     = can(regex("^arn:[a-z-]+:kms:[a-z0-9-]+:[0-9]{12}:key/", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>)."
  }
}

variable "lifecycle_rules" {
  type = map(object({
    prefix                                 = optional(string)
    expiration_days                        = optional(number)
    noncurrent_version_expiration_days     = optional(number)
    abort_incomplete_multipart_upload_days = optional(number)
  }))
  description = "Lifecycle rules by rule id (applied in key order): a key prefix (null: the whole bucket), and the days after which current objects expire, noncurrent versions expire and incomplete multipart uploads are aborted (null: that action is left out). One rule for the whole bucket must expire noncurrent versions and abort incomplete uploads."

  validation {
    condition     = anytrue([for rule in var.lifecycle_rules : rule.prefix == null && rule.noncurrent_version_expiration_days != null && rule.abort_incomplete_multipart_upload_days != null])
    error_message = "lifecycle_rules needs a rule for the whole bucket (prefix null) with noncurrent_version_expiration_days and abort_incomplete_multipart_upload_days: the bucket is versioned, so overwritten versions and abandoned uploads would otherwise be kept, and paid for, forever."
  }

  validation {
    condition     = alltrue([for id, rule in var.lifecycle_rules : can(regex("^[A-Za-z0-9._-]{1,255}$", id))])
    error_message = "lifecycle_rules ids must be 1-255 letters, digits, dots, hyphens or underscores."
  }

  validation {
    condition = alltrue([for rule in var.lifecycle_rules : anytrue([
      rule.expiration_days != null, rule.noncurrent_version_expiration_days != null, rule.abort_incomplete_multipart_upload_days != null,
    ])])
    error_message = "Each lifecycle rule needs at least one of expiration_days, noncurrent_version_expiration_days, abort_incomplete_multipart_upload_days."
  }

  validation {
    condition = alltrue(flatten([for rule in var.lifecycle_rules : [
      for days in [rule.expiration_days, rule.noncurrent_version_expiration_days, rule.abort_incomplete_multipart_upload_days] :
      days == null ? true : days >= 1 && floor(days) == days
    ]]))
    error_message = "Lifecycle days must be whole numbers of at least 1."
  }
}

variable "policy_statements_json" {
  type        = string
  description = "The caller's bucket policy statements, jsonencode([...]) of IAM statements with a Sid each; they follow the module's DenyInsecureTransport statement."
  default     = "[]"

  validation {
    condition     = startswith(trimspace(var.policy_statements_json), "[") && can([for s in jsondecode(var.policy_statements_json) : [s.Sid, s.Effect]])
    error_message = "policy_statements_json must be a JSON list of IAM statements, each with a Sid and an Effect."
  }

  validation {
    # try: a list without Sids is the rule above's to refuse.
    condition     = try(length(distinct(concat(["DenyInsecureTransport"], [for s in jsondecode(var.policy_statements_json) : s.Sid]))) == length(jsondecode(var.policy_statements_json)) + 1, true)
    error_message = "policy_statements_json Sids must be unique and not DenyInsecureTransport (the module's own statement)."
  }
}

variable "partition" {
  type        = string
  description = "AWS partition of the bucket's ARN (aws, aws-cn, aws-us-gov)."
  default     = "aws"
}

variable "tags" {
  type        = map(string)
  description = "Tags of the bucket."
  default     = {}
}
