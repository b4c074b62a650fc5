# Invocation logs to an encrypted bucket without prompt text by default, CloudWatch optional, a Glue table
# over the records, and an audit trail that an organization trail can replace.

variables {
  name_prefix = "cs"
  account_id  = "111111111111"
  region      = "us-east-1"
}

run "s3_delivery_without_text_and_a_trail_by_default" {
  command = plan

  assert {
    condition = alltrue([
      !aws_bedrock_model_invocation_logging_configuration.this.logging_config[0].text_data_delivery_enabled,
      !aws_bedrock_model_invocation_logging_configuration.this.logging_config[0].image_data_delivery_enabled,
      !aws_bedrock_model_invocation_logging_configuration.this.logging_config[0].embedding_data_delivery_enabled,
      aws_bedrock_model_invocation_logging_configuration.this.logging_config[0].s3_config[0].key_prefix == "bedrock",
      length(aws_bedrock_model_invocation_logging_configuration.this.logging_config[0].cloudwatch_config) == 0,
    ])
    error_message = "By default: S3 delivery under bedrock/, no prompt, completion, image or embedding data, no CloudWatch."
  }

  assert {
    condition     = module.bucket.name == "cs-audit-111111111111" && module.bucket.encryption.sse_algorithm == "aws:kms" && module.bucket.lifecycle_rules[0].expiration[0].days == 365 && aws_kms_key.this.enable_key_rotation
    error_message = "The bucket is KMS-encrypted (rotating key) and expires logs after retention_days."
  }

  assert {
    condition = alltrue([
      jsondecode(module.bucket.policy).Statement[1].Principal.Service == "bedrock.amazonaws.com",
      jsondecode(module.bucket.policy).Statement[1].Resource == "arn:aws:s3:::cs-audit-111111111111/bedrock/AWSLogs/111111111111/BedrockModelInvocationLogs/*",
      jsondecode(module.bucket.policy).Statement[1].Condition.StringEquals["aws:SourceAccount"] == "111111111111",
      jsondecode(module.bucket.policy).Statement[3].Condition.StringEquals["aws:SourceArn"] == "arn:aws:cloudtrail:us-east-1:111111111111:trail/cs-audit",
    ])
    error_message = "Only Bedrock (for this account) writes the invocation logs, only the module's trail writes the trail."
  }

  assert {
    condition = alltrue([
      aws_glue_catalog_table.invocations.storage_descriptor[0].ser_de_info[0].serialization_library == "org.openx.data.jsonserde.JsonSerDe",
      contains([for c in aws_glue_catalog_table.invocations.storage_descriptor[0].columns : c.name], "requestmetadata"),
      one([for c in aws_glue_catalog_table.invocations.storage_descriptor[0].columns : c.type if c.name == "requestmetadata"]) == "map<string,string>",
      aws_glue_catalog_table.invocations.parameters["storage.location.template"] == "s3://cs-audit-111111111111/bedrock/AWSLogs/111111111111/BedrockModelInvocationLogs/us-east-1/$${hour}",
    ])
    error_message = "The Glue table reads the JSON records with requestmetadata, partitioned by Bedrock's hourly folders."
  }

  assert {
    condition     = aws_glue_data_catalog_encryption_settings.this[0].catalog_id == "111111111111" && aws_glue_data_catalog_encryption_settings.this[0].data_catalog_encryption_settings[0].encryption_at_rest[0].catalog_encryption_mode == "SSE-KMS"
    error_message = "The workload account's Glue Data Catalog is KMS-encrypted too."
  }

  assert {
    condition     = length(aws_cloudtrail.this) == 1 && aws_cloudtrail.this[0].is_multi_region_trail && aws_cloudtrail.this[0].include_global_service_events && aws_cloudtrail.this[0].enable_log_file_validation && aws_cloudtrail.this[0].s3_key_prefix == "cloudtrail"
    error_message = "A multi-Region trail with global events (STS AssumeRole) and log file validation into the bucket."
  }

  assert {
    condition     = one(aws_cloudtrail.this[0].advanced_event_selector[0].field_selector).equals == tolist(["Management"])
    error_message = "The trail records management events (Bedrock Converse/InvokeModel, AssumeRole, configuration)."
  }
}

run "cloudwatch_delivery_text_on_request_and_an_organization_trail" {
  command = plan

  variables {
    destinations   = { s3 = false, cloudwatch = true }
    deliver_text   = true
    retention_days = 90
    cloudtrail     = { enabled = false }
  }

  assert {
    condition = alltrue([
      aws_bedrock_model_invocation_logging_configuration.this.logging_config[0].text_data_delivery_enabled,
      length(aws_bedrock_model_invocation_logging_configuration.this.logging_config[0].s3_config) == 0,
      aws_bedrock_model_invocation_logging_configuration.this.logging_config[0].cloudwatch_config[0].log_group_name == "/aws/bedrock/cs-invocations",
      aws_cloudwatch_log_group.this[0].retention_in_days == 90,
      jsondecode(aws_iam_role.cloudwatch_delivery[0].assume_role_policy).Statement[0].Principal.Service == "bedrock.amazonaws.com",
      jsondecode(aws_iam_role_policy.cloudwatch_delivery[0].policy).Statement[0].Resource == "arn:aws:logs:us-east-1:111111111111:log-group:/aws/bedrock/cs-invocations:log-stream:*",
    ])
    error_message = "CloudWatch delivery through a role only Bedrock assumes, writing only the group; text only when asked for."
  }

  assert {
    condition     = length(aws_cloudtrail.this) == 0 && length(jsondecode(module.bucket.policy).Statement) == 2
    error_message = "With an organization trail, no trail and no CloudTrail grant on the bucket."
  }
}

run "data_event_types_add_selectors" {
  command = plan

  variables {
    cloudtrail = { bedrock_data_event_types = ["AWS::Bedrock::Guardrail"] }
  }

  assert {
    condition     = length(aws_cloudtrail.this[0].advanced_event_selector) == 2
    error_message = "Each Bedrock data event type gets its own selector."
  }
}

run "no_destination_is_refused" {
  command = plan

  variables {
    destinations = { s3 = false, cloudwatch = false }
  }

  expect_failures = [var.destinations]
}
