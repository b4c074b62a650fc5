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
    }
    support = {
      application_id = "support-bot"
      cost_center    = "support"
      models         = ["nova-micro"]
      budget         = { limit_usd = 5, period = "DAILY" }
    }
  }
}

module "sagemaker_endpoints" {
  source = "../.."

  name_prefix = "cost-sentry"
  account_id  = "111111111111"
  region      = "us-east-1"
  tenants     = module.tenants.tenants

  dedicated_endpoints = {
    forecaster = { tenant = "sales", model_name = "sales-forecaster", instance_type = "ml.m5.large" }
  }
  shared_endpoints = {
    "shared-llm" = {
      model_name             = "llama-3-1-8b-instruct"
      instance_type          = "ml.g5.xlarge"
      tenants                = ["sales", "support"]
      input_per_million_usd  = "0.20"
      output_per_million_usd = "0.80"
      max_output_tokens      = 2048
    }
  }
}

