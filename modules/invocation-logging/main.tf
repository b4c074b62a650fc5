# Bedrock model invocation logs and an audit trail, per account: every Converse/InvokeModel the account
# makes is logged (model, tokens, caller identity and the gateway's requestMetadata: tenant, user, request
# id) to an encrypted bucket and/or CloudWatch Logs, without prompt text unless asked for; a Glue table
# lets Athena (or the requests report, over downloaded files) answer which requests made a tenant's spend.
# A CloudTrail trail into the same bucket records who called what (AssumeRole of the invoker roles
# included), optional where an organization trail already does.

locals {
  account_root     = "arn:${var.partition}:iam::${var.account_id}:root"
  bucket_name      = "${var.name_prefix}-audit-${var.account_id}"
  bucket_arn       = "arn:${var.partition}:s3:::${local.bucket_name}"
  log_prefix       = "bedrock"
  trail_prefix     = "cloudtrail"
  log_group_name   = "/aws/bedrock/${var.name_prefix}-invocations"
  trail_name       = "${var.name_prefix}-audit"
  trail_arn        = "arn:${var.partition}:cloudtrail:${var.region}:${var.account_id}:trail/${local.trail_name}"
  bedrock_source   = "arn:${var.partition}:bedrock:${var.region}:${var.account_id}:*"
  invocation_logs  = "${local.log_prefix}/AWSLogs/${var.account_id}/BedrockModelInvocationLogs/${var.region}"
  glue_database    = replace("${var.name_prefix}_audit", "-", "_")
  cloudtrail_on    = var.cloudtrail.enabled
  cloudwatch_on    = var.destinations.cloudwatch
  s3_delivery_on   = var.destinations.s3
  trail_object_arn = "${local.bucket_arn}/${local.trail_prefix}/AWSLogs/${var.account_id}/*"

  # Bedrock's record (schemaType ModelInvocationLog), as Athena reads the JSON lines; text fields only
  # appear when deliver_text is on, so the table leaves them out.
  log_columns = [
    { name = "schematype", type = "string" },
    { name = "schemaversion", type = "string" },
    { name = "timestamp", type = "string" },
    { name = "accountid", type = "string" },
    { name = "region", type = "string" },
    { name = "requestid", type = "string" },
    { name = "operation", type = "string" },
    { name = "modelid", type = "string" },
    { name = "identity", type = "struct<arn:string>" },
    { name = "input", type = "struct<inputcontenttype:string,inputtokencount:bigint,cachereadinputtokencount:bigint,cachewriteinputtokencount:bigint>" },
    { name = "output", type = "struct<outputcontenttype:string,outputtokencount:bigint>" },
    { name = "requestmetadata", type = "map<string,string>" },
  ]
}

resource "aws_kms_key" "this" {
  description             = "Encrypts Bedrock invocation logs and the audit trail of ${var.account_id}"
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
        Sid       = "BedrockWritesInvocationLogs"
        Effect    = "Allow"
        Principal = { Service = "bedrock.amazonaws.com" }
        Action    = ["kms:GenerateDataKey*", "kms:Decrypt"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = var.account_id }
          ArnLike      = { "aws:SourceArn" = local.bedrock_source }
        }
      },
      {
        Sid       = "CloudTrailEncryptsTrail"
        Effect    = "Allow"
        Principal = { Service = "cloudtrail.amazonaws.com" }
        Action    = ["kms:GenerateDataKey*", "kms:DescribeKey"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceArn" = local.trail_arn }
          StringLike   = { "kms:EncryptionContext:aws:cloudtrail:arn" = "arn:${var.partition}:cloudtrail:*:${var.account_id}:trail/*" }
        }
      },
      {
        Sid       = "LogsEncryptTheInvocationLogGroup"
        Effect    = "Allow"
        Principal = { Service = "logs.${var.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnEquals = { "kms:EncryptionContext:aws:logs:arn" = "arn:${var.partition}:logs:${var.region}:${var.account_id}:log-group:${local.log_group_name}" }
        }
      },
    ]
  })
  tags = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name_prefix}-audit"
  target_key_id = aws_kms_key.this.key_id
}

module "bucket" {
  source = "../encrypted-bucket"

  name        = local.bucket_name
  kms_key_arn = aws_kms_key.this.arn
  partition   = var.partition
  lifecycle_rules = {
    expire-after-retention = {
      expiration_days                        = var.retention_days
      noncurrent_version_expiration_days     = 30
      abort_incomplete_multipart_upload_days = 7
    }
  }
  policy_statements_json = jsonencode(concat(
    [
      {
        Sid       = "BedrockDeliversInvocationLogs"
        Effect    = "Allow"
        Principal = { Service = "bedrock.amazonaws.com" }
        Action    = "s3:PutObject"
        Resource  = "${local.bucket_arn}/${local.log_prefix}/AWSLogs/${var.account_id}/BedrockModelInvocationLogs/*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = var.account_id }
          ArnLike      = { "aws:SourceArn" = local.bedrock_source }
        }
      },
    ],
    local.cloudtrail_on ? [
      {
        Sid       = "CloudTrailChecksTheBucket"
        Effect    = "Allow"
        Principal = { Service = "cloudtrail.amazonaws.com" }
        Action    = "s3:GetBucketAcl"
        Resource  = local.bucket_arn
        Condition = { StringEquals = { "aws:SourceArn" = local.trail_arn } }
      },
      {
        Sid       = "CloudTrailDeliversTrail"
        Effect    = "Allow"
        Principal = { Service = "cloudtrail.amazonaws.com" }
        Action    = "s3:PutObject"
        Resource  = local.trail_object_arn
        Condition = { StringEquals = { "aws:SourceArn" = local.trail_arn, "s3:x-amz-acl" = "bucket-owner-full-control" } }
      },
    ] : [],
  ))
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

