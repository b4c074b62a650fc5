# The key stays with the caller: its policy admits the service that writes into the bucket.
resource "aws_kms_key" "logs" {
  description         = "Encrypts the example delivery bucket"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::111111111111:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "BedrockEncryptsLogs"
        Effect    = "Allow"
        Principal = { Service = "bedrock.amazonaws.com" }
        Action    = ["kms:GenerateDataKey*", "kms:Decrypt"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = "111111111111" } }
      },
    ]
  })
}

module "bucket" {
  source = "../.."

  name        = "cost-sentry-example-logs-111111111111"
  kms_key_arn = aws_kms_key.logs.arn
  lifecycle_rules = {
    expire-after-a-year = { expiration_days = 365, noncurrent_version_expiration_days = 30, abort_incomplete_multipart_upload_days = 7 }
  }
  policy_statements_json = jsonencode([
    {
      Sid       = "BedrockDeliversLogs"
      Effect    = "Allow"
      Principal = { Service = "bedrock.amazonaws.com" }
      Action    = "s3:PutObject"
      Resource  = "arn:aws:s3:::cost-sentry-example-logs-111111111111/logs/*"
      Condition = { StringEquals = { "aws:SourceAccount" = "111111111111" } }
    },
  ])
}
