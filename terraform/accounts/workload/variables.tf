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

# Which front serves the tenants: "lambda" (API Gateway + Lambda, the default) or "container" (ECS
# Fargate behind an ALB, modules/gateway-container). Both run the same service core against the same
# tables, keys, config and metrics.
variable "gateway_deployment" {
  type        = string
  description = "lambda (API Gateway + Lambda, the default) or container (ECS Fargate behind an Application Load Balancer, for volume; needs container)."
  default     = "lambda"

  validation {
    condition     = contains(["lambda", "container"], var.gateway_deployment)
    error_message = "gateway_deployment must be \"lambda\" (API Gateway + Lambda, the default) or \"container\" (ECS Fargate behind an ALB)."
  }
}

variable "container" {
  type = object({
    image                   = string
    vpc_id                  = string
    task_subnet_ids         = list(string)
    alb_subnet_ids          = optional(list(string))
    certificate_arn         = string
    ingress_cidr_blocks     = list(string)
    task_egress_cidr_blocks = optional(list(string), ["0.0.0.0/0"])
    cpu                     = optional(number, 1024)
    memory                  = optional(number, 2048)
    autoscaling = optional(object({
      min_tasks         = optional(number, 2)
      max_tasks         = optional(number, 10)
      requests_per_task = optional(number, 600)
      cpu_percent       = optional(number, 60)
    }), {})
    access_logs_bucket = optional(string)
  })
  description = "The container deployment (gateway_deployment = \"container\"): the image (`make image`, pushed to ECR), the VPC, private subnets of the tasks, subnets of the load balancer (public ones; with private_access it is internal and defaults to the private-access subnets), the ACM certificate of its HTTPS listener, the callers' networks, task size and scaling (modules/gateway-container)."
  default     = null

  validation {
    condition     = var.gateway_deployment != "container" || var.container != null
    error_message = "gateway_deployment = \"container\" needs container = { image, vpc_id, task_subnet_ids, alb_subnet_ids, certificate_arn, ingress_cidr_blocks } in terraform.tfvars: the image pushed to ECR (make image), the VPC and subnets the tasks and the load balancer run in, and the ACM certificate of its HTTPS listener."
  }

  validation {
    condition     = var.container == null || try(length(var.container.task_subnet_ids) > 0, false)
    error_message = "container.task_subnet_ids must name at least one private subnet for the tasks."
  }

  validation {
    condition     = var.container == null || try(var.container.alb_subnet_ids != null || var.private_access != null, false)
    error_message = "container.alb_subnet_ids must name the load balancer's subnets (two Availability Zones; public subnets for an internet-facing one), unless private_access is set (the load balancer is then internal, in the private-access subnets)."
  }

  validation {
    condition     = var.container == null || var.private_access == null || try(var.container.vpc_id == var.private_access.vpc_id, false)
    error_message = "container.vpc_id must be private_access.vpc_id: with private access the tasks reach AWS only through that VPC's endpoints."
  }
}
