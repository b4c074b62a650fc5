module "anomaly_detection" {
  source = "../.."

  name       = "cost-sentry-tenants"
  account_id = "111111111111"
  monitor = {
    kind       = "cost_allocation_tag"
    tag_key    = "applicationId"
    tag_values = ["sales-assistant", "support-bot"]
  }
  frequency         = "IMMEDIATE"
  threshold         = { absolute_usd = 10 }
  email_subscribers = ["finops@example.com"]
}
