variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,31}$", var.name_prefix))
    error_message = "name_prefix must be 1-32 lowercase letters, digits or hyphens."
  }
}

variable "region" {
  type        = string
  description = "Region of the VPC and its endpoints."
}

variable "vpc_id" {
  type        = string
  description = "The VPC the functions run in and the tenants' callers reach the API from."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets (one per Availability Zone) for the functions and the interface endpoints."

  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "subnet_ids needs at least one subnet."
  }
}

variable "route_table_ids" {
  type        = list(string)
  description = "Route tables of those subnets: the DynamoDB gateway endpoint adds its route to them."

  validation {
    condition     = length(var.route_table_ids) > 0
    error_message = "route_table_ids needs at least one route table (the DynamoDB gateway endpoint)."
  }
}

variable "client_cidr_blocks" {
  type        = list(string)
  description = "Networks of the tenants' callers, admitted on 443 to the execute-api endpoint."

  validation {
    condition     = length(var.client_cidr_blocks) > 0 && alltrue([for c in var.client_cidr_blocks : can(cidrhost(c, 0))])
    error_message = "client_cidr_blocks must be at least one CIDR block."
  }
}

variable "sagemaker_runtime" {
  type        = bool
  description = "Add the sagemaker.runtime endpoint (tenants routed to shared SageMaker endpoints)."
  default     = false
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}
