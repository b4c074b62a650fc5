output "invoke_url" {
  description = "Base URL of the API: POST <invoke_url>/v1/converse."
  value       = aws_api_gateway_stage.this.invoke_url
}

output "rest_api_id" {
  description = "Id of the REST API."
  value       = aws_api_gateway_rest_api.this.id
}

output "api_key_ids" {
  description = "Tenant id -> API key id (what the config item's apiKeyIds holds)."
  value       = { for tenant_id, key in aws_api_gateway_api_key.tenant : tenant_id => key.id }
}

output "api_key_values" {
  description = "Tenant id -> API key value, to hand to the tenant (terraform output -json api_key_values)."
  value       = { for tenant_id, key in aws_api_gateway_api_key.tenant : tenant_id => key.value }
  sensitive   = true
}

output "tenant_configs" {
  description = "Tenant id -> the runtime config document written to the config table."
  value       = local.tenant_configs
}

output "usage_plan_throttles" {
  description = "Tenant id -> API Gateway throttle (rate_limit, burst_limit)."
  value       = local.usage_plan_throttles
}

output "ledger_table_name" {
  description = "Name of the ledger table."
  value       = aws_dynamodb_table.ledger.name
}

output "config_table_name" {
  description = "Name of the config table."
  value       = aws_dynamodb_table.config.name
}

output "function_names" {
  description = "Function key (gateway, budget_sync, budget_alert, ledger_sweep) -> Lambda function name."
  value       = { for key, fn in aws_lambda_function.this : key => fn.function_name }
}

output "gateway_role_arn" {
  description = "Execution role of the gateway function."
  value       = aws_iam_role.function["gateway"].arn
}

output "own_principals" {
  description = "Function (gateway, stream) -> the IAM principal CUR 2.0 records for its calls made with its own role (no per-user session); the call records carry it too."
  value       = local.own_principals
}

output "invoker_role_arns" {
  description = "Tenant id -> invoker role ARN (empty unless per_user_sessions)."
  value       = local.invoker_role_arns
}

output "alerts_topic_arn" {
  description = "SNS topic for operational alarms (give it to the observability module)."
  value       = module.alerts_topic.topic_arn
}

output "kms_key_arn" {
  description = "KMS key of the tables, logs, function environment and DLQ."
  value       = aws_kms_key.this.arn
}

output "dead_letter_queue_arn" {
  description = "SQS queue receiving budget events the helper functions failed to handle."
  value       = aws_sqs_queue.dead_letter.arn
}

output "metrics_namespace" {
  description = "CloudWatch namespace of the gateway's EMF metrics (give it to the observability module)."
  value       = var.metrics_namespace
}

output "container_runtime" {
  description = "What the container deployment (modules/gateway-container) runs with, defined once here: `environment`, the gateway function's environment (tables, metrics namespace, limits; the container sets its own OWN_PRINCIPAL), and `policies`, name -> IAM policy JSON with exactly the gateway function's rights (tables, config, Bedrock on the tenants' profiles or the invoker roles with per_user_sessions, the stack's KMS key) plus the authorizer's read of the API keys, since the container checks credentials in-process."
  value = {
    environment = { for name, value in local.functions.gateway.environment : name => value if name != "OWN_PRINCIPAL" }
    policies = {
      data-access            = jsonencode({ Version = "2012-10-17", Statement = concat(local.gateway_statements, [local.read_api_keys_statement]) })
      invoke-tenant-profiles = aws_iam_role_policy.gateway_invoke.policy
      # Apart from the others: the key's ARN is known only after apply, the rest is asserted at plan time.
      use-stack-key = jsonencode({ Version = "2012-10-17", Statement = [local.common_statements[0]] })
    }
  }
}
