output "bucket_name" {
  description = "Encrypted bucket of the invocation logs (prefix bedrock/) and the trail (prefix cloudtrail/)."
  value       = module.bucket.name
}

output "invocation_logs_prefix" {
  description = "Key prefix under which Bedrock writes this account's invocation logs (hourly folders yyyy/MM/dd/HH)."
  value       = local.invocation_logs
}

output "log_group_name" {
  description = "CloudWatch Logs group of the invocation logs; null when CloudWatch delivery is off."
  value       = local.cloudwatch_on ? aws_cloudwatch_log_group.this[0].name : null
}

output "glue_table" {
  description = "Database and table Athena queries the invocation logs with."
  value       = { database = aws_glue_catalog_database.this.name, table = aws_glue_catalog_table.invocations.name }
}

output "trail_name" {
  description = "The audit trail; null when an organization trail is relied on instead."
  value       = local.cloudtrail_on ? aws_cloudtrail.this[0].name : null
}

output "kms_key_arn" {
  description = "KMS key of the bucket, the log group and the trail (readers of the logs need kms:Decrypt)."
  value       = aws_kms_key.this.arn
}
