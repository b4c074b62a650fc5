output "topic_arn" {
  description = "ARN of the encrypted SNS topic."
  value       = aws_sns_topic.this.arn
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting the topic."
  value       = aws_kms_key.this.arn
}

output "email_subscription_arns" {
  description = "Subscription ARN per e-mail address (pending until the address confirms)."
  value       = { for email, subscription in aws_sns_topic_subscription.email : email => subscription.arn }
}
