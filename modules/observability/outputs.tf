output "alarm_names" {
  description = "Tenant id -> the names of its alarms (gateway metrics, tokens, Bedrock errors per profile)."
  value = {
    for tenant_id in keys(var.tenants) : tenant_id => sort(concat(
      [for key, alarm in aws_cloudwatch_metric_alarm.gateway : alarm.alarm_name if local.gateway_alarms[key].tenant_id == tenant_id],
      [aws_cloudwatch_metric_alarm.tokens[tenant_id].alarm_name],
      [for key, alarm in aws_cloudwatch_metric_alarm.burn_rate : alarm.alarm_name if key == tenant_id],
      [for key, alarm in aws_cloudwatch_metric_alarm.bedrock_errors : alarm.alarm_name if local.tenant_profiles[key].tenant_id == tenant_id],
    ))
  }
}

output "alarm_keys" {
  description = "The stable keys of every alarm (what the tests count)."
  value = sort(concat(
    keys(aws_cloudwatch_metric_alarm.gateway),
    [for tenant_id in keys(aws_cloudwatch_metric_alarm.tokens) : "${tenant_id}/tokens"],
    [for tenant_id in keys(aws_cloudwatch_metric_alarm.burn_rate) : "${tenant_id}/burn-rate"],
    [for key in keys(aws_cloudwatch_metric_alarm.bedrock_errors) : "${key}/bedrock-errors"],
  ))
}

output "dashboard_name" {
  description = "Name of the tenants dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}
