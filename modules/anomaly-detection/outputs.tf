output "monitor_arn" {
  description = "ARN of the anomaly monitor."
  value       = aws_ce_anomaly_monitor.this.arn
}

output "subscription_arn" {
  description = "ARN of the anomaly subscription."
  value       = aws_ce_anomaly_subscription.this.arn
}

output "topic_arn" {
  description = "The encrypted topic IMMEDIATE alerts go to (null for DAILY/WEEKLY digests)."
  value       = local.immediate ? module.topic[0].topic_arn : null
}
