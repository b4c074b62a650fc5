variable "tag_keys" {
  type        = set(string)
  description = "User-defined tag keys to activate as cost allocation tags. Cost Sentry's own three are always activated."
  default     = []

  validation {
    condition     = alltrue([for key in var.tag_keys : can(regex("^[\\p{L}\\p{N}\\s_.:/=+@-]{1,128}$", key)) && !startswith(key, "aws:")])
    error_message = "Tag keys are 1-128 characters of letters, digits, spaces and _.:/=+-@ and cannot start with aws:."
  }
}

variable "status" {
  type        = string
  description = "Active (counted in cost allocation from now on) or Inactive."
  default     = "Active"

  validation {
    condition     = contains(["Active", "Inactive"], var.status)
    error_message = "status must be Active or Inactive."
  }
}
