# The CUR 2.0 export (with IAM principal data, the per-user attribution source) delivered as Parquet to
# an encrypted bucket (modules/encrypted-bucket), and the Glue table + Athena workgroup the chargeback
# reports query it with.

locals {
  bucket_name   = coalesce(var.bucket_name, "${var.name_prefix}-cur-${var.account_id}")
  bucket_arn    = "arn:${var.partition}:s3:::${local.bucket_name}"
  export_name   = "${var.name_prefix}-cur2"
  data_location = "s3://${local.bucket_name}/${var.s3_prefix}/${local.export_name}/data"
  results_key   = "athena-results"
  account_root  = "arn:${var.partition}:iam::${var.account_id}:root"

  # Data Exports and the legacy CUR service both run in us-east-1 whatever the bucket's Region.
  delivery_source_arns = [
    "arn:${var.partition}:bcm-data-exports:us-east-1:${var.account_id}:export/*",
    "arn:${var.partition}:cur:us-east-1:${var.account_id}:definition/*",
  ]
  delivery_services = ["bcm-data-exports.amazonaws.com", "billingreports.amazonaws.com"]
}

resource "aws_kms_key" "this" {
  description             = "Encrypts the CUR 2.0 export and the Athena results in ${local.bucket_name}"
  deletion_window_in_days = 30
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
        Sid       = "BillingDeliversEncrypted"
        Effect    = "Allow"
        Principal = { Service = local.delivery_services }
        Action    = ["kms:GenerateDataKey*", "kms:Decrypt"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = var.account_id }
          ArnLike      = { "aws:SourceArn" = local.delivery_source_arns }
        }
      },
    ]
  })
  tags = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name_prefix}-cur"
  target_key_id = aws_kms_key.this.key_id
}

module "bucket" {
  source = "../encrypted-bucket"

  name        = local.bucket_name
  kms_key_arn = aws_kms_key.this.arn
  partition   = var.partition
  lifecycle_rules = {
    expire-athena-results = {
      prefix          = "${local.results_key}/"
      expiration_days = var.query_results_retention_days
    }
    expire-overwritten-versions = {
      noncurrent_version_expiration_days     = var.noncurrent_version_retention_days
      abort_incomplete_multipart_upload_days = 7
    }
  }
  policy_statements_json = jsonencode([
    {
      Sid       = "BillingDeliversExports"
      Effect    = "Allow"
      Principal = { Service = local.delivery_services }
      Action    = ["s3:PutObject", "s3:GetBucketPolicy"]
      Resource  = [local.bucket_arn, "${local.bucket_arn}/*"]
      Condition = {
        StringEquals = { "aws:SourceAccount" = var.account_id }
        ArnLike      = { "aws:SourceArn" = local.delivery_source_arns }
      }
    },
  ])
  tags = var.tags
}

# The bucket's resources were this module's own before modules/encrypted-bucket: moved, not replaced.
moved {
  from = aws_s3_bucket.this
  to   = module.bucket.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_public_access_block.this
  to   = module.bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_ownership_controls.this
  to   = module.bucket.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_versioning.this
  to   = module.bucket.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.this
  to   = module.bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.this
  to   = module.bucket.aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket_policy.this
  to   = module.bucket.aws_s3_bucket_policy.this
}
