variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name (the gateway module's name_prefix)."

  validation {
    # The load balancer and target group names take the prefix plus "-gateway" within ELB's 32 characters.
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,19}$", var.name_prefix))
    error_message = "name_prefix must be 1-20 lowercase letters, digits or hyphens (load balancer names are at most 32 characters)."
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
  description = "Region of the service."
}

variable "partition" {
  type        = string
  description = "AWS partition of the ARNs."
  default     = "aws"
}

variable "image" {
  type        = string
  description = "The gateway image (`make image`, pushed by the operator): a repository with a digest (`...@sha256:<64 hex>`, preferred: a task always runs the bytes that were planned) or a tag. An ECR image also limits the execution role's pulls to its repository."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._-]*(:[0-9]+)?(/[a-z0-9._-]+)+(@sha256:[a-f0-9]{64}|:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$", var.image))
    error_message = "image must be <registry>/<repository>@sha256:<digest> or <registry>/<repository>:<tag>, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/cost-sentry-gateway@sha256:..."
  }
}

variable "environment" {
  type        = map(string)
  description = "The gateway's environment: the gateway module's container_runtime.environment (tables, metrics namespace, limits), so the container runs with the Lambda's settings. This module adds OWN_PRINCIPAL, AWS_DEFAULT_REGION and GRANIAN_WORKERS."

  validation {
    condition     = contains(keys(var.environment), "LEDGER_TABLE") && contains(keys(var.environment), "CONFIG_TABLE")
    error_message = "environment must name LEDGER_TABLE and CONFIG_TABLE (pass the gateway module's container_runtime.environment)."
  }
}

variable "task_policies" {
  type        = map(string)
  description = "Policy name -> IAM policy JSON of the task role: the gateway module's container_runtime.policies (the gateway function's rights and the API key read)."

  validation {
    condition     = length(var.task_policies) > 0 && alltrue([for p in values(var.task_policies) : can(jsondecode(p).Statement)])
    error_message = "task_policies must hold at least one IAM policy document (JSON with a Statement); pass the gateway module's container_runtime.policies."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key of the task log group (the gateway module's kms_key_arn, whose policy lets CloudWatch Logs use it for this account's log groups)."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC of the load balancer and the tasks."

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must be a VPC id (vpc-...)."
  }
}

variable "task_subnet_ids" {
  type        = list(string)
  description = "Private subnets of the tasks (no public IP): one per Availability Zone, with a NAT gateway or the VPC endpoints of private access."

  validation {
    condition     = length(var.task_subnet_ids) > 0 && alltrue([for id in var.task_subnet_ids : can(regex("^subnet-[0-9a-f]+$", id))])
    error_message = "task_subnet_ids must be at least one subnet id (subnet-...)."
  }
}

variable "alb_subnet_ids" {
  type        = list(string)
  description = "Subnets of the load balancer, in at least two Availability Zones: public subnets for an internet-facing one, the private subnets when internal."

  validation {
    condition     = length(var.alb_subnet_ids) >= 2 && alltrue([for id in var.alb_subnet_ids : can(regex("^subnet-[0-9a-f]+$", id))])
    error_message = "alb_subnet_ids must be at least two subnet ids (subnet-...) in different Availability Zones: an Application Load Balancer needs two."
  }
}

variable "internal" {
  type        = bool
  description = "An internal load balancer (private access: reachable only inside the VPC and what is routed to it). false: internet-facing."
  default     = false
}

variable "ingress_cidr_blocks" {
  type        = list(string)
  description = "Networks admitted on 443 to the load balancer: the tenants' callers. No default, so opening it to the internet (0.0.0.0/0) is a choice written down in the account's tfvars."

  validation {
    condition     = length(var.ingress_cidr_blocks) > 0 && alltrue([for c in var.ingress_cidr_blocks : can(cidrhost(c, 0))])
    error_message = "ingress_cidr_blocks must be at least one IPv4 CIDR block (e.g. 10.20.0.0/16)."
  }
}

