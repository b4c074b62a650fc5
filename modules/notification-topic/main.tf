# An SNS topic encrypted with its own customer-managed key. AWS services publishing to an encrypted
# topic need kms:GenerateDataKey*/Decrypt on the key, which the AWS-managed alias/aws/sns key cannot grant:
# hence one key per topic, admitting exactly the services that publish to it.

data "aws_region" "current" {}

locals {
  account_root = "arn:${var.partition}:iam::${var.account_id}:root"
  # Built from the name so the topic policy is known at plan time (and tested).
  topic_arn = "arn:${var.partition}:sns:${data.aws_region.current.id}:${var.account_id}:${var.name}"

  # What each admitted service publishes on behalf of: only this account's budgets, anomaly
  # subscriptions and alarms (the confused-deputy guard, together with aws:SourceAccount).
  publisher_source_arns = {
    "budgets.amazonaws.com"    = "arn:${var.partition}:budgets::${var.account_id}:*"
    "costalerts.amazonaws.com" = "arn:${var.partition}:ce::${var.account_id}:anomalysubscription/*"
    "cloudwatch.amazonaws.com" = "arn:${var.partition}:cloudwatch:*:${var.account_id}:alarm:*"
  }
}

resource "aws_kms_key" "this" {
  description             = "Encrypts the ${var.name} SNS topic"
  deletion_window_in_days = var.kms_deletion_window_days
  enable_key_rotation     = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = local.account_root }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "PublishersEncrypt"
        Effect    = "Allow"
        Principal = { Service = sort(tolist(var.publisher_services)) }
        Action    = ["kms:GenerateDataKey*", "kms:Decrypt"]
        Resource  = "*"
        # No aws:SourceAccount condition here: not every publishing service sends it on its KMS calls,
        # and the key is only reachable through this topic, whose policy does pin the source account.
      },
    ]
  })
  tags = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}

resource "aws_sns_topic" "this" {
  name              = var.name
  kms_master_key_id = aws_kms_key.this.arn
  tags              = var.tags
}

resource "aws_sns_topic_policy" "this" {
  arn = aws_sns_topic.this.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # No SNS:Publish: a principal of the account must not be able to forge a budget notification
        # (the budget alert function blocks tenants on them).
        Sid       = "AccountManages"
        Effect    = "Allow"
        Principal = { AWS = local.account_root }
        Action = [
          "SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission", "SNS:RemovePermission",
          "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic",
        ]
        Resource = local.topic_arn
      },
      {
        Sid       = "ServicesPublishForThisAccount"
        Effect    = "Allow"
        Principal = { Service = sort(tolist(var.publisher_services)) }
        Action    = "SNS:Publish"
        Resource  = local.topic_arn
        Condition = {
          StringEquals = { "aws:SourceAccount" = var.account_id }
          ArnLike      = { "aws:SourceArn" = [for service in sort(tolist(var.publisher_services)) : local.publisher_source_arns[service]] }
        }
      },
      {
        # Same-account IAM principals need no topic grant to publish (their identity policy suffices), so
        # only an explicit deny keeps them out: nothing but an AWS service may publish.
        Sid       = "OnlyServicesPublish"
        Effect    = "Deny"
        Principal = "*"
        Action    = "SNS:Publish"
        Resource  = local.topic_arn
        Condition = { Bool = { "aws:PrincipalIsAWSService" = "false" } }
      },
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "SNS:Publish"
        Resource  = local.topic_arn
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })
}

resource "aws_sns_topic_subscription" "email" {
  for_each = var.email_subscribers

  topic_arn = aws_sns_topic.this.arn
  protocol  = "email"
  endpoint  = each.value
}
