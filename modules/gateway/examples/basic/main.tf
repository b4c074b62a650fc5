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

# Complete: the profiles and the budgets' topic the gateway needs come from their own modules.
module "inference_profiles" {
  source = "../../../inference-profiles"

  name_prefix   = "cost-sentry"
  region        = "us-east-1"
  account_id    = "111111111111"
  model_catalog = jsondecode(file("${path.module}/../../../../lambda_src/cost_sentry/data/models.json")).models
  tenants       = module.tenants.tenants
}

module "budgets" {
  source = "../../../budgets"

  name_prefix = "cost-sentry"
  account_id  = "111111111111"
  tenants     = module.tenants.tenants
}

module "gateway" {
  source = "../.."

  name_prefix           = "cost-sentry"
  account_id            = "111111111111"
  region                = "us-east-1"
  tenants               = module.tenants.tenants
  profile_arns          = module.inference_profiles.profile_arns
  underlying_model_arns = module.inference_profiles.underlying_model_arns
  budget_name_prefix    = "cost-sentry"
  budget_topic_arn      = module.budgets.topic_arn
  per_user_sessions     = true
  lambda_package = {
    filename         = "${path.module}/../../../../build/lambda/cost_sentry.zip"
    source_code_hash = filebase64sha256("${path.module}/../../../../build/lambda/cost_sentry.zip")
  }
}