variable "task_egress_cidr_blocks" {
  type        = list(string)
  description = "Where the tasks may open HTTPS connections (AWS APIs). 0.0.0.0/0 through a NAT gateway; the VPC's CIDR when every service is reached through VPC endpoints (private access); empty when extra_task_security_group_ids give the way out."
  default     = ["0.0.0.0/0"]

  validation {
    condition     = alltrue([for c in var.task_egress_cidr_blocks : can(cidrhost(c, 0))])
    error_message = "task_egress_cidr_blocks must be IPv4 CIDR blocks (e.g. 10.20.0.0/16)."
  }
}

variable "extra_task_security_group_ids" {
  type        = list(string)
  description = "Security groups the tasks also join: with private access, the private-access module's function security group, which its VPC endpoints admit (HTTPS to the endpoints and DynamoDB)."
  default     = []

  validation {
    condition     = alltrue([for id in var.extra_task_security_group_ids : can(regex("^sg-[0-9a-f]+$", id))])
    error_message = "extra_task_security_group_ids must be security group ids (sg-...)."
  }
}

variable "certificate_arn" {
  type        = string
  description = "ACM certificate of the HTTPS listener (the name the tenants call)."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]+$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)."
  }
}

variable "ssl_policy" {
  type        = string
  description = "TLS policy of the HTTPS listener."
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"

  validation {
    condition     = startswith(var.ssl_policy, "ELBSecurityPolicy-TLS13-") || startswith(var.ssl_policy, "ELBSecurityPolicy-FS-1-2-")
    error_message = "ssl_policy must be a TLS 1.2+ policy with forward secrecy (ELBSecurityPolicy-TLS13-* or ELBSecurityPolicy-FS-1-2-*)."
  }
}

variable "max_request_seconds" {
  type        = number
  description = "The longest request (the gateway's MAX_REQUEST_SECONDS): how long a task leaving the service keeps its open streams (target group deregistration delay)."
  default     = 300

  validation {
    condition     = var.max_request_seconds >= 10 && var.max_request_seconds <= 3600 && floor(var.max_request_seconds) == var.max_request_seconds
    error_message = "max_request_seconds must be a whole number between 10 and 3600 (the target group's deregistration delay range)."
  }
}

variable "idle_timeout_seconds" {
  type        = number
  description = "Load balancer idle timeout: the longest silence on a connection. Longer than any pause of a stream (a model's first token can take a while on a long prompt); 330 s covers a whole 300 s request with no byte at all."
  default     = 330

  validation {
    condition     = var.idle_timeout_seconds >= 60 && var.idle_timeout_seconds <= 4000 && floor(var.idle_timeout_seconds) == var.idle_timeout_seconds
    error_message = "idle_timeout_seconds must be a whole number between 60 and 4000 (below 60 s a quiet stream is cut; 4000 is ELB's maximum)."
  }
}

variable "cpu" {
  type        = number
  description = "Task CPU units (1024 = 1 vCPU); granian runs one worker per vCPU."
  default     = 1024

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "cpu must be a Fargate size: 256, 512, 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "calls_in_flight_per_task" {
  type        = number
  description = "Calls one task serves at once (GATEWAY_THREADS threads per granian worker, spread over the workers). Each waits on Bedrock in a thread of its own (some 100-200 KB), so 256 fit a 2 GB task with room to spare; the cost model in make bench assumes this figure."
  default     = 256

  validation {
    condition     = var.calls_in_flight_per_task >= 1 && var.calls_in_flight_per_task <= 4096 && floor(var.calls_in_flight_per_task) == var.calls_in_flight_per_task
    error_message = "calls_in_flight_per_task must be a whole number from 1 to 4096."
  }
}

