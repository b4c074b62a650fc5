module "tenants" {
  source = "../../../tenants"

  name_prefix  = "cost-sentry"
  environment  = "prod"
  known_models = keys(jsondecode(file("${path.module}/../../../../lambda_src/cost_sentry/data/models.json")).models)
  tenants = {
    sales = {
      application_id = "sales-assistant"
      cost_center    = "sales"
      models         = ["claude-3-haiku", "nova-micro"]
      budget         = { limit_usd = 50 }
      limits         = { requests_per_minute = 600 }
    }
    support = {
      application_id = "support-bot"
      cost_center    = "support"
      models         = ["nova-micro"]
      budget         = { limit_usd = 5, period = "DAILY", block_at_actual = 100 }
    }
  }
}

module "budgets" {
  source = "../.."

  name_prefix  = "cost-sentry"
  account_id   = "111111111111"
  tenants      = module.tenants.tenants
  alert_emails = ["finops@example.com"]
}
