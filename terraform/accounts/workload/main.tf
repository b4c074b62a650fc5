# The workload account: tagged inference profiles, budgets, anomaly detection, the gateway and its
# alarms, all driven by the one tenants map in terraform.tfvars.

locals {
  # One source of truth for models: the gateway's own catalog.
  model_catalog = jsondecode(file("${path.module}/../../../lambda_src/cost_sentry/data/models.json")).models

  lambda_zip_path = coalesce(var.lambda_zip_path, "${path.module}/../../../build/lambda/cost_sentry.zip")

  tags = {
    application = "cost-sentry"
  }

  container = var.gateway_deployment == "container"
}

# The tenant contract: defaults, validation, derived names and config documents, evaluated once.
module "tenants" {
  source = "../../../modules/tenants"

  name_prefix  = var.name_prefix
  environment  = var.environment
  known_models = keys(local.model_catalog)
  tenants      = var.tenants
}

module "inference_profiles" {
  source = "../../../modules/inference-profiles"

  name_prefix   = var.name_prefix
  region        = var.region
  account_id    = var.account_id
  model_catalog = local.model_catalog
  tenants       = module.tenants.tenants
  tags          = local.tags
}

module "budgets" {
  source = "../../../modules/budgets"

  name_prefix  = var.name_prefix
  account_id   = var.account_id
  tenants      = module.tenants.tenants
  alert_emails = var.alert_emails
  tags         = local.tags
}

module "anomaly_detection" {
  source = "../../../modules/anomaly-detection"

  name       = "${var.name_prefix}-tenants"
  account_id = var.account_id
  monitor = {
    kind       = "cost_allocation_tag"
    tag_key    = "applicationId"
    tag_values = module.tenants.application_ids
  }
  frequency         = "IMMEDIATE"
  threshold         = { absolute_usd = var.anomaly_threshold_usd }
  email_subscribers = var.alert_emails
  tags              = local.tags
}

module "gateway" {
  source = "../../../modules/gateway"

  name_prefix           = var.name_prefix
  account_id            = var.account_id
  region                = var.region
  tenants               = module.tenants.tenants
  profile_arns          = module.inference_profiles.profile_arns
  underlying_model_arns = module.inference_profiles.underlying_model_arns
  budget_name_prefix    = var.name_prefix
  budget_topic_arn      = module.budgets.topic_arn
  per_user_sessions     = var.per_user_sessions
  profile_resolver      = var.profile_resolver
  alert_emails          = var.alert_emails
  tags                  = local.tags
  waf_rate_rule         = var.waf_rate_rule
  private_access        = var.private_access == null ? null : module.private_access[0].gateway_private_access

  sagemaker_shared_endpoints = module.sagemaker_endpoints.gateway_shared_endpoints
  # The container's task role may take the tenants' invoker roles (per-user sessions) like the function.
  additional_invoker_principals = local.container ? [module.gateway_container[0].task_role_arn] : []

  lambda_package = {
    filename         = local.lambda_zip_path
    source_code_hash = filebase64sha256(local.lambda_zip_path)
  }
}

module "observability" {
  source = "../../../modules/observability"

  name_prefix       = var.name_prefix
  region            = var.region
  alarm_topic_arn   = module.gateway.alerts_topic_arn
  profile_ids       = module.inference_profiles.profile_ids
  tags              = local.tags
  metrics_namespace = module.gateway.metrics_namespace
  tenants           = module.tenants.tenants
}

# Bedrock model invocation logs (no prompt text unless asked for) and the audit trail; per account.
module "invocation_logging" {
  source = "../../../modules/invocation-logging"
  count  = var.invocation_logging.enabled ? 1 : 0

  name_prefix    = var.name_prefix
  account_id     = var.account_id
  region         = var.region
  destinations   = var.invocation_logging.destinations
  deliver_text   = var.invocation_logging.deliver_text
  retention_days = var.invocation_logging.retention_days
  cloudtrail     = { enabled = var.invocation_logging.cloudtrail }
  tags           = local.tags
}

# The API as PRIVATE behind an execute-api endpoint, the functions in the VPC; off when null.
module "private_access" {
  source = "../../../modules/private-access"
  count  = var.private_access == null ? 0 : 1

  name_prefix        = var.name_prefix
  region             = var.region
  vpc_id             = var.private_access.vpc_id
  subnet_ids         = var.private_access.subnet_ids
  route_table_ids    = var.private_access.route_table_ids
  client_cidr_blocks = var.private_access.client_cidr_blocks
  sagemaker_runtime  = var.private_access.sagemaker_runtime
  tags               = local.tags
}

# SageMaker endpoints: a tenant's own (tagged with its cost allocation tags) and shared ones.
module "sagemaker_endpoints" {
  source = "../../../modules/sagemaker-endpoints"

  name_prefix         = var.name_prefix
  account_id          = var.account_id
  region              = var.region
  dedicated_endpoints = var.sagemaker.dedicated_endpoints
  shared_endpoints    = var.sagemaker.shared_endpoints
  tags                = local.tags
  tenants = {
    for tenant_id, tenant in module.tenants.tenants : tenant_id => {
      application_id = tenant.application_id
      cost_center    = tenant.cost_center
      environment    = tenant.environment
    }
  }
}

# The container deployment (gateway_deployment = "container"): the same service core on ECS Fargate behind
# an Application Load Balancer, with the gateway module's tables, keys, config and KMS key, its
# environment and its rights (container_runtime). With private_access the load balancer is internal in
# the private subnets and the tasks reach AWS through the VPC endpoints (the functions' security group).
module "gateway_container" {
  source = "../../../modules/gateway-container"
  count  = local.container ? 1 : 0

  name_prefix                   = var.name_prefix
  account_id                    = var.account_id
  region                        = var.region
  image                         = var.container.image
  environment                   = module.gateway.container_runtime.environment
  task_policies                 = module.gateway.container_runtime.policies
  kms_key_arn                   = module.gateway.kms_key_arn
  vpc_id                        = var.container.vpc_id
  task_subnet_ids               = var.container.task_subnet_ids
  alb_subnet_ids                = coalesce(var.container.alb_subnet_ids, try(var.private_access.subnet_ids, null))
  internal                      = var.private_access != null
  certificate_arn               = var.container.certificate_arn
  ingress_cidr_blocks           = var.container.ingress_cidr_blocks
  task_egress_cidr_blocks       = var.container.task_egress_cidr_blocks
  extra_task_security_group_ids = var.private_access == null ? [] : [module.private_access[0].function_security_group_id]
  cpu                           = var.container.cpu
  memory                        = var.container.memory
  autoscaling                   = var.container.autoscaling
  access_logs                   = var.container.access_logs_bucket == null ? null : { bucket = var.container.access_logs_bucket }
  waf_rate_rule                 = var.waf_rate_rule
  tags                          = local.tags
}
