locals {
  # The CUR 2.0 columns the reports, the FOCUS 1.2 export and the Cloud Intelligence Dashboards read.
  # The export selects exactly these and the Glue table declares exactly these, so the two cannot drift
  # apart. cid-cmd 4.4.18 (make dashboards) needs its CUR 2.0 columns (`default_columns['2']` of
  # cid/helpers/cur_proxy.py; tests/cli/dashboards checks the list against the installed tool).
  cur_columns = [
    { name = "identity_line_item_id", type = "string" },
    { name = "identity_time_interval", type = "string" },
    { name = "bill_bill_type", type = "string" },
    { name = "bill_billing_entity", type = "string" },
    { name = "bill_billing_period_end_date", type = "timestamp" },
    { name = "bill_billing_period_start_date", type = "timestamp" },
    { name = "bill_invoice_id", type = "string" },
    { name = "bill_invoicing_entity", type = "string" },
    { name = "bill_payer_account_id", type = "string" },
    { name = "bill_payer_account_name", type = "string" },
    { name = "line_item_availability_zone", type = "string" },
    { name = "line_item_currency_code", type = "string" },
    { name = "line_item_legal_entity", type = "string" },
    { name = "line_item_line_item_description", type = "string" },
    { name = "line_item_usage_account_id", type = "string" },
    { name = "line_item_usage_account_name", type = "string" },
    { name = "line_item_line_item_type", type = "string" },
    { name = "line_item_usage_start_date", type = "timestamp" },
    { name = "line_item_usage_end_date", type = "timestamp" },
    { name = "line_item_product_code", type = "string" },
    { name = "line_item_usage_type", type = "string" },
    { name = "line_item_operation", type = "string" },
    { name = "line_item_resource_id", type = "string" },
    { name = "line_item_usage_amount", type = "double" },
    { name = "line_item_unblended_rate", type = "string" },
    { name = "line_item_unblended_cost", type = "double" },
    { name = "line_item_net_unblended_cost", type = "double" },
    { name = "line_item_iam_principal", type = "string" },
    { name = "pricing_lease_contract_length", type = "string" },
    { name = "pricing_offering_class", type = "string" },
    { name = "pricing_public_on_demand_cost", type = "double" },
    { name = "pricing_public_on_demand_rate", type = "string" },
    { name = "pricing_purchase_option", type = "string" },
    { name = "pricing_term", type = "string" },
    { name = "pricing_unit", type = "string" },
    { name = "product", type = "map<string,string>" },
    { name = "product_from_location", type = "string" },
    { name = "product_instance_type", type = "string" },
    { name = "product_product_family", type = "string" },
    { name = "product_region_code", type = "string" },
    { name = "product_servicecode", type = "string" },
    { name = "product_sku", type = "string" },
    { name = "product_to_location", type = "string" },
    { name = "reservation_amortized_upfront_fee_for_billing_period", type = "double" },
    { name = "reservation_effective_cost", type = "double" },
    { name = "reservation_end_time", type = "string" },
    { name = "reservation_reservation_a_r_n", type = "string" },
    { name = "reservation_start_time", type = "string" },
    { name = "reservation_unused_amortized_upfront_fee_for_billing_period", type = "double" },
    { name = "reservation_unused_recurring_fee", type = "double" },
    { name = "savings_plan_amortized_upfront_commitment_for_billing_period", type = "double" },
    { name = "savings_plan_end_time", type = "string" },
    { name = "savings_plan_offering_type", type = "string" },
    { name = "savings_plan_payment_option", type = "string" },
    { name = "savings_plan_purchase_term", type = "string" },
    { name = "savings_plan_savings_plan_a_r_n", type = "string" },
    { name = "savings_plan_savings_plan_effective_cost", type = "double" },
    { name = "savings_plan_start_time", type = "string" },
    { name = "savings_plan_total_commitment_to_date", type = "double" },
    { name = "savings_plan_used_commitment", type = "double" },
    { name = "resource_tags", type = "map<string,string>" },
  ]

  query_statement = "SELECT ${join(", ", [for c in local.cur_columns : c.name])} FROM COST_AND_USAGE_REPORT"

  # Every table property is set, BILLING_VIEW_ARN included: the API echoes the full map back, and a
  # partial map shows a perpetual diff that forces the export to be replaced (provider issues #43893, #43978).
  table_configurations = {
    COST_AND_USAGE_REPORT = {
      BILLING_VIEW_ARN                      = "arn:${var.partition}:billing::${var.account_id}:billingview/primary"
      INCLUDE_IAM_PRINCIPAL_DATA            = "TRUE"
      INCLUDE_MANUAL_DISCOUNT_COMPATIBILITY = var.include_manual_discount_compatibility ? "TRUE" : "FALSE"
      INCLUDE_RESOURCES                     = var.include_resources ? "TRUE" : "FALSE"
      INCLUDE_SPLIT_COST_ALLOCATION_DATA    = var.include_split_cost_allocation_data ? "TRUE" : "FALSE"
      TIME_GRANULARITY                      = var.time_granularity
    }
  }

  glue_database_name = "${replace(var.name_prefix, "-", "_")}_cur"
}

