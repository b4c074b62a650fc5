variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,19}$", var.name_prefix))
    error_message = "name_prefix must be 1-20 lowercase letters, digits or hyphens (IAM role names are at most 64 characters)."
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
  description = "Region of the gateway."
}

variable "partition" {
  type        = string
  description = "AWS partition of the ARNs."
  default     = "aws"
}

variable "tenants" {
  type = map(object({
    application_id = string
    cost_center    = string
    environment    = string
    models         = list(string)
    limits = object({
      requests_per_minute = number
    })
    enforce           = optional(bool, true) # false = shadow mode: the usage plan does not throttle at requests_per_minute
    tags              = map(string)
    api_key_name      = string
    usage_plan_name   = string
    invoker_role_name = string
    config_json       = string
  }))
  description = "Tenant id -> normalized tenant: the `tenants` output of modules/tenants, which applies the contract's defaults and validation (docs/design.md section 2). Each gets an API key, a usage plan, a config item (config_json completed with apiKeyIds, models and invokerRoleArn) and, with per_user_sessions, an invoker role."

  validation {
    condition     = alltrue([for t in values(var.tenants) : can(jsondecode(t.config_json).tenantId)])
    error_message = "config_json must be the runtime config document of modules/tenants (a JSON object with tenantId)."
  }
}

variable "profile_arns" {
  type        = map(map(string))
  description = "Tenant id -> model -> application inference profile ARN (the inference-profiles module's profile_arns)."
}

variable "underlying_model_arns" {
  type        = map(list(string))
  description = "Tenant id -> foundation model / system profile ARNs behind its profiles (the inference-profiles module's underlying_model_arns)."
}

variable "budget_name_prefix" {
  type        = string
  description = "The budgets module's name_prefix: tenant budgets are named <prefix>-<tenant>, and the budget functions may read only budgets with this prefix."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,31}$", var.budget_name_prefix))
    error_message = "budget_name_prefix must be 1-32 lowercase letters, digits or hyphens."
  }
}

variable "budget_topic_arn" {
  type        = string
  description = "The budgets' SNS topic; the budget alert function subscribes to it."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", var.budget_topic_arn))
    error_message = "budget_topic_arn must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)."
  }
}

variable "lambda_package" {
  type = object({
    filename         = string
    source_code_hash = string
  })
  description = "The zip built by `python -m scripts.devtools.build_lambda` and its base64 SHA-256 (filebase64sha256)."
}

variable "lambda_runtime" {
  type        = string
  description = "Python runtime of the functions."
  default     = "python3.13"

  validation {
    condition     = contains(["python3.12", "python3.13"], var.lambda_runtime)
    error_message = "lambda_runtime must be python3.12 or python3.13."
  }
}

variable "lambda_memory_mb" {
  type        = number
  description = "Memory of the gateway and streaming functions (CPU scales with it). 256 MB is the cost model's choice (`make bench`, README \"What it costs to run\"): a call is billed for its whole wait for Bedrock at every size, and 256 MB is the smallest that holds twice the measured peak RSS (49 MB) and adds under 50 ms of CPU and ledger writes to a call. With per_user_sessions each tenant's session cache takes up to about 8 MB: beyond some 20 such tenants, raise it."
  default     = 256

  validation {
    condition     = var.lambda_memory_mb >= 128 && var.lambda_memory_mb <= 10240
    error_message = "lambda_memory_mb must be between 128 and 10240."
  }
}

variable "reserved_concurrency" {
  type        = number
  description = "Reserved concurrency of the gateway function; null shares the account pool."
  default     = null

  validation {
    condition     = var.reserved_concurrency == null || try(var.reserved_concurrency >= 1, false)
    error_message = "reserved_concurrency must be at least 1 or null."
  }
}

variable "reserve_helper_concurrency" {
  type        = bool
  description = "Reserve concurrency for the budget helpers (1 for sync, 5 for alert) so a burst of budget events never starves the gateway. Turn off in accounts whose Lambda concurrency quota is still the new-account 10, where any reservation is refused."
  default     = true
}

variable "max_request_seconds" {
  type        = number
  description = "MAX_REQUEST_SECONDS: the functions' timeout (the streaming function's is capped at API Gateway's 300 s; 300 s lets claude-3-5-haiku finish its 8,192 output tokens at its conservative 30 tokens/s) and the lifetime of a budget hold."
  default     = 300

  validation {
    condition     = var.max_request_seconds >= 10 && var.max_request_seconds <= 900 && floor(var.max_request_seconds) == var.max_request_seconds
    error_message = "max_request_seconds must be a whole number between 10 and 900."
  }
}

