module "observability" {
  source = "../.."

  name_prefix       = "cost-sentry"
  region            = "us-east-1"
  alarm_topic_arn   = "arn:aws:sns:us-east-1:111111111111:cost-sentry-alerts"
  metrics_namespace = "GenAIRateLimiting"
  profile_ids = {
    sales = { "claude-3-haiku" = "abc123def456" }
  }
  tenants = {
    sales = { cost_center = "sales", models = ["claude-3-haiku"], alarms = { tokens_per_hour = 500000 } }
  }
}