resource "aws_cloudwatch_log_group" "this" {
  count = local.cloudwatch_on ? 1 : 0

  name              = local.log_group_name
  retention_in_days = var.retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

# Bedrock writes to CloudWatch Logs with a role it assumes (S3 delivery uses the bucket policy instead).
resource "aws_iam_role" "cloudwatch_delivery" {
  count = local.cloudwatch_on ? 1 : 0

  name = "${var.name_prefix}-bedrock-invocation-logs"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "bedrock.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals = { "aws:SourceAccount" = var.account_id }
        ArnLike      = { "aws:SourceArn" = local.bedrock_source }
      }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "cloudwatch_delivery" {
  count = local.cloudwatch_on ? 1 : 0

  name = "write-invocation-logs"
  role = aws_iam_role.cloudwatch_delivery[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "WriteTheInvocationLogGroup"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = "arn:${var.partition}:logs:${var.region}:${var.account_id}:log-group:${local.log_group_name}:log-stream:*"
    }]
  })
}

resource "aws_bedrock_model_invocation_logging_configuration" "this" {
  logging_config {
    text_data_delivery_enabled      = var.deliver_text
    image_data_delivery_enabled     = var.deliver_images
    embedding_data_delivery_enabled = false
    video_data_delivery_enabled     = false

    dynamic "s3_config" {
      for_each = local.s3_delivery_on ? [1] : []
      content {
        bucket_name = module.bucket.name
        key_prefix  = local.log_prefix
      }
    }

    dynamic "cloudwatch_config" {
      for_each = local.cloudwatch_on ? [1] : []
      content {
        log_group_name = aws_cloudwatch_log_group.this[0].name
        role_arn       = aws_iam_role.cloudwatch_delivery[0].arn
      }
    }
  }

  depends_on = [module.bucket, aws_iam_role_policy.cloudwatch_delivery]
}

# The Data Catalog's metadata encrypted with the module's key (the billing account's is, by cur-export).
# One setting per account and Region: manage_catalog_encryption = false where something else owns it.
resource "aws_glue_data_catalog_encryption_settings" "this" {
  count = var.manage_catalog_encryption ? 1 : 0

  catalog_id = var.account_id

  data_catalog_encryption_settings {
    encryption_at_rest {
      catalog_encryption_mode = "SSE-KMS"
      sse_aws_kms_key_id      = aws_kms_key.this.arn
    }

    connection_password_encryption {
      return_connection_password_encrypted = true
      aws_kms_key_id                       = aws_kms_key.this.arn
    }
  }
}

resource "aws_glue_catalog_database" "this" {
  name        = local.glue_database
  description = "Bedrock model invocation logs of ${var.account_id} (Cost Sentry requests report)"
  tags        = var.tags
}

resource "aws_glue_catalog_table" "invocations" {
  name          = "bedrock_invocations"
  database_name = aws_glue_catalog_database.this.name
  description   = "One row per Bedrock invocation; requestmetadata carries the gateway's tenantId, user and requestId. Partitioned by delivery hour (partition projection, no crawler)."
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    classification                  = "json"
    EXTERNAL                        = "TRUE"
    "projection.enabled"            = "true"
    "projection.hour.type"          = "date"
    "projection.hour.format"        = "yyyy/MM/dd/HH"
    "projection.hour.range"         = "2026/01/01/00,NOW"
    "projection.hour.interval"      = "1"
    "projection.hour.interval.unit" = "HOURS"
    "storage.location.template"     = "s3://${local.bucket_name}/${local.invocation_logs}/$${hour}"
  }

  partition_keys {
    name = "hour"
    type = "string"
  }

  storage_descriptor {
    location      = "s3://${local.bucket_name}/${local.invocation_logs}/"
    input_format  = "org.apache.hadoop.mapred.TextInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"

    ser_de_info {
      serialization_library = "org.openx.data.jsonserde.JsonSerDe"
      parameters            = { "ignore.malformed.json" = "true" }
    }

    dynamic "columns" {
      for_each = local.log_columns
      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }
}

resource "aws_cloudtrail" "this" {
  #checkov:skip=CKV_AWS_252:Nothing consumes per-file delivery notifications; alarms come from the gateway's metrics.
  #checkov:skip=CKV2_AWS_10:The trail is read from S3 (Athena) as evidence; a CloudWatch Logs copy would double the cost of every event.
  count = local.cloudtrail_on ? 1 : 0

  name                          = local.trail_name
  s3_bucket_name                = module.bucket.name
  s3_key_prefix                 = local.trail_prefix
  kms_key_id                    = aws_kms_key.this.arn
  is_multi_region_trail         = true
  include_global_service_events = true # IAM and STS (AssumeRole of the invoker roles)
  enable_log_file_validation    = true

  advanced_event_selector {
    name = "Management events: Bedrock calls, AssumeRole, configuration"
    field_selector {
      field  = "eventCategory"
      equals = ["Management"]
    }
  }

  dynamic "advanced_event_selector" {
    for_each = toset(var.cloudtrail.bedrock_data_event_types)
    content {
      name = "Data events: ${advanced_event_selector.value}"
      field_selector {
        field  = "eventCategory"
        equals = ["Data"]
      }
      field_selector {
        field  = "resources.type"
        equals = [advanced_event_selector.value]
      }
    }
  }

  tags       = var.tags
  depends_on = [module.bucket]
}
