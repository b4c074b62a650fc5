# The tenant contract on its own: no provider, no resources. Its outputs feed the other modules.
module "tenants" {
  source = "../.."

  name_prefix  = "cost-sentry"
  environment  = "prod"
  known_models = keys(jsondecode(file("${path.module}/../../../../lambda_src/cost_sentry/data/models.json")).models)
  tenants = {
    legal = {
      application_id = "legal-review"
      cost_center    = "legal"
      models         = ["claude-sonnet-4"]
      budget         = { limit_usd = 2 }
      limits         = { requests_per_minute = 120 }
      users          = { default_limit_usd = 0.5, limits_usd = { alice = 1 } }
    }
  }
}

output "legal" {
  value = module.tenants.tenants["legal"]
}
