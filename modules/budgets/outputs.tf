output "budget_names" {
  description = "Tenant id -> budget name."
  value       = { for id, b in local.budgets : id => b.name }
}

output "budget_arns" {
  description = "Tenant id -> budget ARN."
  value = merge(
    { for id, b in aws_budgets_budget.terraform_managed : id => b.arn },
    { for id, b in aws_budgets_budget.console_managed : id => b.arn },
  )
}

output "cost_filters" {
  description = "Tenant id -> the TagKeyValue filter value of its budget."
  value       = { for id, b in local.budgets : id => b.filter_value }
}

output "console_managed_tenants" {
  description = "Tenant ids whose budget amount is managed in the console (Terraform ignores later amount changes)."
  value       = sort(keys(local.console_managed))
}

output "topic_arn" {
  description = "The encrypted SNS topic every budget notifies (subscribe the budget alert function here)."
  value       = module.topic.topic_arn
}

output "kms_key_arn" {
  description = "KMS key of the topic."
  value       = module.topic.kms_key_arn
}

output "notifications" {
  description = "Tenant id -> the budget's notifications (ACTUAL/FORECASTED and percent threshold)."
  value       = { for id, b in local.budgets : id => b.notifications }
}
