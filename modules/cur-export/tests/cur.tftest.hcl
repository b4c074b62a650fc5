variables {
  name_prefix = "cs"
  account_id  = "222222222222"
  region      = "us-east-1"
}

run "cur2_export_with_iam_principal_data_and_a_complete_table_configuration" {
  command = plan

  assert {
    condition = jsonencode(output.table_configurations.COST_AND_USAGE_REPORT) == jsonencode({
      BILLING_VIEW_ARN                      = "arn:aws:billing::222222222222:billingview/primary"
      INCLUDE_IAM_PRINCIPAL_DATA            = "TRUE"
      INCLUDE_MANUAL_DISCOUNT_COMPATIBILITY = "FALSE"
      INCLUDE_RESOURCES                     = "TRUE"
      INCLUDE_SPLIT_COST_ALLOCATION_DATA    = "FALSE"
      TIME_GRANULARITY                      = "HOURLY"
    })
    error_message = "Every table configuration key must be set (a partial map diffs forever)."
  }

  assert {
    condition     = strcontains(output.query_statement, "line_item_iam_principal") && strcontains(output.query_statement, "resource_tags") && endswith(output.query_statement, "FROM COST_AND_USAGE_REPORT")
    error_message = "The export selects the CUR 2.0 columns the reports need, IAM principal and tags included."
  }

  assert {
    condition = alltrue([
      aws_bcmdataexports_export.this.export[0].destination_configurations[0].s3_destination[0].s3_output_configurations[0].format == "PARQUET",
      aws_bcmdataexports_export.this.export[0].destination_configurations[0].s3_destination[0].s3_output_configurations[0].overwrite == "OVERWRITE_REPORT",
      aws_bcmdataexports_export.this.export[0].destination_configurations[0].s3_destination[0].s3_bucket == "cs-cur-222222222222",
    ])
    error_message = "Parquet, overwritten per period, into the module's bucket."
  }

  assert {
    condition = alltrue([
      aws_glue_data_catalog_encryption_settings.this[0].catalog_id == "222222222222",
      aws_glue_data_catalog_encryption_settings.this[0].data_catalog_encryption_settings[0].encryption_at_rest[0].catalog_encryption_mode == "SSE-KMS",
      aws_glue_data_catalog_encryption_settings.this[0].data_catalog_encryption_settings[0].connection_password_encryption[0].return_connection_password_encrypted,
    ])
    error_message = "The Glue Data Catalog is encrypted with KMS (metadata and connection passwords)."
  }

  assert {
    condition     = one(aws_glue_catalog_table.this.partition_keys).name == "billing_period" && jsonencode([for c in aws_glue_catalog_table.this.storage_descriptor[0].columns : c.name]) == jsonencode(split(", ", trimsuffix(trimprefix(output.query_statement, "SELECT "), " FROM COST_AND_USAGE_REPORT")))
    error_message = "The Glue table is partitioned by billing_period and declares every exported column, in the export's order."
  }

  assert {
    condition     = alltrue([for column in ["bill_payer_account_name", "bill_invoicing_entity", "pricing_public_on_demand_rate", "product_sku", "product", "savings_plan_savings_plan_effective_cost"] : contains(split(", ", trimsuffix(trimprefix(output.query_statement, "SELECT "), " FROM COST_AND_USAGE_REPORT")), column)])
    error_message = "The export delivers what the FOCUS 1.2 export and the Cloud Intelligence Dashboards read."
  }

  assert {
    condition     = aws_glue_catalog_table.this.parameters["storage.location.template"] == "s3://cs-cur-222222222222/cur2/cs-cur2/data/BILLING_PERIOD=$${billing_period}"
    error_message = "Partition projection must point at the export's BILLING_PERIOD folders."
  }

  assert {
    condition     = aws_athena_workgroup.this.configuration[0].enforce_workgroup_configuration && aws_athena_workgroup.this.configuration[0].result_configuration[0].encryption_configuration[0].encryption_option == "SSE_KMS"
    error_message = "Athena results are encrypted and the configuration enforced."
  }

  assert {
    condition     = module.bucket.encryption.sse_algorithm == "aws:kms" && module.bucket.public_access_blocked
    error_message = "The bucket is SSE-KMS and blocks public access."
  }

  assert {
    condition = alltrue([
      jsondecode(module.bucket.policy).Statement[0].Sid == "DenyInsecureTransport",
      jsondecode(module.bucket.policy).Statement[1].Sid == "BillingDeliversExports",
      jsondecode(module.bucket.policy).Statement[1].Resource == ["arn:aws:s3:::cs-cur-222222222222", "arn:aws:s3:::cs-cur-222222222222/*"],
      jsondecode(module.bucket.policy).Statement[1].Condition.StringEquals["aws:SourceAccount"] == "222222222222",
    ])
    error_message = "TLS only; the billing services deliver into the bucket for this account's exports only."
  }

  assert {
    condition     = [for rule in module.bucket.lifecycle_rules : rule.id] == ["expire-athena-results", "expire-overwritten-versions"] && one(module.bucket.lifecycle_rules[0].expiration).days == 30 && one(module.bucket.lifecycle_rules[1].noncurrent_version_expiration).noncurrent_days == 90
    error_message = "Athena results expire after query_results_retention_days, overwritten export versions after noncurrent_version_retention_days."
  }
}

run "a_bad_granularity_is_refused" {
  command = plan

  variables {
    time_granularity = "WEEKLY"
  }

  expect_failures = [var.time_granularity]
}
