terraform {
  required_version = ">= 1.9" # validations that refer to other values
  # Provider-free on purpose: this module only evaluates the tenant contract, so the local stack, the
  # demo and the reports can read its outputs from a plan without any cloud.
}