variable "integration_timeout_ms" {
  type        = number
  description = "API Gateway integration timeout. 29000 is the default quota; Regional APIs may raise it (Service Quotas) up to the function timeout."
  default     = 29000

  validation {
    condition     = var.integration_timeout_ms >= 50 && var.integration_timeout_ms <= 900000
    error_message = "integration_timeout_ms must be between 50 and 900000."
  }
}

variable "bedrock_timeout_seconds" {
  type        = number
  description = "BEDROCK_TIMEOUT_SECONDS: read timeout of one Bedrock call."
  default     = 60
}

variable "max_body_bytes" {
  type        = number
  description = "MAX_BODY_BYTES: largest request body accepted."
  default     = 262144
}

variable "config_refresh_seconds" {
  type        = number
  description = "CONFIG_REFRESH_SECONDS: how long the gateway caches the config table."
  default     = 300
}

variable "profile_resolver" {
  type        = string
  description = "PROFILE_RESOLVER: static (profile ARNs from the config item) or dynamic (looked up by tags)."
  default     = "static"

  validation {
    condition     = contains(["static", "dynamic"], var.profile_resolver)
    error_message = "profile_resolver must be static or dynamic."
  }
}

variable "log_prompts" {
  type        = bool
  description = "LOG_PROMPTS: log request and response text (off: prompts can hold personal data)."
  default     = false
}

variable "metrics_namespace" {
  type        = string
  description = "METRICS_NAMESPACE of the gateway's EMF metrics (the one default of the namespace; the observability module takes this module's metrics_namespace output)."
  default     = "GenAIRateLimiting"

  validation {
    # CloudWatch: 1-255 characters, no colon (and none of the control characters).
    condition     = length(var.metrics_namespace) >= 1 && length(var.metrics_namespace) <= 255 && !strcontains(var.metrics_namespace, ":") && can(regex("^[^\\x00-\\x1f]+$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be 1-255 characters without a colon and must not start with AWS/ (CloudWatch's rules for a custom namespace)."
  }
}

variable "per_user_sessions" {
  type        = bool
  description = "PER_USER_SESSIONS: create a per-tenant invoker role the gateway assumes with the end user as session name, so CUR's line_item_iam_principal names the user."
  default     = false
}

variable "call_record_retention_days" {
  type        = number
  description = "CALL_RECORD_RETENTION_DAYS: call records expire (DynamoDB TTL) after this many days."
  default     = 400

  validation {
    condition     = var.call_record_retention_days >= 1
    error_message = "call_record_retention_days must be at least 1."
  }
}

variable "default_throttle" {
  type = object({
    rate_limit  = number
    burst_limit = number
  })
  description = "API Gateway throttle of tenants without limits.requests_per_minute (requests per second, burst)."
  default     = { rate_limit = 50, burst_limit = 100 }
}

variable "stage_name" {
  type        = string
  description = "API Gateway stage."
  default     = "live"
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the function and access log groups."
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, ..., 365, ..., 3653)."
  }
}

variable "waf_web_acl_arn" {
  type        = string
  description = "Optional WAFv2 web ACL (REGIONAL) to associate with the stage."
  default     = null

  validation {
    condition     = var.waf_web_acl_arn == null || can(regex("^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:[0-9]{12}:regional/webacl/[A-Za-z0-9_-]{1,128}/[a-f0-9-]{36}$", var.waf_web_acl_arn))
    error_message = "waf_web_acl_arn must be a REGIONAL WAFv2 web ACL ARN (arn:aws:wafv2:<region>:<account>:regional/webacl/<name>/<id>) or null."
  }
}

variable "manage_api_gateway_account" {
  type        = bool
  description = "Set the Region's API Gateway CloudWatch role (needed for access and execution logs). It is one setting per account and Region: turn off if something else manages it."
  default     = true
}

variable "deletion_protection" {
  type        = bool
  description = "Protect the DynamoDB tables from deletion."
  default     = true
}

variable "alert_emails" {
  type        = list(string)
  description = "Addresses subscribed to the alerts topic (alarms)."
  default     = []
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}

# -- SDK surfaces and streaming (surfaces.tf, authorizer.tf) ----------------------------------------

variable "stream_reserved_concurrency" {
  description = "Reserved concurrency of the streaming gateway function (the SDK surfaces); null = unreserved, from the account's pool."
  type        = number
  default     = null

  validation {
    condition     = var.stream_reserved_concurrency == null || try(var.stream_reserved_concurrency >= 1 && floor(var.stream_reserved_concurrency) == var.stream_reserved_concurrency, false)
    error_message = "stream_reserved_concurrency must be null or a whole number of at least 1."
  }
}

variable "authorizer_reserved_concurrency" {
  description = "Reserved concurrency of the API key authorizer; null = unreserved. It runs once per request, for a few milliseconds."
  type        = number
  default     = null

  validation {
    condition     = var.authorizer_reserved_concurrency == null || try(var.authorizer_reserved_concurrency >= 1 && floor(var.authorizer_reserved_concurrency) == var.authorizer_reserved_concurrency, false)
    error_message = "authorizer_reserved_concurrency must be null or a whole number of at least 1."
  }
}

