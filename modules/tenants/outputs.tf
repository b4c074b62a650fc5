output "tenants" {
  description = "Tenant id -> the normalized tenant: every default applied, the derived names (budget.name, api_key_name, usage_plan_name, invoker_role_name, profile_names), the effective model_aliases, budget.shards resolved, and config_json (the runtime config document the gateway completes and writes)."
  value = {
    for tenant_id, tenant in local.tenants : tenant_id => merge(tenant, {
      config      = local.config_documents[tenant_id]
      config_json = jsonencode(local.config_documents[tenant_id])
    })
  }
}

output "application_ids" {
  description = "The tenants' applicationId values (sorted): the cost allocation tag values of their spend."
  value       = sort([for tenant in values(local.tenants) : tenant.application_id])
}

output "tenant_id_pattern" {
  description = "The regular expression every tenant id matches."
  value       = local.tenant_id_pattern
}
