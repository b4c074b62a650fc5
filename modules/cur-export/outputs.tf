output "bucket_name" {
  description = "Bucket the export is delivered to."
  value       = module.bucket.name
}

output "kms_key_arn" {
  description = "KMS key of the bucket and of the Athena results."
  value       = aws_kms_key.this.arn
}

output "export_arn" {
  description = "ARN of the CUR 2.0 data export."
  value       = aws_bcmdataexports_export.this.export[0].export_arn
}

output "query_statement" {
  description = "The export's SQL: the CUR 2.0 columns delivered."
  value       = local.query_statement
}

output "table_configurations" {
  description = "The export's complete table configuration map."
  value       = local.table_configurations
}

output "data_location" {
  description = "S3 location of the export's Parquet data (one BILLING_PERIOD=YYYY-MM folder per month)."
  value       = local.data_location
}

output "glue_database" {
  description = "Glue database holding the CUR table."
  value       = aws_glue_catalog_database.this.name
}

output "glue_table" {
  description = "Glue table over the export (partition column billing_period)."
  value       = aws_glue_catalog_table.this.name
}

output "athena_workgroup" {
  description = "Athena workgroup to run the reports in (results encrypted, configuration enforced)."
  value       = aws_athena_workgroup.this.name
}