variable "memory" {
  type        = number
  description = "Task memory in MiB; Fargate allows 2x to 8x the vCPUs in GiB (512/1024/2048 for 256 CPU units)."
  default     = 2048

  validation {
    condition = (
      var.cpu == 256 ? contains([512, 1024, 2048], var.memory)
      : var.cpu == 512 ? var.memory >= 1024 && var.memory <= 4096 && var.memory % 1024 == 0
      : var.memory >= var.cpu * 2 && var.memory <= var.cpu * 8 && var.memory % 1024 == 0
    )
    error_message = "memory must fit cpu as Fargate allows: 512, 1024 or 2048 MiB for 256 CPU units, otherwise whole GiB from 2x to 8x the vCPUs (1024 CPU units: 2048 to 8192)."
  }
}

variable "autoscaling" {
  type = object({
    min_tasks                 = optional(number, 2)
    max_tasks                 = optional(number, 10)
    requests_per_task         = optional(number, 600)
    cpu_percent               = optional(number, 60)
    scale_in_cooldown_seconds = optional(number, 300)
  })
  description = "Target tracking: requests_per_task (ALBRequestCountPerTarget, per minute) and cpu_percent (average CPU), between min_tasks and max_tasks. Two tasks at least keep the service up through one Availability Zone's loss."
  default     = {}

  validation {
    condition     = var.autoscaling.min_tasks >= 1 && var.autoscaling.max_tasks >= var.autoscaling.min_tasks && floor(var.autoscaling.min_tasks) == var.autoscaling.min_tasks && floor(var.autoscaling.max_tasks) == var.autoscaling.max_tasks
    error_message = "autoscaling.min_tasks must be a whole number of at least 1, and max_tasks a whole number not below it."
  }

  validation {
    condition     = var.autoscaling.requests_per_task > 0 && var.autoscaling.cpu_percent > 0 && var.autoscaling.cpu_percent <= 100 && var.autoscaling.scale_in_cooldown_seconds >= 0
    error_message = "autoscaling.requests_per_task must be positive, cpu_percent between 1 and 100, scale_in_cooldown_seconds not negative."
  }
}

variable "access_logs" {
  type = object({
    bucket = string
    prefix = optional(string, "gateway-alb")
  })
  description = "Load balancer access logs to an S3 bucket whose policy lets ELB write (null: none). They carry client IPs and paths, never bodies or headers."
  default     = null
}

variable "waf_rate_rule" {
  type = object({
    enabled                = optional(bool, true)
    requests_per_5_minutes = optional(number, 3000)
  })
  description = "The module's WAF web ACL with one rate-based rule per client IP, associated with the load balancer (as the gateway module does for API Gateway). enabled = false turns it off; ignored when waf_web_acl_arn brings an ACL of your own."
  default     = {}

  validation {
    condition     = var.waf_rate_rule.requests_per_5_minutes >= 10 && var.waf_rate_rule.requests_per_5_minutes <= 2000000000 && floor(var.waf_rate_rule.requests_per_5_minutes) == var.waf_rate_rule.requests_per_5_minutes
    error_message = "waf_rate_rule.requests_per_5_minutes must be a whole number between 10 and 2,000,000,000 (WAF's range)."
  }
}

variable "waf_web_acl_arn" {
  type        = string
  description = "Optional WAFv2 web ACL (REGIONAL) of your own to associate with the load balancer."
  default     = null

  validation {
    condition     = var.waf_web_acl_arn == null || can(regex("^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:[0-9]{12}:regional/webacl/[A-Za-z0-9_-]{1,128}/[a-f0-9-]{36}$", var.waf_web_acl_arn))
    error_message = "waf_web_acl_arn must be a REGIONAL WAFv2 web ACL ARN (arn:aws:wafv2:<region>:<account>:regional/webacl/<name>/<id>) or null."
  }
}

variable "deletion_protection" {
  type        = bool
  description = "Protect the load balancer from deletion."
  default     = true
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the task log group."
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, ..., 365, ..., 3653)."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}