resource "aws_bcmdataexports_export" "this" {
  export {
    name        = local.export_name
    description = "CUR 2.0 with IAM principal data for Cost Sentry chargeback"

    data_query {
      query_statement      = local.query_statement
      table_configurations = local.table_configurations
    }

    destination_configurations {
      s3_destination {
        s3_bucket = module.bucket.name
        s3_prefix = var.s3_prefix
        s3_region = var.region

        s3_output_configurations {
          overwrite   = "OVERWRITE_REPORT"
          format      = "PARQUET"
          compression = "PARQUET"
          output_type = "CUSTOM"
        }
      }
    }

    refresh_cadence {
      frequency = "SYNCHRONOUS"
    }
  }

  tags = var.tags

  # Data Exports checks the bucket policy and encryption when the export is created.
  depends_on = [module.bucket]
}

# The Data Catalog's metadata (table definitions, connection passwords) encrypted with the module's key.
# One setting per account and Region: turn manage_catalog_encryption off where something else owns it.
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
  name        = local.glue_database_name
  description = "CUR 2.0 export ${local.export_name} for Cost Sentry reports"
  tags        = var.tags
}

resource "aws_glue_catalog_table" "this" {
  name          = "cur2"
  database_name = aws_glue_catalog_database.this.name
  description   = "CUR 2.0 line items; one partition per billing period, found by partition projection (no crawler)."
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    classification                            = "parquet"
    EXTERNAL                                  = "TRUE"
    "projection.enabled"                      = "true"
    "projection.billing_period.type"          = "date"
    "projection.billing_period.format"        = "yyyy-MM"
    "projection.billing_period.range"         = "${var.first_billing_period},NOW"
    "projection.billing_period.interval"      = "1"
    "projection.billing_period.interval.unit" = "MONTHS"
    "storage.location.template"               = "${local.data_location}/BILLING_PERIOD=$${billing_period}"
  }

  partition_keys {
    name = "billing_period"
    type = "string"
  }

  storage_descriptor {
    location      = "${local.data_location}/"
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    }

    dynamic "columns" {
      for_each = local.cur_columns
      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }
}

resource "aws_athena_workgroup" "this" {
  name        = "${var.name_prefix}-cur"
  description = "Cost Sentry chargeback queries over the CUR 2.0 export"

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    # A runaway query over years of hourly line items is stopped at 10 GB scanned.
    bytes_scanned_cutoff_per_query = 10 * 1024 * 1024 * 1024

    result_configuration {
      output_location = "s3://${module.bucket.name}/${local.results_key}/"

      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = aws_kms_key.this.arn
      }
    }
  }

  tags = var.tags
}