# -- Hardening and private access (design branch): WAF rate rule, VPC-only API and functions ------------

variable "waf_rate_rule" {
  type = object({
    enabled                = optional(bool, true)
    requests_per_5_minutes = optional(number, 3000)
  })
  description = "The module's WAF web ACL with one rate-based rule per client IP (blocks above requests_per_5_minutes), associated with the stage. enabled = false turns it off; ignored when waf_web_acl_arn brings an ACL of your own."
  default     = {}

  validation {
    condition     = var.waf_rate_rule.requests_per_5_minutes >= 10 && var.waf_rate_rule.requests_per_5_minutes <= 2000000000 && floor(var.waf_rate_rule.requests_per_5_minutes) == var.waf_rate_rule.requests_per_5_minutes
    error_message = "waf_rate_rule.requests_per_5_minutes must be a whole number between 10 and 2,000,000,000 (WAF's range)."
  }
}

variable "private_access" {
  type = object({
    execute_api_vpc_endpoint_ids = list(string)
    subnet_ids                   = list(string)
    security_group_ids           = list(string)
  })
  description = "null: a REGIONAL API and functions outside any VPC. Set (the private-access module's outputs): the API becomes PRIVATE, reachable only through execute_api_vpc_endpoint_ids (resource policy on aws:SourceVpce), and the gateway and budget alert functions run in subnet_ids with security_group_ids, reaching AWS only through the VPC's endpoints (the budget sync stays outside: AWS Budgets has no VPC endpoint)."
  default     = null

  validation {
    condition     = var.private_access == null || try(length(var.private_access.execute_api_vpc_endpoint_ids) > 0 && length(var.private_access.subnet_ids) > 0 && length(var.private_access.security_group_ids) > 0, false)
    error_message = "private_access needs at least one execute-api VPC endpoint id, one subnet id and one security group id."
  }

  validation {
    condition     = var.private_access == null || try(alltrue([for id in var.private_access.execute_api_vpc_endpoint_ids : can(regex("^vpce-[0-9a-f]+$", id))]), false)
    error_message = "private_access.execute_api_vpc_endpoint_ids must be VPC endpoint ids (vpce-...)."
  }
}

variable "sagemaker_shared_endpoints" {
  type = map(object({
    endpoint_name          = string
    endpoint_arn           = string
    input_per_million_usd  = string
    output_per_million_usd = string
    max_output_tokens      = number
    tenants                = list(string)
    served_model           = optional(string)
  }))
  description = "Shared SageMaker endpoints the gateway routes to (the sagemaker-endpoints module's gateway_shared_endpoints), keyed by the model name tenants send: SAGEMAKER_ENDPOINTS of the gateway function, and sagemaker:InvokeEndpoint on exactly these endpoints."
  default     = {}

  validation {
    condition     = alltrue([for e in values(var.sagemaker_shared_endpoints) : can(regex("^arn:[a-z-]+:sagemaker:[a-z0-9-]+:[0-9]{12}:endpoint/", e.endpoint_arn)) && can(regex("^[0-9]+(\\.[0-9]+)?$", e.input_per_million_usd)) && can(regex("^[0-9]+(\\.[0-9]+)?$", e.output_per_million_usd))])
    error_message = "Each shared endpoint needs a SageMaker endpoint ARN and decimal-string rates (USD per million tokens)."
  }
}

# -- Per-user session flood ---------------------------------------------------------------------------

variable "new_sessions_per_minute" {
  type        = number
  description = "NEW_SESSIONS_PER_MINUTE: new per-user STS sessions one tenant may open per UTC minute (per function instance); beyond it a new user gets 429 too_many_new_sessions while known users carry on."
  default     = 60

  validation {
    condition     = var.new_sessions_per_minute >= 1 && floor(var.new_sessions_per_minute) == var.new_sessions_per_minute
    error_message = "new_sessions_per_minute must be a whole number of at least 1."
  }
}

# -- The container deployment (modules/gateway-container) ----------------------------------------------

variable "additional_invoker_principals" {
  type        = list(string)
  description = "IAM role ARNs that may assume the tenants' invoker roles besides the gateway function's role: the container deployment's task role (modules/gateway-container task_role_arn) when per_user_sessions is on. Built from the role's name so the trust policy is known at plan time."
  default     = []

  validation {
    condition     = alltrue([for arn in var.additional_invoker_principals : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,64}$", arn))])
    error_message = "additional_invoker_principals must be IAM role ARNs (arn:aws:iam::<account>:role/<name>)."
  }
}
