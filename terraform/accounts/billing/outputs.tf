output "cur_bucket" {
  description = "Bucket the CUR 2.0 export is delivered to."
  value       = module.cur_export.bucket_name
}

output "cur_export_arn" {
  description = "ARN of the CUR 2.0 data export."
  value       = module.cur_export.export_arn
}

output "athena_workgroup" {
  description = "Athena workgroup of the chargeback queries."
  value       = module.cur_export.athena_workgroup
}

output "glue_table" {
  description = "Glue database.table over the export."
  value       = "${module.cur_export.glue_database}.${module.cur_export.glue_table}"
}

output "cost_allocation_tag_keys" {
  description = "Tag keys activated for cost allocation."
  value       = module.cost_allocation_tags.tag_keys
}

output "org_anomaly_monitor_arn" {
  description = "Organisation-wide service anomaly monitor."
  value       = module.org_anomaly_detection.monitor_arn
}

output "cur_region" {
  description = "Region of the CUR 2.0 export's Glue table and Athena workgroup (where make dashboards deploys QuickSight)."
  value       = var.region
}
