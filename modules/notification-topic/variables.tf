variable "name" {
  type        = string
  description = "Topic name; also names the KMS key alias."

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,200}$", var.name))
    error_message = "name must be 1-200 letters, digits, hyphens or underscores (an SNS topic name)."
  }
}

variable "account_id" {
  type        = string
  description = "The AWS account that owns the topic: publishers are admitted only on behalf of this account."

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be 12 digits."
  }
}

variable "partition" {
  type        = string
  description = "AWS partition of the ARNs (aws, aws-cn, aws-us-gov)."
  default     = "aws"
}

variable "publisher_services" {
  type        = set(string)
  description = "AWS service principals that may publish to the topic and use its key, on behalf of this account only: budgets.amazonaws.com, costalerts.amazonaws.com, cloudwatch.amazonaws.com."

  validation {
    condition     = length(var.publisher_services) > 0 && alltrue([for s in var.publisher_services : contains(["budgets.amazonaws.com", "costalerts.amazonaws.com", "cloudwatch.amazonaws.com"], s)])
    error_message = "publisher_services must list at least one of budgets.amazonaws.com, costalerts.amazonaws.com, cloudwatch.amazonaws.com (the services whose source ARNs the topic policy knows)."
  }
}

variable "email_subscribers" {
  type        = set(string)
  description = "E-mail addresses subscribed to the topic (each must confirm the subscription)."
  default     = []

  validation {
    condition     = alltrue([for e in var.email_subscribers : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "email_subscribers must be e-mail addresses."
  }
}

variable "kms_deletion_window_days" {
  type        = number
  description = "Waiting period before the topic's KMS key is deleted."
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}
