# Variables of every test file of this module (terraform test reads the tests folder's terraform.tfvars);
# a run block overrides what it needs.
name_prefix        = "cs"
known_models       = ["claude-3-haiku", "claude-3-5-haiku", "nova-lite", "nova-micro", "claude-sonnet-4"]
account_id         = "111111111111"
region             = "us-east-1"
environment        = "prod"
budget_name_prefix = "cs"
budget_topic_arn   = "arn:aws:sns:us-east-1:111111111111:cs-budget-alerts"
lambda_package = {
  filename         = "cost_sentry.zip"
  source_code_hash = "0d+WDTW+XEECHEOW5iZZeh/d5OWuPbTvD6y6tcJUvkI="
}
tenants = {
  sales = {
    application_id = "sales-assistant"
    cost_center    = "sales"
    models         = ["claude-3-haiku", "nova-micro"]
    budget         = { limit_usd = 0.5 }
    limits         = { requests_per_minute = 600 }
  }
  services = {
    application_id = "services-copilot"
    cost_center    = "services"
    models         = ["claude-3-haiku", "claude-3-5-haiku", "nova-lite"]
    model_aliases  = { fast = "nova-lite" }
    budget         = { limit_usd = 1 }
  }
  support = {
    application_id = "support-bot"
    cost_center    = "support"
    environment    = "staging"
    models         = ["nova-micro", "nova-lite"]
    budget         = { limit_usd = 0.25, period = "DAILY", block_at_actual = 100 }
    limits         = { requests_per_minute = 300, tokens_per_period = 400000 }
  }
}
profile_arns = {
  sales = {
    "claude-3-haiku" = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/sales1"
    "nova-micro"     = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/sales2"
  }
  services = {
    "claude-3-haiku"   = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/svc1"
    "claude-3-5-haiku" = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/svc2"
    "nova-lite"        = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/svc3"
  }
  support = {
    "nova-micro" = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/sup1"
    "nova-lite"  = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/sup2"
  }
  legal = {
    "claude-sonnet-4" = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/legal1"
  }
}
underlying_model_arns = {
  sales    = ["arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0", "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0"]
  services = ["arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0", "arn:aws:bedrock:*::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0", "arn:aws:bedrock:us-east-1:111111111111:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0", "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0"]
  support  = ["arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0", "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0"]
  legal    = ["arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-4-20250514-v1:0"]
}
