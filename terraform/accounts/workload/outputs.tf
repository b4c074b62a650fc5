output "invoke_url" {
  description = "Base URL of the gateway: POST <invoke_url>/v1/converse with x-api-key."
  value       = module.gateway.invoke_url
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
