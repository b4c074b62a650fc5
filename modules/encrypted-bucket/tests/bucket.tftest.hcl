# Every setting the callers (cur-export, invocation-logging) relied on when each wrote its own bucket,
# and each refused input next to one that fits.

variables {
  name        = "cs-logs-111111111111"
  kms_key_arn = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  lifecycle_rules = {
    expire-overwritten-versions = { noncurrent_version_expiration_days = 90, abort_incomplete_multipart_upload_days = 7 }
    expire-athena-results       = { prefix = "athena-results/", expiration_days = 30 }
  }
  policy_statements_json = "[{\"Sid\":\"BedrockDelivers\",\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"bedrock.amazonaws.com\"},\"Action\":\"s3:PutObject\",\"Resource\":\"arn:aws:s3:::cs-logs-111111111111/bedrock/*\"}]"
}

run "private_versioned_and_encrypted_with_the_callers_key" {
  command = plan

  assert {
    condition = alltrue([
      aws_s3_bucket_public_access_block.this.block_public_acls,
      aws_s3_bucket_public_access_block.this.block_public_policy,
      aws_s3_bucket_public_access_block.this.ignore_public_acls,
      aws_s3_bucket_public_access_block.this.restrict_public_buckets,
      output.public_access_blocked,
    ])
    error_message = "Every public access setting is blocked."
  }

  assert {
    condition     = one(aws_s3_bucket_ownership_controls.this.rule).object_ownership == "BucketOwnerEnforced" && aws_s3_bucket_versioning.this.versioning_configuration[0].status == "Enabled"
    error_message = "ACLs are off (bucket owner enforced) and versioning is on."
  }

  assert {
    condition = output.encryption == {
      sse_algorithm      = "aws:kms"
      kms_master_key_id  = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
      bucket_key_enabled = true
    }
    error_message = "SSE-KMS with the caller's key, bucket key on."
  }

  assert {
    condition     = output.name == "cs-logs-111111111111" && aws_s3_bucket.this.bucket == "cs-logs-111111111111"
    error_message = "The bucket is named as asked."
  }
}

run "lifecycle_rules_in_key_order_with_only_the_actions_given" {
  command = plan

  assert {
    condition     = [for rule in output.lifecycle_rules : rule.id] == ["expire-athena-results", "expire-overwritten-versions"] && alltrue([for rule in output.lifecycle_rules : rule.status == "Enabled"])
    error_message = "One enabled rule per key, in key order."
  }

  assert {
    condition = alltrue([
      one(output.lifecycle_rules[0].filter).prefix == "athena-results/",
      one(output.lifecycle_rules[0].expiration).days == 30,
      length(output.lifecycle_rules[0].noncurrent_version_expiration) == 0,
      length(output.lifecycle_rules[0].abort_incomplete_multipart_upload) == 0,
    ])
    error_message = "A prefix rule expires current objects under the prefix and does nothing else."
  }

  assert {
    condition = alltrue([
      length(output.lifecycle_rules[1].expiration) == 0,
      one(output.lifecycle_rules[1].noncurrent_version_expiration).noncurrent_days == 90,
      one(output.lifecycle_rules[1].abort_incomplete_multipart_upload).days_after_initiation == 7,
    ])
    error_message = "A rule without a prefix expires noncurrent versions and aborted uploads only."
  }
}

run "insecure_transport_is_denied_before_the_callers_statements" {
  command = plan

  assert {
    condition = jsondecode(output.policy).Statement[0] == {
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = ["arn:aws:s3:::cs-logs-111111111111", "arn:aws:s3:::cs-logs-111111111111/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }
    error_message = "The first statement denies every request without TLS, on the bucket and its objects."
  }

  assert {
    condition     = length(jsondecode(output.policy).Statement) == 2 && jsondecode(output.policy).Statement[1].Sid == "BedrockDelivers" && jsondecode(output.policy).Statement[1].Principal.Service == "bedrock.amazonaws.com"
    error_message = "The caller's statements follow, unchanged."
  }
}

run "without_statements_only_the_deny" {
  command = plan

  variables {
    policy_statements_json = "[]"
  }

  assert {
    condition     = [for s in jsondecode(output.policy).Statement : s.Sid] == ["DenyInsecureTransport"]
    error_message = "With no caller statements the policy is the deny alone."
  }
}

run "a_63_character_name_fits" {
  command = plan

  variables {
    name = "a23456789-123456789-123456789-123456789-123456789-123456789-123"
  }

  assert {
    condition     = length(output.name) == 63
    error_message = "63 characters is the longest bucket name S3 takes."
  }
}

run "a_64_character_name_is_refused" {
  command = plan

  variables {
    name = "a23456789-123456789-123456789-123456789-123456789-123456789-1234"
  }

  expect_failures = [var.name]
}

run "an_uppercase_name_is_refused" {
  command = plan

  variables {
    name = "Cost-Sentry-Logs"
  }

  expect_failures = [var.name]
}

run "a_key_alias_is_refused" {
  command = plan

  variables {
    kms_key_arn = "alias/aws/s3"
  }

  expect_failures = [var.kms_key_arn]
}

run "no_lifecycle_rule_is_refused" {
  command = plan

  variables {
    lifecycle_rules = {}
  }

  expect_failures = [var.lifecycle_rules]
}

run "a_whole_bucket_rule_that_keeps_abandoned_uploads_is_refused" {
  command = plan

  variables {
    lifecycle_rules = {
      expire-overwritten-versions  = { noncurrent_version_expiration_days = 90 }
      abort-uploads-under-a-prefix = { prefix = "logs/", abort_incomplete_multipart_upload_days = 7 }
    }
  }

  expect_failures = [var.lifecycle_rules]
}

run "a_rule_without_an_action_is_refused" {
  command = plan

  variables {
    lifecycle_rules = {
      expire-overwritten-versions = { noncurrent_version_expiration_days = 90, abort_incomplete_multipart_upload_days = 7 }
      keep-everything             = { prefix = "logs/" }
    }
  }

  expect_failures = [var.lifecycle_rules]
}

run "zero_days_is_refused" {
  command = plan

  variables {
    lifecycle_rules = {
      expire-overwritten-versions = { noncurrent_version_expiration_days = 90, abort_incomplete_multipart_upload_days = 7 }
      expire-at-once              = { prefix = "tmp/", expiration_days = 0 }
    }
  }

  expect_failures = [var.lifecycle_rules]
}

run "one_day_fits" {
  command = plan

  variables {
    lifecycle_rules = {
      expire-overwritten-versions = { noncurrent_version_expiration_days = 1, abort_incomplete_multipart_upload_days = 1 }
      expire-next-day             = { prefix = "tmp/", expiration_days = 1 }
    }
  }

  assert {
    condition     = one(output.lifecycle_rules[0].expiration).days == 1 && one(output.lifecycle_rules[1].noncurrent_version_expiration).noncurrent_days == 1 && one(output.lifecycle_rules[1].abort_incomplete_multipart_upload).days_after_initiation == 1
    error_message = "One day is the shortest period S3 takes."
  }
}

run "statements_that_are_not_a_list_are_refused" {
  command = plan

  variables {
    policy_statements_json = "{\"Sid\":\"One\",\"Effect\":\"Allow\"}"
  }

  expect_failures = [var.policy_statements_json]
}

run "a_statement_reusing_the_modules_sid_is_refused" {
  command = plan

  variables {
    policy_statements_json = "[{\"Sid\":\"DenyInsecureTransport\",\"Effect\":\"Allow\"}]"
  }

  expect_failures = [var.policy_statements_json]
}
