output "tag_keys" {
  description = "The tag keys managed here (sorted)."
  value       = sort(tolist(local.tag_keys))
}

output "statuses" {
  description = "Tag key -> activation status."
  value       = { for key, tag in aws_ce_cost_allocation_tag.this : key => tag.status }
}
