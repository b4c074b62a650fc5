output "invoke_url" {
  description = "Base URL of the API Gateway front: POST <invoke_url>/v1/converse with x-api-key."
  value       = module.gateway.invoke_url
}

output "gateway_url" {
  description = "Base URL the tenants call, of the deployment gateway_deployment chose: the API Gateway stage (lambda) or https://<load balancer> (container; point the certificate's name at it)."
  value       = local.container ? module.gateway_container[0].url : module.gateway.invoke_url
}

output "gateway_deployment" {
  description = "Which front serves the tenants: lambda or container."
  value       = var.gateway_deployment
}

output "container_service" {
  description = "The container deployment's cluster, service, log group and load balancer (null with gateway_deployment = lambda)."
  value = local.container ? {
    cluster_name           = module.gateway_container[0].cluster_name
    service_name           = module.gateway_container[0].service_name
    log_group_name         = module.gateway_container[0].log_group_name
    load_balancer_dns_name = module.gateway_container[0].load_balancer_dns_name
  } : null
}

output "api_key_ids" {
  description = "Tenant id -> API key id."
  value       = module.gateway.api_key_ids
}

output "api_key_values" {
  description = "Tenant id -> API key to hand to the tenant (terraform output -json api_key_values)."
  value       = module.gateway.api_key_values
  sensitive   = true
}

output "profile_arns" {
  description = "Tenant id -> model -> application inference profile ARN."
  value       = module.inference_profiles.profile_arns
}

output "budget_names" {
  description = "Tenant id -> AWS Budget name."
  value       = module.budgets.budget_names
}

output "console_managed_tenants" {
  description = "Tenants whose budget amount is managed in the Budgets console."
  value       = module.budgets.console_managed_tenants
}

output "ledger_table_name" {
  description = "DynamoDB ledger table."
  value       = module.gateway.ledger_table_name
}

output "config_table_name" {
  description = "DynamoDB config table."
  value       = module.gateway.config_table_name
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the tenants."
  value       = module.observability.dashboard_name
}

output "invocation_logs" {
  description = "Where this account's Bedrock invocation logs are (bucket, prefix, Glue table); null when logging is off."
  value = var.invocation_logging.enabled ? {
    bucket     = module.invocation_logging[0].bucket_name
    prefix     = module.invocation_logging[0].invocation_logs_prefix
    glue_table = module.invocation_logging[0].glue_table
  } : null
}

# What the local stack, the demo and the reports read (from `terraform output -json`, or offline from a
# plan: scripts/testbed/terraform_offline/outputs.py).
output "tenants" {
  description = "Tenant id -> normalized tenant (modules/tenants): defaults applied, derived names, config document."
  value       = module.tenants.tenants
}

output "tenant_id_pattern" {
  description = "The regular expression every tenant id matches."
  value       = module.tenants.tenant_id_pattern
}

output "name_prefix" {
  description = "Prefix of every resource name."
  value       = var.name_prefix
}

output "per_user_sessions" {
  description = "Whether the gateway runs each end user's calls in their own session of the tenant's invoker role."
  value       = var.per_user_sessions
}

output "metrics_namespace" {
  description = "CloudWatch namespace of the gateway's metrics."
  value       = module.gateway.metrics_namespace
}

output "gateway_principals" {
  description = "Gateway function (gateway, stream) -> the IAM principal CUR 2.0 records for calls it makes with its own role (no per-user session)."
  value       = module.gateway.own_principals
}

output "account_id" {
  description = "The workload account (the account of the invoker roles in CUR's line_item_iam_principal)."
  value       = var.account_id
}
